"""Fit the churn model and its baselines, then evaluate them: no MLflow, no plots, no output.

Two ways to fit, one per kind of data:

- :func:`fit_time_split`: a point-in-time training set split by observation date. LightGBM,
  the logistic baseline and the health score as a predictor are fitted on the same training
  dates and all evaluated on the same out-of-time test dates. LightGBM learns only from the
  indicators that help on the validation dates (:mod:`models.selection`), is
  calibrated on them, and they also set the risk-band cut-offs.
- :func:`fit_flat_table`: a one-row-per-account table. Stratified k-fold cross-validation
  instead of a time split; the calibrator is fitted on out-of-fold predictions and the final
  model on every row.

Both return what :mod:`models.run_logging` logs and :mod:`models.trainer` registers. Progress
is reported through an optional ``progress(done, total, text)`` callable; drawing it is the
caller's business.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models import evaluation as ev
from models.capacity import Capacity, fit_with_capacity
from models.estimators import (
    Calibrator,
    ScorecardPredictor,
    categorical_columns,
    fit_logistic,
    usable_feature_columns,
)
from models.flat_table import CrossValidation, FlatTable, cross_validate
from models.gates import gain_shares, leakage_warnings, promotion_gates
from models.pyfunc import ChurnModel, band_thresholds, risk_bands
from models.selection import Selection, fit_selected
from models.training_config import TrainerError, TrainingConfig
from models.training_set import LABEL, Split, TrainingSet

# ``progress(done, total, text)``: ``done`` of ``total`` steps are complete, ``text`` says
# what runs now.
Progress = Callable[[int, int, str], None]

CHOSEN = "lightgbm"
RISK_BAND_ORDER = ["high", "medium", "low"]
# Steps of each fit, for progress: the time split's five, the flat table's ``folds + 2``.
TIME_SPLIT_STEPS = (
    "fitting LightGBM",
    "fitting the logistic baseline",
    "scoring the health-score baseline",
    "calibrating on the validation dates",
    "evaluating on the out-of-time test",
)


def _silent(done: int, total: int, text: str) -> None:
    """The progress of a caller that does not show any."""


@dataclass(frozen=True)
class FittedModels:
    """The fitted models and how they did, before anything is logged.

    Attributes
    ----------
    model : ChurnModel
        Calibrated LightGBM with its features and risk-band cut-offs: the model to log.
    lightgbm : Pipeline
        The uncalibrated LightGBM pipeline inside ``model`` (for feature importance).
    features, categorical : list of str
        The feature columns the model reads, and the categorical ones among them.
    dropped : dict of str to str
        Columns left out of the features, with the reason.
    y : ndarray of 0/1
        Labels of the evaluated rows (the test dates, or every row out of fold).
    X : DataFrame
        Feature columns of the evaluated rows.
    probas : dict of str to ndarray
        Churn probability of each model on the evaluated rows.
    comparison : DataFrame
        One row per model, headline metrics (:func:`models.evaluation.comparison_table`).
    by_band : dict of str to DataFrame
        Churn rate per risk band (and per health band with event data).
    band_contrast : dict
        Riskiest vs safest health band in numbers and words (event data only; else empty).
    gate_failures : list of str
        The promotion gates the model fails (:func:`models.gates.promotion_gates`), in
        words; empty when it may become champion.
    warnings : list of str
        Signs that a feature leaks the label (:func:`models.gates.leakage_warnings`).
    capacity : Capacity
        The tree size of :attr:`lightgbm` and how it was chosen
        (:func:`models.capacity.choose_capacity`).
    """

    model: ChurnModel
    lightgbm: object
    features: list
    categorical: list
    dropped: dict
    y: np.ndarray
    X: pd.DataFrame
    probas: dict
    comparison: pd.DataFrame
    by_band: dict
    band_contrast: dict
    gate_failures: list
    warnings: list
    capacity: Capacity

    @property
    def thresholds(self) -> tuple[float, float]:
        """The risk-band cut-offs (high, medium) of :attr:`model`."""
        return self.model.thresholds


@dataclass(frozen=True)
class TimeSplitFit(FittedModels):
    """:class:`FittedModels` of an out-of-time split, plus per-model test results.

    Attributes
    ----------
    results : dict of str to dict
        :func:`models.evaluation.evaluate` per model on the test dates; the chosen model's
        also holds ``valid_roc_auc`` (calibrated, on the validation dates).
    score_model : ScorecardPredictor or None
        The health-score baseline; None when it cannot run on these columns.
    score_note : str
        How the health-score baseline was run, or why not.
    selection : Selection or None
        The indicators LightGBM kept, chosen on the validation dates
        (:func:`models.selection.select_inputs`); ``dropped`` also lists those left out.
    """

    results: dict
    score_model: ScorecardPredictor | None
    score_note: str
    selection: Selection | None = None


@dataclass(frozen=True)
class FlatTableFit(FittedModels):
    """:class:`FittedModels` of a flat table's cross-validation.

    Attributes
    ----------
    cv : CrossValidation
        Out-of-fold predictions and per-fold results of LightGBM and the logistic baseline.
    summary : DataFrame
        Mean and standard deviation over folds per model (``CrossValidation.summary``).
    calibrated : dict
        :func:`models.evaluation.evaluate` of the calibrated out-of-fold probabilities.
    """

    cv: CrossValidation
    summary: pd.DataFrame
    calibrated: dict


def training_features(split: Split, feature_columns: list[str]) -> tuple[list[str], dict]:
    """The columns to learn from (two or more distinct values on the training dates).

    Returns
    -------
    features : list of str
    dropped : dict of str to str
        The other columns, with the reason.

    Raises
    ------
    TrainerError
        When no column is left.
    """
    features, dropped = usable_feature_columns(split.train, feature_columns)
    if not features:
        raise TrainerError(
            "no indicator column has two or more distinct values on the training dates: "
            + "; ".join(f"{c}: {why}" for c, why in list(dropped.items())[:10])
        )
    return features, dropped


def fit_scorecard(scorecard, X: pd.DataFrame, y) -> tuple[ScorecardPredictor | None, str]:
    """The health-score baseline, or None with the reason it cannot run on these columns."""
    try:
        model = ScorecardPredictor(scorecard).fit(X, y)
    except ValueError as exc:
        return None, f"not run: {exc}"
    source = getattr(model.resolved_scorecard(), "source", "default scorecard")
    return model, (f"100 - health score ({source}), logistic map to probability; "
                   f"{model.unscored_share_:.1%} of training rows without a score")


def fit_time_split(
    ts: TrainingSet, split: Split, config: TrainingConfig, *, scorecard=None,
    progress: Progress | None = None,
) -> TimeSplitFit:
    """Fit LightGBM and both baselines on the training dates, evaluate on the test dates.

    Parameters
    ----------
    ts : TrainingSet
    split : Split
        Train, validation and test rows of ``ts``.
    config : TrainingConfig
        Reads ``seed``, ``lightgbm`` and ``calibration``.
    scorecard : features.scorecard.Scorecard, optional
        The health-score baseline's scorecard; the default one when None.
    progress : callable, optional
        ``progress(done, len(TIME_SPLIT_STEPS), text)`` as each step starts.

    Returns
    -------
    TimeSplitFit

    Raises
    ------
    TrainerError
        When no indicator column can be learnt from.
    """
    report = progress or _silent
    steps = iter(enumerate(TIME_SPLIT_STEPS))

    def step() -> None:
        done, text = next(steps)
        report(done, len(TIME_SPLIT_STEPS), text)

    features, dropped = training_features(split, ts.feature_columns)
    categorical = categorical_columns(split.train, features)
    y_train, y_valid, y_test = (part[LABEL].to_numpy(dtype=int)
                                for part in (split.train, split.valid, split.test))
    X_train, X_valid, X_test = (part[features] for part in (split.train, split.valid, split.test))
    params, seed = dict(config.lightgbm), config.seed

    step()
    lightgbm, capacity, selection = fit_selected(X_train, y_train, X_valid, y_valid,
                                                 params=params, seed=seed,
                                                 categorical=categorical)
    step()
    # The logistic baseline keeps every usable column: it is the comparison, not the model.
    logistic = fit_logistic(X_train, y_train, seed=seed, categorical=categorical)
    logistic_test = logistic.predict_proba(X_test)[:, 1]
    features, dropped = selection.kept, {**dropped, **selection.dropped}
    categorical = [c for c in categorical if c in features]
    X_valid, X_test = X_valid[features], X_test[features]
    step()
    score_model, score_note = fit_scorecard(scorecard, split.train[ts.feature_columns], y_train)

    step()
    raw_valid = lightgbm.predict_proba(X_valid)[:, 1]
    calibrator = Calibrator(config.calibration).fit(raw_valid, y_valid)
    calibrated_valid = calibrator.transform(raw_valid)
    thresholds = band_thresholds(calibrated_valid)

    step()
    raw_test = lightgbm.predict_proba(X_test)[:, 1]
    probas = {
        CHOSEN: calibrator.transform(raw_test),
        f"{CHOSEN}_uncalibrated": raw_test,
        "logistic": logistic_test,
    }
    by_band, contrast = {}, {}
    if score_model is not None:
        full_test = split.test[ts.feature_columns]
        probas["health_score"] = score_model.predict_proba(full_test)[:, 1]
        card = score_model.resolved_scorecard()
        order = [b.label for b in card.bands] + [card.insufficient_label]
        health_bands = score_model.scores(full_test)["health_band"].to_numpy()
        by_band["health_band"] = ev.churn_rate_by_band(y_test, health_bands, order=order)
        contrast = ev.band_contrast(by_band["health_band"], card.bands[0].label,
                                    card.bands[-1].label)
    results = {name: ev.evaluate(y_test, p) for name, p in probas.items()}
    results[CHOSEN]["valid_roc_auc"] = ev.roc_auc(y_valid, calibrated_valid)
    by_band["risk_band"] = ev.churn_rate_by_band(y_test, risk_bands(probas[CHOSEN], thresholds),
                                                 order=RISK_BAND_ORDER)
    test_auc = results[CHOSEN]["roc_auc"]
    gate_failures = promotion_gates(
        y_test, probas[CHOSEN], by_band["risk_band"],
        base_rate=float(np.concatenate([y_train, y_valid]).mean()),
        valid_auc=results[CHOSEN]["valid_roc_auc"], test_auc=test_auc, y_valid=y_valid)
    return TimeSplitFit(
        model=ChurnModel(lightgbm, calibrator, features, categorical, thresholds),
        lightgbm=lightgbm, features=features, categorical=categorical, dropped=dropped,
        y=y_test, X=X_test, probas=probas, comparison=ev.comparison_table(results),
        by_band=by_band, band_contrast=contrast, gate_failures=gate_failures,
        warnings=leakage_warnings(test_auc, gain_shares(lightgbm)), capacity=capacity,
        results=results,
        score_model=score_model, score_note=score_note, selection=selection,
    )


def flat_table_steps(folds: int) -> int:
    """Progress steps of :func:`fit_flat_table`: starting, one per fold, the final model."""
    return folds + 2


def fit_flat_table(table: FlatTable, config: TrainingConfig, *,
                   progress: Progress | None = None) -> FlatTableFit:
    """Cross-validate LightGBM and the logistic baseline, calibrate, fit the final model.

    The comparison reports the mean over folds (there is no health score without event
    data). The calibrator is fitted on LightGBM's out-of-fold probabilities, the final model
    on every row; the risk bands use the calibrated out-of-fold probabilities.

    Parameters
    ----------
    table : FlatTable
        From :func:`models.flat_table.prepare_flat_table`.
    config : TrainingConfig
        Reads ``folds``, ``seed``, ``lightgbm`` and ``calibration``.
    progress : callable, optional
        ``progress(done, flat_table_steps(folds), text)`` as each step starts.

    Returns
    -------
    FlatTableFit

    Raises
    ------
    models.flat_table.FlatTableError
        When a class has fewer rows than folds.
    """
    report = progress or _silent
    folds, seed, params = config.folds, config.seed, dict(config.lightgbm)
    total = flat_table_steps(folds)
    done = 0

    def fold_done(text: str) -> None:
        nonlocal done
        done += 1
        report(done, total, text)

    report(0, total, f"cross-validating ({folds} folds)")
    cv = cross_validate(table, folds=folds, seed=seed, params=params, progress=fold_done)
    y = table.y.to_numpy()
    calibrator = Calibrator(config.calibration).fit(cv.oof[CHOSEN], y)
    calibrated_oof = calibrator.transform(cv.oof[CHOSEN])
    thresholds = band_thresholds(calibrated_oof)
    report(folds + 1, total, "fitting the final model on every row")
    lightgbm, capacity = fit_with_capacity(table.X, y, params=params, seed=seed,
                                           categorical=table.categorical)

    summary = cv.summary()
    comparison = summary[[c for c in summary.columns if not c.endswith("_std")]].copy()
    comparison["base_rate"] = float(y.mean())
    comparison["rows"] = float(len(y))
    bands = risk_bands(calibrated_oof, thresholds)
    by_band = {"risk_band": ev.churn_rate_by_band(y, bands, order=RISK_BAND_ORDER)}
    cv_auc = float(summary.loc[CHOSEN]["roc_auc"])
    return FlatTableFit(
        model=ChurnModel(lightgbm, calibrator, table.feature_columns, table.categorical,
                         thresholds),
        lightgbm=lightgbm, features=table.feature_columns, categorical=table.categorical,
        dropped=table.dropped, y=y, X=table.X,
        probas={CHOSEN: calibrated_oof, f"{CHOSEN}_uncalibrated": cv.oof[CHOSEN],
                "logistic": cv.oof["logistic"]},
        comparison=comparison, by_band=by_band, band_contrast={},
        gate_failures=promotion_gates(y, calibrated_oof, by_band["risk_band"],
                                      base_rate=float(y.mean())),
        warnings=leakage_warnings(cv_auc, gain_shares(lightgbm)), capacity=capacity, cv=cv, summary=summary, calibrated=ev.evaluate(y, calibrated_oof),
    )
