# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Retraining experiment: train, compare, read back from MLflow, promote
#
# For data scientists: does a new model configuration flag churners better than the current
# champion, on the same out-of-time test? Every run is tracked in MLflow; the registry keeps
# a `champion` (scores in production) and a `challenger`.
#
# | variable | default | meaning |
# | --- | --- | --- |
# | `CH_NOTEBOOK_OUT` | `notebook-output` | folder for the demo data |
# | `CH_ACCOUNTS` | `1000` | demo accounts |
# | `CH_MONTHS` | `18` | months of history |
# | `CH_SEED` | `7` | seed of the demo data |
# | `CH_EVERY` | `30` | days between observation dates |
# | `MLFLOW_TRACKING_URI` | `sqlite:///mlflow.db` in the working folder | the MLflow store |
# | `CH_EXPERIMENT` | `customer-health-notebook` | MLflow experiment |

# %%
import os
from pathlib import Path

import mlflow
import pandas as pd

from features.io import load_tables
from models.tracking import configure_mlflow, tracking_uri
from serving.demo import demo_parameters, ensure_demo_data

OUT = Path(os.environ.get("CH_NOTEBOOK_OUT", "notebook-output"))
ACCOUNTS = int(os.environ.get("CH_ACCOUNTS", "1000"))
MONTHS = int(os.environ.get("CH_MONTHS", "18"))
SEED = int(os.environ.get("CH_SEED", "7"))
EVERY = int(os.environ.get("CH_EVERY", "30"))
EXPERIMENT = os.environ.get("CH_EXPERIMENT", "customer-health-notebook")

ensure_demo_data(OUT / "data", demo_parameters(accounts=ACCOUNTS, months=MONTHS, seed=SEED))
tables, _ = load_tables(OUT / "data")
configure_mlflow(EXPERIMENT)
print("MLflow store:", tracking_uri())

# %% [markdown]
# ## One training set, one time split for every candidate
#
# Indicators at each observation date, labelled with churn in the next 90 days. Training
# uses the early dates, validation the next ones, and the latest labelled dates are the
# out-of-time test every model is compared on.

# %%
from models.training_set import build_training_set, time_split

training_set = build_training_set(tables, horizon=90, every=EVERY)
split = time_split(training_set)
print(f"{training_set.fingerprint['labelled_rows']:,} labelled rows, "
      f"churn base rate {training_set.fingerprint['churn_base_rate']:.1%}")
print("train", len(split.train), "valid", len(split.valid), "test", len(split.test))

# %% [markdown]
# ## Candidate 1: the default LightGBM, against both baselines

# %%
from models.trainer import train_from_training_set

default = train_from_training_set(training_set, split=split, seed=0, experiment=EXPERIMENT, run_name="default")
print(f"v{default.decision.version} -> @{default.decision.alias}: {default.decision.reason}")
default.comparison.round(3)

# %% [markdown]
# Is red really riskier than green? The health band's churn rate on the test dates:

# %%
print(default.band_contrast.get("text", "n/a (no health-score baseline on these columns)"))
default.by_band["health_band"]

# %% [markdown]
# ## Candidate 2: smaller, more regularised trees
#
# The registry's rule decides: it becomes champion only if its ROC AUC beats the champion's,
# re-scored on the same out-of-time window; otherwise it becomes challenger.

# %%
smaller = train_from_training_set(
    training_set, split=split, seed=0, experiment=EXPERIMENT, run_name="smaller-trees",
    lightgbm={"num_leaves": 7, "min_child_samples": 50, "n_estimators": 150},
)
print(f"v{smaller.decision.version} -> @{smaller.decision.alias}: {smaller.decision.reason}")
smaller.comparison.round(3)

# %% [markdown]
# ## Reading the runs back from MLflow
#
# Everything above is in the tracking store: parameters, the data fingerprint, every
# model's metrics, plots and evaluation tables. `mlflow ui --backend-store-uri <store>` shows
# the same runs.

# %%
runs = mlflow.search_runs(experiment_names=[EXPERIMENT], order_by=["attributes.start_time ASC"])
columns = ["run_id", "tags.mlflow.runName", "metrics.test_roc_auc", "metrics.test_pr_auc",
           "metrics.logistic_test_roc_auc", "metrics.health_score_test_roc_auc", "tags.promotion.alias",
           "params.data.inputs_sha256"]
runs[[c for c in columns if c in runs.columns]]

# %%
from models.registry import DEFAULT_MODEL_NAME, list_versions

versions = pd.DataFrame(list_versions(DEFAULT_MODEL_NAME))
versions[["version", "aliases", "test_roc_auc", "promotion_reason"]]

# %% [markdown]
# ## Promote one
#
# The best run on the out-of-time test, read back from MLflow, becomes champion. When it
# already is, nothing changes. Otherwise it is promoted the way `customer-health train
# --promote` does it: the alias moves and the version records why.

# %%
from mlflow import MlflowClient

ours = runs[runs["run_id"].isin([default.run_id, smaller.run_id])]
best = ours.sort_values("metrics.test_roc_auc", ascending=False).iloc[0]
best_version = next(v for v in list_versions(DEFAULT_MODEL_NAME) if v["run_id"] == best["run_id"])
client = MlflowClient(tracking_uri=tracking_uri(), registry_uri=tracking_uri())
if "champion" in best_version["aliases"]:
    print(f"v{best_version['version']} is already champion: nothing to promote")
else:
    reason = f"promoted from the retraining notebook: best out-of-time ROC AUC {best['metrics.test_roc_auc']:.4f}"
    client.set_registered_model_alias(DEFAULT_MODEL_NAME, "champion", best_version["version"])
    client.set_model_version_tag(DEFAULT_MODEL_NAME, best_version["version"], "promotion.reason", reason)
    print(f"v{best_version['version']} promoted: {reason}")
champion = client.get_model_version_by_alias(DEFAULT_MODEL_NAME, "champion")
print("champion is now version", champion.version)

# %% [markdown]
# The champion scores like any registered model: load it by alias and score the latest
# unlabelled rows.

# %%
from models.registry import load_model

model = load_model()
latest = split.unlabelled if len(split.unlabelled) else split.test
model.predict(latest.head(5))[["churn_probability", "risk_band"]]
