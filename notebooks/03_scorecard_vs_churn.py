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
# # Does the health scorecard predict churn? And which weights would make it better?
#
# Scorecard weights are usually set by hand and never checked (Gainsight's own FAQ leaves
# them to manual tuning). Here we check the default scorecard against what actually
# happened: churn rate per band, and the score's ROC AUC as a churn predictor, on
# point-in-time snapshots (indicators as of each date, churn in the 90 days after it). Then
# we let the data suggest measure weights, fitted on the early dates and checked on the
# latest ones the suggestion never saw.
#
# | variable | default | meaning |
# | --- | --- | --- |
# | `CH_NOTEBOOK_OUT` | `notebook-output` | folder for the demo data |
# | `CH_ACCOUNTS` | `1000` | demo accounts |
# | `CH_MONTHS` | `18` | months of history |
# | `CH_SEED` | `7` | seed of the demo data |
# | `CH_EVERY` | `30` | days between observation dates |

# %%
import os
from pathlib import Path

import pandas as pd

from features.io import load_tables
from serving.demo import demo_parameters, ensure_demo_data

OUT = Path(os.environ.get("CH_NOTEBOOK_OUT", "notebook-output"))
ACCOUNTS = int(os.environ.get("CH_ACCOUNTS", "1000"))
MONTHS = int(os.environ.get("CH_MONTHS", "18"))
SEED = int(os.environ.get("CH_SEED", "7"))
EVERY = int(os.environ.get("CH_EVERY", "30"))

ensure_demo_data(OUT / "data", demo_parameters(accounts=ACCOUNTS, months=MONTHS, seed=SEED))
tables, _ = load_tables(OUT / "data")

# %% [markdown]
# ## Snapshots with known outcomes
#
# The same point-in-time training set the churn model is trained on, split by time.

# %%
from models.training_set import build_training_set, time_split

training_set = build_training_set(tables, horizon=90, every=EVERY)
split = time_split(training_set)
early = pd.concat([split.train, split.valid])  # fit the suggestion on these dates
late = split.test  # judge it on these
print(f"fit on {len(early):,} rows ({early['label'].mean():.1%} churned), "
      f"test on {len(late):,} rows ({late['label'].mean():.1%} churned)")

# %% [markdown]
# ## The default scorecard on the latest dates

# %%
from features.health_score import score_accounts
from features.scorecard_config import load_scorecard
from models.evaluation import churn_rate_by_band, roc_auc

scorecard = load_scorecard()
band_order = [band.label for band in scorecard.bands] + [scorecard.insufficient_label]


def judge(card, rows):
    """Churn rate by band and the score's ROC AUC on labelled rows."""
    scored = score_accounts(rows[training_set.feature_columns].reset_index(drop=True), card)
    labels = rows["label"].to_numpy()
    has_score = scored["health_score"].notna().to_numpy()
    auc = roc_auc(labels[has_score], (100 - scored["health_score"][has_score].to_numpy()) / 100)
    return scored, churn_rate_by_band(labels, scored["health_band"], order=band_order), auc, has_score.mean()


default_scores, default_bands, default_auc, coverage = judge(scorecard, late)
print(f"ROC AUC of the default health score: {default_auc:.3f} ({coverage:.0%} of rows have a score)")
default_bands.assign(churn_rate=lambda t: (100 * t["churn_rate"]).round(1))

# %% [markdown]
# Red should churn more than yellow, and yellow more than green. In numbers:

# %%
from models.evaluation import band_contrast

band_contrast(default_bands, scorecard.bands[0].label, scorecard.bands[-1].label)["text"]

# %% [markdown]
# ## Which measures carry the evidence?
#
# `models.weights.suggest_measure_weights` fits a logistic regression of churn on the
# measure scores. The health score is a weighted mean of measure scores, so this linear
# model is exactly the score's shape: its per-point coefficients are the weights that rank
# churners best. A measure whose higher score does not go with less churn gets weight 0 and
# a note. `roc_auc` is each measure on its own.
#
# `customer-health scorecard suggest` keeps a weight only for a measure whose coefficient is
# at least two standard errors above 0. With the 1,000 demo accounts of this notebook that
# rule can leave no measure at all, so here every measure with a positive coefficient keeps
# its share (`min_evidence=0`): read `evidence_z` to see how firm each one is.

# %%
from models.weights import suggest_measure_weights, weights_as_scorecard

early_scores = score_accounts(early[training_set.feature_columns].reset_index(drop=True), scorecard)
suggestion = suggest_measure_weights(
    early_scores.filter(like="measure_"), early["label"].reset_index(drop=True), scorecard=scorecard,
    min_evidence=0.0,
)
suggestion.round(3)

# %% [markdown]
# The suggestion as scorecard TOML keys (group weights, and measure weights within each
# group), ready to review and copy into a scorecard file:

# %%
weights_as_scorecard(suggestion)

# %% [markdown]
# ## Is the suggested scorecard better on dates it never saw?

# %%
from models.weights import apply_weights

reweighted = apply_weights(scorecard, suggestion)
worst, best = scorecard.bands[0].label, scorecard.bands[-1].label
_, new_bands, new_auc, new_coverage = judge(reweighted, late)
pd.DataFrame({
    "ROC AUC on the latest dates": [default_auc, new_auc],
    "rows with a score": [coverage, new_coverage],
    f"{worst} churn rate %": [100 * default_bands.loc[worst, "churn_rate"], 100 * new_bands.loc[worst, "churn_rate"]],
    f"{best} churn rate %": [100 * default_bands.loc[best, "churn_rate"], 100 * new_bands.loc[best, "churn_rate"]],
}, index=["default weights", "suggested weights"]).round(3)

# %% [markdown]
# Read this with care: the thresholds (what counts as poor and good) stay hand-set, and
# the suggestion only reweights. A weight that drops to 0 is a question for the team
# ("is this measure's threshold right?"), not an automatic change. The churn model
# (notebook 02) will usually rank better still; the scorecard's value is that every point
# of it can be explained to a customer.
