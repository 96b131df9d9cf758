"""Train the churn model: one MLflow run per training, then registration and promotion.

Each entry point is the same three steps, in this order:

1. **fit and evaluate** (:mod:`models.fit`): pure, no MLflow, no plots, no output;
2. **log** (:mod:`models.run_logging`): parameters, seed, git commit, data fingerprint, the
   metrics of every model, the evaluation tables and plots, in one MLflow run;
3. **register** (:func:`register_model`): the pyfunc model is logged in that run, registered,
   and the promotion rule of :mod:`models.registry` applied.

Entry points:

- :func:`train_from_tables` (and :func:`train_from_training_set`): point-in-time training
  set from the event tables, split by time; LightGBM, the logistic baseline and the health
  score reported on the same out-of-time test dates.
- :func:`train_flat_table`: a one-row-per-account table, stratified k-fold cross-validation.

Settings come as a :class:`~models.training_config.TrainingConfig`; keyword arguments named
like its attributes change single settings. Progress is reported through an optional
``progress(done, total, text)`` callable; the command line draws it as a bar.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import mlflow
import pandas as pd

from models.fit import (
    CHOSEN,
    TIME_SPLIT_STEPS,
    Progress,
    fit_flat_table,
    fit_time_split,
    flat_table_steps,
)
from models.flat_table import prepare_flat_table, read_flat_table
from models.label_end import LabelEnd
from models.polarity_store import log_polarity_models
from models.pyfunc import ChurnModel, log_churn_model
from models.registry import (
    DEFAULT_MODEL_NAME,
    PromotionDecision,
    champion_cv_on_same_table,
    register_and_promote,
)
from models.run_logging import log_flat_table_run, log_time_split_run, log_warnings
from models.tracking import configure_mlflow, quiet_registration_messages
from models.training_config import TrainerError, TrainingConfig

FLAT_MODEL_NAME = f"{DEFAULT_MODEL_NAME}-flat"
# What the trainer does after fitting, for progress.
AFTER_FIT_STEPS = ("logging to MLflow", "logging and registering the model")

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
    test : DataFrame or None
        Event data: ``account_id``, ``as_of``, the label and the chosen model's
        ``churn_probability`` on the test dates.
    warnings : list of str
        What the user should know about the data and the model: tables ending far apart,
        a feature that may leak the label.
    label_end : LabelEnd or None
        Event data: until when churn is known, and from what.
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
    warnings: list = field(default_factory=list)
    label_end: LabelEnd | None = None


# --- the steps' glue -----------------------------------------------------------------


def _settings(config: TrainingConfig | None, settings: dict) -> TrainingConfig:
    """``config`` (the defaults when None) with the keyword settings of a call replaced."""
    return replace(config if config is not None else TrainingConfig(), **settings)


def _scorecard(config: TrainingConfig, churn=None):
    """The config's scorecard, read when it names a file; none named: the packaged default
    that fits the churn definition (``Tables.churn``: a lapse reads the shop's)."""
    from features.scorecard_config import load_scorecard

    if isinstance(config.scorecard, (str, os.PathLike)):
        return load_scorecard(config.scorecard)
    if config.scorecard is None:
        return load_scorecard(churn=churn)
    return config.scorecard


def _churn(ts):
    """The churn definition a training set was labelled with (its fingerprint records it)."""
    from features.churn_definition import ChurnDefinition

    return ChurnDefinition.from_metadata(getattr(ts, "fingerprint", {}) or {})


def _part(progress: Progress | None, offset: int, total: int) -> Progress | None:
    """The progress of a step that fills steps ``offset...`` of ``total``."""
    if progress is None:
        return None
    return lambda done, _, text: progress(offset + done, total, text)


def _run(run_name: str, nested: bool):
    return mlflow.start_run(run_name=run_name, nested=nested and mlflow.active_run() is not None)


def register_model(model: ChurnModel, example: pd.DataFrame, *, run_id: str,
                   candidate_auc: float, X_test: pd.DataFrame, y_test, name: str,
                   promote: bool = False, champion_auc: float | None = None,
                   comparison: str | None = None,
                   gate_failures=()) -> tuple[str, PromotionDecision]:
    """Log ``model`` as a pyfunc in the active run, register it and apply the promotion rule.

    Parameters
    ----------
    model : ChurnModel
    example : DataFrame
        A few rows of features, the logged input example.
    run_id : str
        The active run.
    candidate_auc, X_test, y_test, name, promote, champion_auc, comparison, gate_failures
        As for :func:`models.registry.register_and_promote`.

    Returns
    -------
    model_uri : str
    decision : PromotionDecision
    """
    info = log_churn_model(model, example)
    with quiet_registration_messages():
        decision = register_and_promote(
            info.model_uri, run_id=run_id, candidate_auc=candidate_auc, X_test=X_test,
            y_test=y_test, name=name, promote=promote, champion_auc=champion_auc,
            comparison=comparison, gate_failures=gate_failures,
        )
    return info.model_uri, decision


# --- event data ----------------------------------------------------------------------


def train_from_tables(
    tables, config: TrainingConfig | None = None, *, promote: bool = False,
    progress: Progress | None = None, **settings,
) -> TrainingResult:
    """Build the point-in-time training set from validated tables, then train (see below).

    Parameters
    ----------
    tables : features.contract.Tables
        Validated tables (``features.io.load_tables``).
    config : TrainingConfig, optional
        Every setting; the defaults when None. Reads ``horizon``, ``every``, ``lead``,
        ``windows`` and ``labels_until`` for the training set, the rest as :func:`train_from_training_set`.
    promote : bool
        Make the new version champion even if it does not beat the current one.
    progress : callable, optional
        ``progress(done, total, text)``: first per observation date of the training set,
        then per training step.
    **settings
        :class:`TrainingConfig` attributes to change (``horizon``, ``every``, ``seed``,
        ``scorecard``, ...).
    """
    from models.training_set import build_training_set

    config = _settings(config, settings)
    scorecard = _scorecard(config, tables.churn)  # a bad file fails before the long part

    def indicators(done, total, as_of):
        progress(done, total, f"indicators as of {as_of:%Y-%m-%d}")

    ts = build_training_set(tables, horizon=config.horizon, every=config.every,
                            lead=config.lead, windows=tuple(config.windows),
                            labels_until=config.labels_until,
                            progress=indicators if progress is not None else None)
    return train_from_training_set(ts, replace(config, scorecard=scorecard), promote=promote,
                                   progress=progress)


def train_from_training_set(
    ts, config: TrainingConfig | None = None, *, split=None, promote: bool = False,
    run_name: str | None = None, nested: bool = False, extra_params: dict | None = None,
    progress: Progress | None = None, **settings,
) -> TrainingResult:
    """Fit LightGBM and both baselines on one time split, compare them, log, register.

    Parameters
    ----------
    ts : models.training_set.TrainingSet
    config : TrainingConfig, optional
        Every setting; the defaults when None. Reads ``valid_dates`` and ``test_dates`` (when
        no ``split`` is given), ``seed``, ``lightgbm``, ``calibration``, ``scorecard``,
        ``experiment`` and ``model_name``.
    split : models.training_set.Split, optional
        A ready split; else ``time_split(ts, valid_dates=..., test_dates=...)``.
    promote : bool
        Make the new version champion even if it does not beat the current one.
    run_name : str, optional
        ``train-seed-<seed>`` by default.
    nested : bool
        Start the run nested in the active one (experiments).
    extra_params : dict, optional
        More parameters to log (e.g. the experiment's search settings).
    progress : callable, optional
        ``progress(done, total, text)`` as each step starts.
    **settings
        :class:`TrainingConfig` attributes to change (``seed``, ``lightgbm``, ...).

    Returns
    -------
    TrainingResult

    Raises
    ------
    TrainerError
        For a bad setting or when no indicator column can be learnt from.
    """
    from models.training_set import LABEL, time_split

    config = _settings(config, settings)
    config = replace(config, scorecard=_scorecard(config, _churn(ts)))
    if split is None:
        split = time_split(ts, valid_dates=config.valid_dates, test_dates=config.test_dates)
    total = len(TIME_SPLIT_STEPS) + len(AFTER_FIT_STEPS)
    fit = fit_time_split(ts, split, config, scorecard=_scorecard(config),
                         progress=_part(progress, 0, total))

    experiment_id = configure_mlflow(config.experiment)
    experiment_name = mlflow.get_experiment(experiment_id).name
    report = _part(progress, len(TIME_SPLIT_STEPS), total) or (lambda *_: None)
    with _run(run_name or f"train-seed-{config.seed}", nested) as run:
        mlflow.set_tag("kind", "train")
        mlflow.set_tag("mode", "event tables, out-of-time test")
        report(0, total, AFTER_FIT_STEPS[0])
        log_time_split_run(fit, ts, split, config, extra_params=extra_params)
        log_polarity_models(ts.polarity_models)  # read again by models.registry.load_model
        comparison = _with_suggested_scorecard(fit.comparison, split, ts, config)
        warnings = [*ts.warnings, *fit.warnings]
        log_warnings(warnings)
        report(1, total, AFTER_FIT_STEPS[1])
        model_uri, decision = register_model(
            fit.model, fit.X.head(5), run_id=run.info.run_id,
            candidate_auc=fit.results[CHOSEN]["roc_auc"], X_test=split.test, y_test=fit.y,
            name=config.model_name or DEFAULT_MODEL_NAME, promote=promote,
            gate_failures=fit.gate_failures,
        )
    test = split.test[["account_id", "as_of", LABEL]].assign(churn_probability=fit.probas[CHOSEN])
    return TrainingResult(
        run_id=run.info.run_id, experiment=experiment_name, model_uri=model_uri,
        decision=decision, comparison=comparison, by_band=fit.by_band,
        band_contrast=fit.band_contrast, model=fit.model, features=fit.features,
        dropped=fit.dropped, test=test, warnings=warnings,
        label_end=ts.label_end,
    )


def _with_suggested_scorecard(comparison: pd.DataFrame, split, ts, config) -> pd.DataFrame:
    """Log the scorecard suggested from this run's data; the comparison with its row.

    Its out-of-time metrics go beside the current scorecard's (``health_score_test_*``) as
    ``health_score_suggested_test_*``, so drift between the scorecard and the data shows at
    every retrain; ``customer-health scorecard suggest`` writes the suggestion itself.
    """
    from models import evaluation as ev
    from models.run_logging import log_results
    from models.scorecard_suggestion import SUGGESTED, suggested_scorecard_results

    result, note = suggested_scorecard_results(split, ts.feature_columns, _scorecard(config))
    mlflow.set_tag("suggested_scorecard", note)
    if result is None:
        mlflow.set_tag(f"undefined.{SUGGESTED}_test_roc_auc", note)
        return comparison
    log_results(f"{SUGGESTED}_test_", result)
    row = ev.comparison_table({SUGGESTED: result})
    return pd.concat([comparison, row[[c for c in comparison.columns if c in row.columns]]])


# --- flat tables ---------------------------------------------------------------------


def train_flat_table(
    path_or_frame, config: TrainingConfig | None = None, *, promote: bool = False,
    progress: Progress | None = None, **settings,
) -> TrainingResult:
    """Train on a one-row-per-account table with stratified k-fold cross-validation.

    The comparison reports the mean over folds (LightGBM and the logistic baseline; there is
    no health score without event data); see :func:`models.fit.fit_flat_table`.

    Promotion compares cross-validated ROC AUC when the champion was trained on the same
    table (same hash), else re-scores the champion on this table.

    Parameters
    ----------
    path_or_frame : path or DataFrame
        CSV or Parquet file, or a frame already read.
    config : TrainingConfig, optional
        Every setting; the defaults when None. Reads ``label`` (required), ``id_column``,
        ``positive`` (see :func:`models.flat_table.prepare_flat_table`), ``folds``, ``seed``,
        ``lightgbm``, ``calibration``, ``experiment`` and ``model_name``
        (:data:`FLAT_MODEL_NAME` when None).
    promote, progress
        As for :func:`train_from_training_set`.
    **settings
        :class:`TrainingConfig` attributes to change (``label``, ``folds``, ...).

    Raises
    ------
    TrainerError
        Without a label column, or for a bad setting.
    models.flat_table.FlatTableError
        For an unusable table (see :func:`~models.flat_table.prepare_flat_table`).
    """
    config = _settings(config, settings)
    if config.label is None:
        raise TrainerError("a flat table needs its label column: the column that says who "
                           "churned")
    if isinstance(path_or_frame, pd.DataFrame):
        raw, source = path_or_frame, "in-memory frame"
    else:
        raw, source = read_flat_table(path_or_frame), str(Path(path_or_frame).name)
    table = prepare_flat_table(raw, label=config.label, id_column=config.id_column,
                               positive=config.positive, source=source)
    steps = flat_table_steps(config.folds)
    total = steps + len(AFTER_FIT_STEPS)
    fit = fit_flat_table(table, config, progress=_part(progress, 0, total))

    experiment_id = configure_mlflow(config.experiment)
    experiment_name = mlflow.get_experiment(experiment_id).name
    report = _part(progress, steps, total) or (lambda *_: None)
    with _run(f"flat-seed-{config.seed}", False) as run:
        mlflow.set_tag("kind", "train")
        mlflow.set_tag("mode", f"flat table, stratified {config.folds}-fold CV")
        report(0, total, AFTER_FIT_STEPS[0])
        log_flat_table_run(fit, table, config)
        log_warnings(fit.warnings)
        report(1, total, AFTER_FIT_STEPS[1])
        name = config.model_name or FLAT_MODEL_NAME
        champion_cv = champion_cv_on_same_table(name, table.fingerprint["hash"])
        model_uri, decision = register_model(
            fit.model, table.X.head(5), run_id=run.info.run_id,
            candidate_auc=float(fit.summary.loc[CHOSEN]["roc_auc"]), X_test=table.X,
            y_test=table.y, name=name, promote=promote, champion_auc=champion_cv,
            comparison="cross-validated on the same table" if champion_cv is not None else None,
            gate_failures=fit.gate_failures,
        )
    return TrainingResult(
        run_id=run.info.run_id, experiment=experiment_name, model_uri=model_uri,
        decision=decision, comparison=fit.comparison, by_band=fit.by_band, band_contrast={},
        model=fit.model, features=fit.features, dropped=fit.dropped, warnings=list(fit.warnings),
    )


