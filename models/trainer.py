"""Train, compare, calibrate, log and register the churn model: one MLflow run per training.

Two entry points:

- :func:`train_from_tables` (and :func:`train_from_training_set`): point-in-time training
  set from the event tables, split by time. LightGBM, the logistic baseline and the health
  score as a predictor are fitted on the same training dates and all reported on the same
  out-of-time test dates. LightGBM is calibrated on the validation dates.
- :func:`train_flat_table`: a one-row-per-account table; stratified 5-fold cross-validation
  instead of a time split, the calibrator fitted on out-of-fold predictions, the final model
  fitted on every row.

Each run logs every parameter, the seed, the git commit, the data fingerprint, the metrics
of every model, the plots (ROC, PR, reliability, feature importance, churn rate by band) and
the evaluation tables, then the pyfunc model; the model is registered and the promotion rule
of :mod:`models.registry` applied.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from models import evaluation as ev
from models import plots
from models.estimators import (
    CALIBRATION_METHODS, LIGHTGBM_DEFAULTS, LOGISTIC_DEFAULTS, Calibrator, ScorecardPredictor,
    categorical_columns, fit_lightgbm, fit_logistic, usable_feature_columns,
)
from models.explain import mean_absolute_contribution
from models.flat_table import cross_validate, prepare_flat_table, read_flat_table
from models.pyfunc import ChurnModel, band_thresholds, log_churn_model, risk_bands
from models.registry import DEFAULT_MODEL_NAME, PromotionDecision, register_and_promote
from models.tracking import configure_mlflow, log_provenance, quiet_registration_messages

FLAT_MODEL_NAME = f"{DEFAULT_MODEL_NAME}-flat"
CHOSEN = "lightgbm"
IMPORTANCE_ROWS = 5000
RISK_BAND_ORDER = ["high", "medium", "low"]
CONFIG_KEYS = {
    "horizon", "every", "lead", "windows", "seed", "experiment", "calibration", "valid_dates",
    "test_dates", "scorecard", "model_name", "lightgbm",
}


class TrainerError(ValueError):
    """A training request that cannot run as given; the message names the option to change."""


@dataclass
class TrainingResult:
    """What one training run produced.

    Attributes
    ----------
    run_id, experiment : str
        The MLflow run and experiment name.
    model_uri : str
        The logged pyfunc model.
    decision : PromotionDecision
        The registered version, its alias and why.
    comparison : DataFrame
        One row per model, headline metrics on the out-of-time test (or CV for flat tables).
    by_band : dict of str to DataFrame
        Churn rate per health band (event data only) and per risk band.
    band_contrast : dict
        Riskiest vs safest health band in numbers and words (event data only).
    model : ChurnModel
        The fitted pyfunc model, for scoring in-process.
    features : list of str
        The feature columns the model reads; ``dropped`` those it could not use, and why.
    """

    run_id: str
    experiment: str
    model_uri: str
    decision: PromotionDecision
    comparison: pd.DataFrame
    by_band: dict
    band_contrast: dict
    model: ChurnModel
    features: list
    dropped: dict = field(default_factory=dict)
    test: pd.DataFrame | None = None


# --- configuration -------------------------------------------------------------------


def read_config(path: str | os.PathLike) -> dict:
    """Read a training configuration TOML file.

    Top-level keys: ``horizon``, ``every``, ``lead``, ``windows``, ``seed``, ``experiment``,
    ``calibration``, ``valid_dates``, ``test_dates``, ``scorecard`` (path of a scorecard TOML,
    relative to the config file), ``model_name``, and a ``[lightgbm]`` table of
    ``LGBMClassifier`` parameters. Command-line options override the file.

    Raises
    ------
    TrainerError
        Unreadable TOML or an unknown key (the message lists the allowed ones).
    """
    path = Path(path)
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise TrainerError(f"config file {path} does not exist: give the path of a TOML file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise TrainerError(f"config file {path} is not valid TOML: {exc}") from exc
    unknown = sorted(set(config) - CONFIG_KEYS)
    if unknown:
        raise TrainerError(
            f"config file {path}: unknown key(s) {', '.join(unknown)}; allowed keys are "
            f"{', '.join(sorted(CONFIG_KEYS))}"
        )
    if "lightgbm" in config and not isinstance(config["lightgbm"], dict):
        raise TrainerError(f"config file {path}: [lightgbm] must be a table of LightGBM parameters")
    if "scorecard" in config:
        config["scorecard"] = str((path.parent / config["scorecard"]).resolve())
    return config


def _check_calibration(method: str) -> None:
    if method not in CALIBRATION_METHODS:
        raise TrainerError(
            f"calibration must be one of {', '.join(CALIBRATION_METHODS)}, got {method!r}"
        )


# --- progress ------------------------------------------------------------------------


class _Steps:
    """A rich progress display on a terminal console, silent otherwise.

    In a log or a pipe a transient progress bar cannot be erased: it would leave a blank line
    (or a frozen bar) per block, so it is shown only where it can disappear.
    """

    def __init__(self, console=None, total: int = 1):
        self.console = console
        self.total = total
        self._progress = None
        self._task = None

    def __enter__(self):
        if self.console is not None and self.console.is_terminal:
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(),
                console=self.console, transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("training", total=self.total)
        return self

    def step(self, text: str, advance: float = 1) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text, advance=advance)

    def update(self, done: int, total: int, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, total=total, completed=done, description=text)

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False


# --- logging helpers -----------------------------------------------------------------


def _log_figure(figure, path: str) -> None:
    mlflow.log_figure(figure, path)


def _finite(metrics: dict) -> dict:
    """MLflow metrics must be numbers: undefined (NaN) ones are left out and tagged instead."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool)
            and math.isfinite(float(v))}


def _log_results(prefix: str, result: dict) -> None:
    mlflow.log_metrics(_finite({f"{prefix}{k}": v for k, v in result.items()
                                if k not in ("undefined", "by_band")}))
    for metric, reason in result.get("undefined", {}).items():
        mlflow.set_tag(f"undefined.{prefix}{metric}", reason)


def _log_table(table: pd.DataFrame, name: str) -> None:
    """An evaluation table as CSV (for people) and as an MLflow table (for the UI)."""
    frame = table.reset_index()
    mlflow.log_text(frame.to_csv(index=False), f"evaluation/{name}.csv")
    mlflow.log_table(frame, f"evaluation/{name}.json")


def _lightgbm_params(params: dict | None, seed: int) -> dict:
    return {**LIGHTGBM_DEFAULTS, **(params or {}), "random_state": seed}


def _run(run_name: str, nested: bool):
    return mlflow.start_run(run_name=run_name, nested=nested and mlflow.active_run() is not None)


# --- event data ----------------------------------------------------------------------


def train_from_tables(
    tables, *, horizon: int = 90, every: int = 30, lead: int = 0,
    windows: Sequence[int] = (30, 90, 180), console=None, **options,
) -> TrainingResult:
    """Build the point-in-time training set from validated tables, then train (see below).

    Parameters
    ----------
    tables : features.contract.Tables
        Validated tables (``features.io.load_tables``).
    horizon, every, lead : int
        Label window, days between observation dates, lead time (days).
    windows : sequence of int
        Indicator windows in days.
    console : rich.console.Console, optional
        Show progress on it.
    **options
        Passed to :func:`train_from_training_set` (``seed``, ``params``, ``experiment``,
        ``promote``, ``calibration``, ``scorecard``, ``model_name``, ...).
    """
    from models.training_set import build_training_set

    with _Steps(console, total=1) as steps:
        def progress(done, total, as_of):
            steps.update(done, total, f"indicators as of {as_of:%Y-%m-%d}")

        ts = build_training_set(tables, horizon=horizon, every=every, lead=lead,
                                windows=tuple(windows), progress=progress)
    return train_from_training_set(ts, console=console, **options)


def train_from_training_set(
    ts, *, split=None, valid_dates: int = 2, test_dates: int = 2, params: dict | None = None,
    seed: int = 0, experiment: str | None = None, calibration: str = "sigmoid",
    scorecard=None, promote: bool = False, model_name: str = DEFAULT_MODEL_NAME,
    run_name: str | None = None, nested: bool = False, extra_params: dict | None = None,
    console=None,
) -> TrainingResult:
    """Fit LightGBM and both baselines on one time split, compare them, log, register.

    Parameters
    ----------
    ts : models.training_set.TrainingSet
    split : models.training_set.Split, optional
        A ready split; else ``time_split(ts, valid_dates=..., test_dates=...)``.
    params : dict, optional
        LightGBM parameter overrides (e.g. the best trial of an experiment).
    seed : int
        Seeds every model.
    experiment : str, optional
        MLflow experiment; ``customer-health-churn`` by default.
    calibration : {"sigmoid", "isotonic"}
        How LightGBM's probabilities are calibrated on the validation dates (see
        :class:`models.estimators.Calibrator` for why sigmoid is the default).
    scorecard : features.scorecard.Scorecard, optional
        The scorecard of the health-score baseline; the default one when None.
    promote : bool
        Make the new version champion even if it does not beat the current one.
    model_name : str
        Registered model name.
    run_name : str, optional
    nested : bool
        Start the run nested in the active one (experiments).
    extra_params : dict, optional
        More parameters to log (e.g. the experiment's search settings).
    console : rich.console.Console, optional
        Show progress on it.

    Returns
    -------
    TrainingResult
    """
    from models.training_set import LABEL, time_split

    _check_calibration(calibration)
    if split is None:
        split = time_split(ts, valid_dates=valid_dates, test_dates=test_dates)
    features, dropped = usable_feature_columns(split.train, ts.feature_columns)
    if not features:
        raise TrainerError(
            "no indicator column has two or more distinct values on the training dates: "
            + "; ".join(f"{c}: {why}" for c, why in list(dropped.items())[:10])
        )
    categorical = categorical_columns(split.train, features)
    y_train, y_valid, y_test = (part[LABEL].to_numpy(dtype=int)
                                for part in (split.train, split.valid, split.test))
    X_train, X_valid, X_test = (part[features] for part in (split.train, split.valid, split.test))

    experiment_id = configure_mlflow(experiment)
    experiment_name = mlflow.get_experiment(experiment_id).name
    with _Steps(console, total=7) as steps, _run(run_name or f"train-seed-{seed}", nested) as run:
        mlflow.set_tag("kind", "train")
        mlflow.set_tag("mode", "event tables, out-of-time test")
        steps.step("fitting LightGBM", 0)
        lightgbm = fit_lightgbm(X_train, y_train, params=params, seed=seed, categorical=categorical)
        steps.step("fitting the logistic baseline")
        logistic = fit_logistic(X_train, y_train, seed=seed, categorical=categorical)
        steps.step("scoring the health-score baseline")
        score_model, score_note = _fit_scorecard(scorecard, split.train[ts.feature_columns], y_train)

        steps.step("calibrating on the validation dates")
        raw_valid = lightgbm.predict_proba(X_valid)[:, 1]
        calibrator = Calibrator(calibration).fit(raw_valid, y_valid)
        calibrated_valid = calibrator.transform(raw_valid)
        thresholds = band_thresholds(calibrated_valid)

        steps.step("evaluating on the out-of-time test")
        raw_test = lightgbm.predict_proba(X_test)[:, 1]
        probas = {
            "lightgbm": calibrator.transform(raw_test),
            "lightgbm_uncalibrated": raw_test,
            "logistic": logistic.predict_proba(X_test)[:, 1],
        }
        by_band, contrast, health_bands = {}, {}, None
        if score_model is not None:
            full_test = split.test[ts.feature_columns]
            probas["health_score"] = score_model.predict_proba(full_test)[:, 1]
            scored = score_model.scores(full_test)
            card = score_model._scorecard()
            order = [b.label for b in card.bands] + [card.insufficient_label]
            health_bands = scored["health_band"].to_numpy()
            by_band["health_band"] = ev.churn_rate_by_band(y_test, health_bands, order=order)
            contrast = ev.band_contrast(by_band["health_band"], card.bands[0].label,
                                        card.bands[-1].label)
        results = {name: ev.evaluate(y_test, p) for name, p in probas.items()}
        results["lightgbm"]["valid_roc_auc"] = ev.roc_auc(y_valid, calibrated_valid)
        test_bands = risk_bands(probas["lightgbm"], thresholds)
        by_band["risk_band"] = ev.churn_rate_by_band(y_test, test_bands, order=RISK_BAND_ORDER)
        comparison = ev.comparison_table(results)

        steps.step("logging to MLflow")
        log_provenance(seed=seed, fingerprint=ts.fingerprint, params={
            "mode": "tables",
            "chosen_model": CHOSEN,
            "lightgbm": _lightgbm_params(params, seed),
            "logistic": {**LOGISTIC_DEFAULTS, "random_state": seed,
                         "preprocessing": "median impute + indicator, scale; one-hot categoricals"},
            "health_score_baseline": score_note,
            "calibration": calibration,
            "risk_band_thresholds": {"high": thresholds[0], "medium": thresholds[1]},
            "split": {
                "train_dates": f"{_span(split.train_dates)} ({len(split.train_dates)})",
                "valid_dates": f"{_span(split.valid_dates)} ({len(split.valid_dates)})",
                "test_dates": f"{_span(split.test_dates)} ({len(split.test_dates)})",
                "dropped_dates": len(split.dropped_dates),
                "rows": {"train": len(split.train), "valid": len(split.valid),
                         "test": len(split.test), "unlabelled": len(split.unlabelled)},
            },
            "features": {"used": len(features), "categorical": ", ".join(categorical) or "none",
                         "unused": "; ".join(f"{c} ({why})" for c, why in dropped.items()) or "none"},
            **(extra_params or {}),
        })
        for name, result in results.items():
            _log_results(f"{name}_test_", result)
        _log_results("test_", results[CHOSEN])
        mlflow.log_metric("valid_roc_auc", results[CHOSEN]["valid_roc_auc"])
        for band_kind, table in by_band.items():
            mlflow.log_metrics(_finite({f"{band_kind}_churn_rate_{label}".replace(" ", "_"): rate
                                        for label, rate in table["churn_rate"].items()}))
            _log_table(table, f"churn_rate_by_{band_kind}")
        if contrast:
            mlflow.set_tag("health_band_contrast", contrast["text"])
            if math.isfinite(contrast.get("ratio", math.nan)):
                mlflow.log_metric("health_band_churn_ratio_riskiest_vs_safest", contrast["ratio"])
        _log_table(comparison, "comparison")
        _log_plots(y_test, probas, lightgbm, X_test, by_band,
                   colors=_band_colors(score_model))

        steps.step("logging and registering the model")
        model = ChurnModel(lightgbm, calibrator, features, categorical, thresholds)
        info = log_churn_model(model, X_test.head(5))
        with quiet_registration_messages():
            decision = register_and_promote(
                info.model_uri, run_id=run.info.run_id, candidate_auc=results[CHOSEN]["roc_auc"],
                X_test=split.test, y_test=y_test, name=model_name, promote=promote,
            )
    test_out = split.test[["account_id", "as_of", LABEL]].assign(churn_probability=probas[CHOSEN])
    return TrainingResult(
        run_id=run.info.run_id, experiment=experiment_name, model_uri=info.model_uri,
        decision=decision, comparison=comparison, by_band=by_band, band_contrast=contrast,
        model=model, features=features, dropped=dropped, test=test_out,
    )


def _span(dates) -> str:
    dates = sorted(dates)
    if not dates:
        return "none"
    return f"{pd.Timestamp(dates[0]):%Y-%m-%d}..{pd.Timestamp(dates[-1]):%Y-%m-%d}"


def _fit_scorecard(scorecard, X: pd.DataFrame, y) -> tuple[ScorecardPredictor | None, str]:
    """The health-score baseline, or None with the reason it cannot run on these columns."""
    try:
        model = ScorecardPredictor(scorecard).fit(X, y)
    except ValueError as exc:
        return None, f"not run: {exc}"
    source = getattr(model._scorecard(), "source", "default scorecard")
    return model, (f"100 - health score ({source}), logistic map to probability; "
                   f"{model.unscored_share_:.1%} of training rows without a score")


def _band_colors(score_model) -> dict:
    colors = {"high": "#d62728", "medium": "#f2b701", "low": "#2ca02c"}
    if score_model is not None:
        card = score_model._scorecard()
        colors.update({b.label: b.color for b in card.bands})
        colors[card.insufficient_label] = "grey"
    return colors


def _log_plots(y, probas: dict, lightgbm, X: pd.DataFrame, by_band: dict, *, colors: dict) -> None:
    _log_figure(plots.plot_roc(y, probas), "plots/roc.png")
    _log_figure(plots.plot_pr(y, probas), "plots/pr.png")
    reliability = {k: v for k, v in probas.items() if k != "health_score"}
    _log_figure(plots.plot_reliability(y, reliability), "plots/reliability.png")
    sample = X if len(X) <= IMPORTANCE_ROWS else X.sample(IMPORTANCE_ROWS, random_state=0)
    importance = mean_absolute_contribution(lightgbm, sample)
    _log_table(importance.rename("mean_abs_shap").to_frame().rename_axis("feature"),
               "feature_importance")
    _log_figure(plots.plot_importance(importance), "plots/feature_importance.png")
    titles = {"health_band": "Churn rate by health band", "risk_band": "Churn rate by risk band"}
    _log_figure(plots.plot_churn_by_band({titles[k]: v for k, v in by_band.items()}, colors=colors),
                "plots/churn_rate_by_band.png")
    table = ev.reliability_table(y, probas[CHOSEN])
    _log_table(table.rename_axis("decile"), "reliability")


# --- flat tables ---------------------------------------------------------------------


def train_flat_table(
    path_or_frame, *, label: str, id_column: str | None = None, positive: str | None = None,
    folds: int = 5, seed: int = 0, params: dict | None = None, experiment: str | None = None,
    calibration: str = "sigmoid", promote: bool = False, model_name: str = FLAT_MODEL_NAME,
    console=None,
) -> TrainingResult:
    """Train on a one-row-per-account table with stratified k-fold cross-validation.

    The comparison reports the mean over folds (LightGBM and the logistic baseline; there is
    no health score without event data). The calibrator is fitted on LightGBM's out-of-fold
    probabilities, the final model on every row; the risk bands use the calibrated
    out-of-fold probabilities.

    Promotion compares cross-validated ROC AUC when the champion was trained on the same
    table (same hash), else re-scores the champion on this table.

    Parameters
    ----------
    path_or_frame : path or DataFrame
        CSV or Parquet file, or a frame already read.
    label, id_column, positive
        See :func:`models.flat_table.prepare_flat_table`.
    folds : int
        Cross-validation folds.
    seed, params, experiment, calibration, promote, model_name, console
        As for :func:`train_from_training_set`.

    Raises
    ------
    models.flat_table.FlatTableError
        For an unusable table (see :func:`~models.flat_table.prepare_flat_table`).
    """
    _check_calibration(calibration)
    if isinstance(path_or_frame, pd.DataFrame):
        raw, source = path_or_frame, "in-memory frame"
    else:
        raw, source = read_flat_table(path_or_frame), str(Path(path_or_frame).name)
    table = prepare_flat_table(raw, label=label, id_column=id_column, positive=positive,
                               source=source)
    experiment_id = configure_mlflow(experiment)
    experiment_name = mlflow.get_experiment(experiment_id).name
    with _Steps(console, total=folds + 3) as steps, _run(f"flat-seed-{seed}", False) as run:
        mlflow.set_tag("kind", "train")
        mlflow.set_tag("mode", f"flat table, stratified {folds}-fold CV")
        steps.step(f"cross-validating ({folds} folds)", 0)
        cv = cross_validate(table, folds=folds, seed=seed, params=params, progress=steps.step)
        y = table.y.to_numpy()
        calibrator = Calibrator(calibration).fit(cv.oof["lightgbm"], y)
        calibrated_oof = calibrator.transform(cv.oof["lightgbm"])
        thresholds = band_thresholds(calibrated_oof)
        steps.step("fitting the final model on every row")
        lightgbm = fit_lightgbm(table.X, y, params=params, seed=seed, categorical=table.categorical)

        summary = cv.summary()
        comparison = summary[[c for c in summary.columns if not c.endswith("_std")]].copy()
        comparison["base_rate"] = float(y.mean())
        comparison["rows"] = float(len(y))
        bands = risk_bands(calibrated_oof, thresholds)
        by_band = {"risk_band": ev.churn_rate_by_band(y, bands, order=RISK_BAND_ORDER)}

        steps.step("logging to MLflow")
        log_provenance(seed=seed, fingerprint=table.fingerprint, params={
            "mode": "flat table",
            "chosen_model": CHOSEN,
            "lightgbm": _lightgbm_params(params, seed),
            "logistic": {**LOGISTIC_DEFAULTS, "random_state": seed},
            "calibration": f"{calibration} on out-of-fold probabilities",
            "folds": folds,
            "label": label, "positive": table.positive, "id_column": id_column or "none",
            "risk_band_thresholds": {"high": thresholds[0], "medium": thresholds[1]},
            "features": {"used": len(table.feature_columns),
                         "categorical": ", ".join(table.categorical) or "none",
                         "unused": "; ".join(f"{c} ({why})" for c, why in table.dropped.items()) or "none"},
        })
        for name in comparison.index:
            mlflow.log_metrics(_finite({f"{name}_cv_{k}": v for k, v in summary.loc[name].items()}))
        chosen = summary.loc[CHOSEN]
        mlflow.log_metrics(_finite({f"test_{k}": v for k, v in chosen.items()}))
        calibrated = ev.evaluate(y, calibrated_oof)
        mlflow.log_metrics(_finite({"oof_calibrated_brier": calibrated["brier"],
                                    "oof_calibrated_log_loss": calibrated["log_loss"]}))
        _log_table(comparison, "comparison")
        folds_table = pd.DataFrame([
            {"model": m, "fold": i + 1, **{k: r[k] for k in ev.HEADLINE_METRICS}}
            for m, results in cv.folds.items() for i, r in enumerate(results)
        ]).set_index(["model", "fold"])
        _log_table(folds_table, "cv_folds")
        _log_table(by_band["risk_band"], "churn_rate_by_risk_band")
        probas = {"lightgbm": calibrated_oof, "lightgbm_uncalibrated": cv.oof["lightgbm"],
                  "logistic": cv.oof["logistic"]}
        _log_plots(y, probas, lightgbm, table.X, by_band, colors=_band_colors(None))

        steps.step("logging and registering the model")
        model = ChurnModel(lightgbm, calibrator, table.feature_columns, table.categorical,
                           thresholds)
        info = log_churn_model(model, table.X.head(5))
        decision = _promote_flat(info.model_uri, run.info.run_id, float(chosen["roc_auc"]), table,
                                 name=model_name, promote=promote)
    return TrainingResult(
        run_id=run.info.run_id, experiment=experiment_name, model_uri=info.model_uri,
        decision=decision, comparison=comparison, by_band=by_band, band_contrast={},
        model=model, features=table.feature_columns, dropped=table.dropped,
    )


def _promote_flat(model_uri: str, run_id: str, cv_auc: float, table, *, name: str,
                  promote: bool) -> PromotionDecision:
    """Apply the promotion rule with a comparison that is fair for a table without dates.

    Re-scoring a champion on the very table it was fitted on would measure it in-sample, so
    when the champion's run logged the same data hash its cross-validated ROC AUC is the
    comparable figure; on a different table the champion is re-scored on every row (all
    out of sample for it).
    """
    from models.registry import CHAMPION, _client

    client = _client()
    champion_cv = None
    try:
        champion = client.get_model_version_by_alias(name, CHAMPION)
        champion_run = client.get_run(champion.run_id)
        if champion_run.data.params.get("data.hash") == table.fingerprint["hash"]:
            champion_cv = champion_run.data.metrics.get("test_roc_auc")
    except mlflow.exceptions.MlflowException:
        champion_cv = None
    with quiet_registration_messages():
        return register_and_promote(
            model_uri, run_id=run_id, candidate_auc=cv_auc, X_test=table.X, y_test=table.y,
            name=name, promote=promote, champion_auc=champion_cv,
            comparison="cross-validated on the same table" if champion_cv is not None else None,
        )

