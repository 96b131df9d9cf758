"""Log a fit into the active MLflow run: parameters, provenance, metrics, tables, figures.

The metric keys are what stored runs, the ``models`` listing, the registry and the report
read: ``{model}_test_{metric}`` and ``test_{metric}`` for the chosen model, ``valid_roc_auc``,
``{band kind}_churn_rate_{band}``; for flat tables ``{model}_cv_{metric}`` and
``oof_calibrated_brier`` / ``oof_calibrated_log_loss``. Undefined (NaN) metrics are left out
and tagged ``undefined.<key>`` with the reason instead. Tables go to ``evaluation/`` as CSV
(for people) and JSON (for the MLflow UI), figures (:mod:`models.plots`) to ``plots/``.
"""

from __future__ import annotations

import math

import mlflow
import pandas as pd

from features.values import finite_numbers
from models import evaluation as ev
from models import plots
from models.estimators import LIGHTGBM_DEFAULTS, LOGISTIC_DEFAULTS
from models.explain import mean_absolute_contribution
from models.fit import CHOSEN, FittedModels, FlatTableFit, TimeSplitFit
from models.flat_table import FlatTable
from models.tracking import log_provenance
from models.training_config import TrainingConfig
from models.training_set import Split, TrainingSet

# Feature importance (SHAP) is computed on at most this many evaluated rows.
IMPORTANCE_ROWS = 5000
BAND_PLOT_TITLES = {"health_band": "Churn rate by health band",
                    "risk_band": "Churn rate by risk band"}
RISK_BAND_COLORS = {"high": "#d62728", "medium": "#f2b701", "low": "#2ca02c"}


def log_results(prefix: str, result: dict) -> None:
    """An :func:`models.evaluation.evaluate` result as metrics ``prefix + name``.

    Undefined metrics are tagged ``undefined.<prefix><name>`` with the reason.
    """
    mlflow.log_metrics(finite_numbers({f"{prefix}{k}": v for k, v in result.items()
                                       if k not in ("undefined", "by_band")}))
    for metric, reason in result.get("undefined", {}).items():
        mlflow.set_tag(f"undefined.{prefix}{metric}", reason)


def log_table(table: pd.DataFrame, name: str) -> None:
    """An evaluation table as CSV (for people) and as an MLflow table (for the UI)."""
    frame = table.reset_index()
    mlflow.log_text(frame.to_csv(index=False), f"evaluation/{name}.csv")
    mlflow.log_table(frame, f"evaluation/{name}.json")


def lightgbm_params(config: TrainingConfig) -> dict:
    """The LightGBM parameters a run used: defaults, the config's overrides, the seed.

    Examples
    --------
    >>> params = lightgbm_params(TrainingConfig(seed=3, lightgbm={"num_leaves": 7}))
    >>> params["num_leaves"], params["random_state"], params["n_estimators"] == LIGHTGBM_DEFAULTS["n_estimators"]
    (7, 3, True)
    """
    return {**LIGHTGBM_DEFAULTS, **config.lightgbm, "random_state": config.seed}


def _span(dates) -> str:
    dates = sorted(dates)
    if not dates:
        return "none"
    return f"{pd.Timestamp(dates[0]):%Y-%m-%d}..{pd.Timestamp(dates[-1]):%Y-%m-%d}"


def _features_params(fit: FittedModels) -> dict:
    return {"used": len(fit.features), "categorical": ", ".join(fit.categorical) or "none",
            "unused": "; ".join(f"{c} ({why})" for c, why in fit.dropped.items()) or "none"}


def _band_colors(fit: FittedModels) -> dict:
    colors = dict(RISK_BAND_COLORS)
    score_model = getattr(fit, "score_model", None)
    if score_model is not None:
        card = score_model.resolved_scorecard()
        colors.update({b.label: b.color for b in card.bands})
        colors[card.insufficient_label] = "grey"
    return colors


def log_warnings(warnings) -> None:
    """Warnings about the data or the model as tags ``warning.1``, ``warning.2``, ..."""
    mlflow.set_tags({f"warning.{i}": text for i, text in enumerate(warnings, start=1)})


def log_capacity(fit: FittedModels) -> None:
    """How the tree size was chosen (its parameters are among ``lightgbm.*``), and the
    candidates tried."""
    mlflow.set_tag("capacity", fit.capacity.text)
    if len(fit.capacity.candidates):
        log_table(fit.capacity.candidates.rename_axis("candidate"), "capacity_candidates")


def log_evaluation(fit: FittedModels) -> None:
    """The figures and tables every run has: ROC, PR, reliability, importance, churn by band."""
    log_capacity(fit)
    y, probas = fit.y, fit.probas
    plot = mlflow.log_figure
    plot(plots.plot_roc(y, probas), "plots/roc.png")
    plot(plots.plot_pr(y, probas), "plots/pr.png")
    reliability = {k: v for k, v in probas.items() if k != "health_score"}
    plot(plots.plot_reliability(y, reliability), "plots/reliability.png")
    X = fit.X
    sample = X if len(X) <= IMPORTANCE_ROWS else X.sample(IMPORTANCE_ROWS, random_state=0)
    importance = mean_absolute_contribution(fit.lightgbm, sample)
    log_table(importance.rename("mean_abs_shap").to_frame().rename_axis("feature"),
              "feature_importance")
    plot(plots.plot_importance(importance), "plots/feature_importance.png")
    plot(plots.plot_churn_by_band({BAND_PLOT_TITLES[k]: v for k, v in fit.by_band.items()},
                                  colors=_band_colors(fit)),
         "plots/churn_rate_by_band.png")
    log_table(ev.reliability_table(y, probas[CHOSEN]).rename_axis("decile"), "reliability")


def log_time_split_run(fit: TimeSplitFit, ts: TrainingSet, split: Split, config: TrainingConfig,
                       *, extra_params: dict | None = None) -> None:
    """Log an out-of-time fit into the active run.

    Parameters
    ----------
    fit : TimeSplitFit
    ts : TrainingSet
        For the data fingerprint.
    split : Split
        For the dates and row counts of each part.
    config : TrainingConfig
    extra_params : dict, optional
        More parameters to log (e.g. the experiment's search settings).
    """
    thresholds = fit.thresholds
    log_provenance(seed=config.seed, fingerprint=ts.fingerprint, params={
        "mode": "tables",
        "chosen_model": CHOSEN,
        "lightgbm": {**lightgbm_params(config), **fit.capacity.params},
        "logistic": {**LOGISTIC_DEFAULTS, "random_state": config.seed,
                     "preprocessing": "median impute + indicator, scale; one-hot categoricals"},
        "health_score_baseline": fit.score_note,
        "calibration": config.calibration,
        "risk_band_thresholds": {"high": thresholds[0], "medium": thresholds[1]},
        "split": {
            "train_dates": f"{_span(split.train_dates)} ({len(split.train_dates)})",
            "valid_dates": f"{_span(split.valid_dates)} ({len(split.valid_dates)})",
            "test_dates": f"{_span(split.test_dates)} ({len(split.test_dates)})",
            "dropped_dates": len(split.dropped_dates),
            "rows": {"train": len(split.train), "valid": len(split.valid),
                     "test": len(split.test), "unlabelled": len(split.unlabelled)},
        },
        "features": _features_params(fit),
        # What scoring compares with its as-of date (models.model_check).
        "test_window_end": ts.window_end(max(split.test_dates)).isoformat(),
        **(extra_params or {}),
    })
    for name, result in fit.results.items():
        log_results(f"{name}_test_", result)
    log_results("test_", fit.results[CHOSEN])
    mlflow.log_metric("valid_roc_auc", fit.results[CHOSEN]["valid_roc_auc"])
    for band_kind, table in fit.by_band.items():
        mlflow.log_metrics(finite_numbers({
            f"{band_kind}_churn_rate_{label}".replace(" ", "_"): rate
            for label, rate in table["churn_rate"].items()
        }))
        log_table(table, f"churn_rate_by_{band_kind}")
    contrast = fit.band_contrast
    if contrast:
        mlflow.set_tag("health_band_contrast", contrast["text"])
        if math.isfinite(contrast.get("ratio", math.nan)):
            mlflow.log_metric("health_band_churn_ratio_riskiest_vs_safest", contrast["ratio"])
    log_table(fit.comparison, "comparison")
    log_selection(fit.selection)
    log_evaluation(fit)


def log_selection(selection) -> None:
    """Which indicators the model kept and why (the dropped columns are also in
    ``features.unused``): tag ``input_selection``, table ``evaluation/input_selection.csv``."""
    if selection is None:
        return
    mlflow.set_tag("input_selection", selection.text)
    if len(selection.indicators):
        log_table(selection.indicators, "input_selection")


def log_flat_table_run(fit: FlatTableFit, table: FlatTable, config: TrainingConfig) -> None:
    """Log a flat table's cross-validated fit into the active run.

    The chosen model's cross-validated means are also logged as ``test_*``, the keys the
    registry and the ``models`` listing read for every run.
    """
    thresholds = fit.thresholds
    log_provenance(seed=config.seed, fingerprint=table.fingerprint, params={
        "mode": "flat table",
        "chosen_model": CHOSEN,
        "lightgbm": {**lightgbm_params(config), **fit.capacity.params},
        "logistic": {**LOGISTIC_DEFAULTS, "random_state": config.seed},
        "calibration": f"{config.calibration} on out-of-fold probabilities",
        "folds": config.folds,
        "label": table.label, "positive": table.positive,
        "id_column": config.id_column or "none",
        "risk_band_thresholds": {"high": thresholds[0], "medium": thresholds[1]},
        "features": _features_params(fit),
    })
    summary = fit.summary
    for name in fit.comparison.index:
        mlflow.log_metrics(finite_numbers({f"{name}_cv_{k}": v
                                           for k, v in summary.loc[name].items()}))
    mlflow.log_metrics(finite_numbers({f"test_{k}": v for k, v in summary.loc[CHOSEN].items()}))
    mlflow.log_metrics(finite_numbers({"oof_calibrated_brier": fit.calibrated["brier"],
                                       "oof_calibrated_log_loss": fit.calibrated["log_loss"]}))
    log_table(fit.comparison, "comparison")
    folds_table = pd.DataFrame([
        {"model": m, "fold": i + 1, **{k: r[k] for k in ev.HEADLINE_METRICS}}
        for m, results in fit.cv.folds.items() for i, r in enumerate(results)
    ]).set_index(["model", "fold"])
    log_table(folds_table, "cv_folds")
    log_table(fit.by_band["risk_band"], "churn_rate_by_risk_band")
    log_evaluation(fit)
