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
# # Portfolio metrics and the health scorecard on demo data
#
# What a customer-success team sees first: the portfolio's survey and customer-base metrics
# for the last quarter (with the numbers behind each one), how they move month by month, and
# the health score of every active account with the measures that pull it down.
#
# Everything here calls the `customer-health` package; the notebook only shows results.
# Parameters come from environment variables so the tests can run it on a small data set:
#
# | variable | default | meaning |
# | --- | --- | --- |
# | `CH_NOTEBOOK_OUT` | `notebook-output` | folder for the demo data |
# | `CH_ACCOUNTS` | `1000` | demo accounts |
# | `CH_MONTHS` | `18` | months of history |
# | `CH_SEED` | `7` | seed of the demo data |

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

data_dir = OUT / "data"
reused = ensure_demo_data(data_dir, demo_parameters(accounts=ACCOUNTS, months=MONTHS, seed=SEED))
tables, validation = load_tables(data_dir)
print(("reused" if reused else "wrote"), "demo data in", data_dir)
print({name: len(frame) for name, frame in tables.present().items()}, f"{len(validation.warnings)} warning(s)")

# %% [markdown]
# ## The last quarter against the one before
#
# `period_metrics` returns each metric as `{"value", "reason", ...components}`. An undefined
# metric has `value = None` and a reason, never 0.

# %%
from features.period_metrics import period_metrics
from models.training_set import data_span
from serving.report import report_period

_, end = data_span(tables)
(start, end), (previous_start, previous_end) = report_period(end, 3)
current = period_metrics(tables, start, end)
previous = period_metrics(tables, previous_start, previous_end)

headline = ["nps", "csat", "ces", "churn_rate", "retention_rate", "resolution_time", "first_response_time",
            "repeat_purchase_rate", "return_rate", "conversion_rate"]
pd.DataFrame({
    "this quarter": [current[k]["value"] for k in headline],
    "previous quarter": [previous[k]["value"] for k in headline],
    "unit": [current[k]["unit"] for k in headline],
    "reason when undefined": [current[k]["reason"] for k in headline],
}, index=headline).round(2)

# %% [markdown]
# NPS with its breakdown and margin of error: with a few hundred answers a move of a few
# points is within the noise.

# %%
nps = current["nps"]
{key: (round(value, 2) if isinstance(value, float) else value) for key, value in nps.items()}

# %% [markdown]
# ## NPS and CSAT by segment
#
# The same functions split by any accounts column. A segment without answers is undefined,
# not dropped.

# %%
by_segment = period_metrics(tables, start, end, by="segment")
pd.DataFrame({
    metric: {group: entry["value"] for group, entry in by_segment[metric]["groups"].items()}
    for metric in ("nps", "csat", "churn_rate")
}).round(1)

# %% [markdown]
# ## Month by month

# %%
from features.period_metrics import metrics_over_time

months = metrics_over_time(tables, end - pd.DateOffset(months=12), end, every="month")
trend = pd.DataFrame({
    "month": [pd.Timestamp(m["period"]["start"]) for m in months],
    "nps": [m["nps"]["value"] for m in months],
    "nps margin": [m["nps"]["margin_of_error"] for m in months],
    "csat %": [m["csat"]["value"] for m in months],
    "churn %": [m["churn_rate"]["value"] for m in months],
}).set_index("month")
trend.round(1)

# %%
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

fig, axes = plt.subplots(1, 3, figsize=(12, 3))
for ax, column in zip(axes, ["nps", "csat %", "churn %"]):
    trend[column].plot(ax=ax, marker="o", title=column)
fig.tight_layout()

# %% [markdown]
# ## Health scores of the active accounts
#
# Indicators as of the data end (only earlier rows count), then the default scorecard.

# %%
from features.health_score import score_accounts
from features.indicators import compute_indicators
from features.scorecard_config import load_scorecard

indicators = compute_indicators(tables, end)
scorecard = load_scorecard()
scores = score_accounts(indicators, scorecard)
print(f"{len(scores):,} active accounts as of {end:%Y-%m-%d}")
scores["health_band"].value_counts()

# %% [markdown]
# Bands by segment (share of the segment's accounts, %):

# %%
(pd.crosstab(indicators["segment"], scores["health_band"], normalize="index") * 100).round(1)

# %% [markdown]
# Group scores: which part of the relationship is weakest on average.

# %%
scores.filter(like="group_").describe().loc[["count", "mean", "50%"]].round(1)

# %% [markdown]
# The five lowest scores, with the measures that cost them the most points, in words:

# %%
from serving.report import driver_texts

worst = scores.dropna(subset=["health_score"]).nsmallest(5, "health_score")
pd.DataFrame({
    "score": worst["health_score"].round(1),
    "band": worst["health_band"],
    "what pulls it down": [" | ".join(driver_texts(d)) for d in worst["health_drivers"]],
})

# %%
fig, ax = plt.subplots(figsize=(8, 3))
colors = {band.label: band.color for band in scorecard.bands}
for band in scorecard.bands:
    ax.hist(scores.loc[scores["health_band"] == band.label, "health_score"], bins=range(0, 105, 5),
            color=colors[band.label], label=band.label)
ax.set_xlabel("health score")
ax.legend()
