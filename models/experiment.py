"""Retraining experiments: a seeded hyperparameter search for the LightGBM churn model.

Why Optuna's TPE sampler with a median pruner
---------------------------------------------
- **TPE (Tree-structured Parzen Estimator)** models which regions of the search space gave
  good validation AUC and samples there more often. With the 10-50 trials a retraining
  experiment can afford, it finds better LightGBM settings than a grid (which spends most
  trials on unimportant axes) or random search (which does not learn from earlier trials),
  it handles log-scaled, integer and conditional parameters natively, and with a fixed
  ``seed`` it proposes the same parameters in the same order: the experiment is
  reproducible. Gaussian-process or CMA-ES samplers need more trials than we run to pay off
  and are slower per proposal.
- **Median pruning on LightGBM's per-iteration validation AUC**: boosting reports a learning
  curve for free, and a trial whose AUC at iteration *k* is below the median of earlier
  trials at *k* rarely catches up. Stopping it early spends the time budget on promising
  settings. The pruner waits for a few complete trials and a warm-up of iterations, so that
  early noise (slow learning rates start low) does not kill good trials. Hyperband would
  prune harder, but its brackets make the number of complete trials depend on the budget in
  a way that is harder to explain to the people reading the experiment.

Reproducibility: the sampler is seeded, LightGBM runs with ``deterministic=True``,
``force_row_wise=True``, one thread (:data:`NUM_THREADS`) and ``random_state=seed``, and
trials run one after another. The same data, seed and code then give the same trials and metrics.
A ``timeout`` stops the search after a wall-clock budget, so the *number* of trials (not
their values) may then differ between machines; it is recorded on the run.

Every trial is a nested MLflow run under one parent run, with its parameters, validation AUC,
best iteration and whether it was pruned. The best trial's parameters are then retrained by
the trainer (:mod:`models.trainer`) on the same split — only if they beat the default
configuration's validation ROC AUC, else the default is retrained — and offered for
promotion under the registry's rule: the new version becomes ``champion`` only if it beats the current champion's
ROC AUC on the same out-of-time test dates, unless ``promote`` forces it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import lightgbm as lgb
import mlflow
import numpy as np
import optuna
import pandas as pd
from lightgbm import LGBMClassifier

from features.contract import Tables
from models.estimators import (
    LIGHTGBM_DEFAULTS,
    FrameEncoder,
    categorical_columns,
    usable_feature_columns,
)
from models.evaluation import roc_auc
from models.fit import CHOSEN
from models.selection import fit_selected
from models.tracking import DEFAULT_EXPERIMENT, configure_mlflow, log_provenance
from models.trainer import train_from_training_set
from models.training_config import TrainingConfig
from models.training_set import (
    LABEL,
    Split,
    TrainingSet,
    build_training_set,
    time_split,
)

MAX_ROUNDS = 600
EARLY_STOPPING_ROUNDS = 50
# SHAP explanations (``pred_contrib``) cost about trees x leaves x depth^2 per row. Every
# trial gets at most the default model's leaves in total and its depth, so whatever the
# search picks explains accounts no slower than the default (benchmarks/bench_train.py).
LEAF_BUDGET = LIGHTGBM_DEFAULTS["n_estimators"] * LIGHTGBM_DEFAULTS["num_leaves"]
MAX_DEPTH = LIGHTGBM_DEFAULTS["max_depth"]
# Trials run one after another on one thread each: the thread count is part of what makes
# LightGBM's deterministic mode repeatable, and on a shared 2-core machine two OpenMP threads
# spin-wait on each other (measured: 100 rounds on 800 rows took 0.11 s on one thread,
# 0.8-4 s on two under load).
NUM_THREADS = 1
# Lower bounds that keep a trial from being a toy (a single shallow tree): at least this
# many trees, this many leaves and this depth.
MIN_TREES = 20
MIN_LEAVES = 8
MIN_DEPTH = min(4, MAX_DEPTH)
# The pruner compares trials only after these many complete trials and iterations.
PRUNER_STARTUP_TRIALS = 4
PRUNER_WARMUP_STEPS = 30


class ExperimentError(ValueError):
    """The experiment cannot run with these arguments; the message says what to change."""


@dataclass(frozen=True)
class ExperimentResult:
    """What a hyperparameter search found and what became of the retrained best trial.

    Attributes
    ----------
    experiment : str
        MLflow experiment name.
    parent_run_id : str
        The MLflow run that holds one nested run per trial.
    best_trial : int
        Number of the best complete trial (0-based).
    best_params : dict
        LightGBM parameters of the best trial, ``n_estimators`` set to its best iteration.
    best_valid_auc : float
        Validation ROC AUC of the best trial.
    trials : DataFrame
        One row per trial: ``trial``, ``state`` (COMPLETE / PRUNED), ``valid_auc``,
        ``best_iteration``, ``run_id`` and one ``param_<name>`` column per parameter.
    final : models.trainer.TrainingResult or None
        What the trainer returned for the retrained best trial (run, registered version and
        alias in ``final.decision``, comparison with the baselines); None with
        ``retrain=False``.
    final_metrics : dict
        Out-of-time test metrics of the retrained (calibrated) model: ``roc_auc``,
        ``pr_auc``, ``brier``, ``log_loss``, ``lift_top10``, ``recall_top10``, ...; empty with
        ``retrain=False``.
    default_valid_auc : float
        Validation ROC AUC of the default configuration (the trainer's own tree-size
        choice, :mod:`models.capacity`) on the same split.
    kept_best : bool
        Whether the best trial beat the default on validation; if not, the default
        configuration is what was retrained.
    choice : str
        Which configuration was retrained and why, in words.
    """

    experiment: str
    parent_run_id: str
    best_trial: int
    best_params: dict
    best_valid_auc: float
    trials: pd.DataFrame
    final: object = None
    final_metrics: dict = field(default_factory=dict)
    default_valid_auc: float = math.nan
    kept_best: bool = True
    choice: str = ""


# --- the search -----------------------------------------------------------------------


def max_rounds(num_leaves: int) -> int:
    """Boosting rounds a trial may use: :data:`MAX_ROUNDS`, fewer for leafy trees.

    Examples
    --------
    >>> default = LIGHTGBM_DEFAULTS
    >>> max_rounds(default["num_leaves"]) == min(MAX_ROUNDS, default["n_estimators"])
    True
    >>> max_rounds(2 * default["num_leaves"]) < max_rounds(default["num_leaves"])
    True
    """
    return int(min(MAX_ROUNDS, LEAF_BUDGET // num_leaves))


def trial_settings(params: dict, seed: int) -> dict:
    """``LGBMClassifier`` settings of one trial: the trainer's defaults overridden by the
    trial's parameters, AUC as the evaluation metric, deterministic on one thread, and as
    many rounds as the leaf budget allows (early stopping picks the number used).

    Examples
    --------
    >>> settings = trial_settings({"num_leaves": 16}, seed=4)
    >>> settings["n_estimators"] == max_rounds(16), settings["random_state"], settings["n_jobs"]
    (True, 4, 1)
    >>> settings["deterministic"], settings["force_row_wise"], settings["force_col_wise"]
    (True, True, False)
    """
    settings = {**LIGHTGBM_DEFAULTS, **params}
    return {**settings, "n_estimators": max_rounds(settings["num_leaves"]), "metric": "auc",
            "random_state": int(seed), "deterministic": True, "force_row_wise": True,
            "force_col_wise": False, "n_jobs": NUM_THREADS}


def suggest_params(trial: optuna.Trial) -> dict:
    """The search space, in ``LGBMClassifier`` names.

    Trees stay within the default model's depth, and :func:`max_rounds` keeps the total
    number of leaves within its budget, so explaining accounts with ``pred_contrib`` is never
    slower than with the default model, whatever the search picks. The lower bounds
    (:data:`MIN_LEAVES`, :data:`MIN_DEPTH`, a learning rate of 0.02, and :data:`MIN_TREES`
    trees kept whatever early stopping says) keep a trial from being a toy.
    """
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", MIN_LEAVES, 2 ** MAX_DEPTH),
        "max_depth": trial.suggest_int("max_depth", MIN_DEPTH, MAX_DEPTH),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 300, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
    }


class _ReportAUC:
    """LightGBM callback: report validation AUC each iteration, stop the trial if pruned.

    Keeps the last reported ``(iteration, auc)`` so a pruned trial can log where it stopped.
    """

    def __init__(self, trial: optuna.Trial):
        self.trial = trial
        self.last: tuple[int, float] | None = None

    def __call__(self, env: lgb.callback.CallbackEnv) -> None:
        for data_name, metric, value, _ in env.evaluation_result_list:
            if data_name == "valid" and metric == "auc":
                self.last = (env.iteration, float(value))
                self.trial.report(float(value), step=env.iteration)
                if self.trial.should_prune():
                    raise optuna.TrialPruned(f"pruned at iteration {env.iteration}")


@dataclass(frozen=True)
class _Inputs:
    train_x: pd.DataFrame
    train_y: np.ndarray
    valid_x: pd.DataFrame
    valid_y: np.ndarray


def _inputs(split: Split, feature_columns: list[str]) -> _Inputs:
    # The same encoding as the trainer's pipeline, so the parameters found here mean the
    # same thing when the trainer refits them.
    encoder = FrameEncoder().fit(split.train[feature_columns])
    return _Inputs(
        train_x=encoder.transform(split.train[feature_columns]),
        train_y=split.train[LABEL].astype(int).to_numpy(),
        valid_x=encoder.transform(split.valid[feature_columns]),
        valid_y=split.valid[LABEL].astype(int).to_numpy(),
    )


def _objective(inputs: _Inputs, seed: int):
    def objective(trial: optuna.Trial) -> float:
        params = suggest_params(trial)
        pruned = None
        with mlflow.start_run(run_name=f"trial-{trial.number:03d}", nested=True) as run:
            trial.set_user_attr("run_id", run.info.run_id)
            mlflow.log_params({**params, "seed": seed,
                               "max_rounds": max_rounds(params["num_leaves"]),
                               "early_stopping_rounds": EARLY_STOPPING_ROUNDS})
            mlflow.set_tag("trial", str(trial.number))
            model = LGBMClassifier(**trial_settings(params, seed))
            report = _ReportAUC(trial)
            try:
                model.fit(
                    inputs.train_x, inputs.train_y,
                    eval_X=(inputs.valid_x,), eval_y=(inputs.valid_y,),
                    eval_names=["valid"],
                    callbacks=[
                        lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False),
                        report,
                    ],
                )
            except optuna.TrialPruned as exc:
                # A pruned trial is a normal outcome, so its run ends FINISHED, tagged.
                step, value = report.last
                mlflow.set_tag("state", "PRUNED")
                mlflow.log_metrics({"pruned_at_iteration": float(step),
                                    "valid_auc_at_prune": float(value)})
                pruned = exc
            else:
                best_iteration = int(model.best_iteration_ or max_rounds(params["num_leaves"]))
                best_iteration = min(max(best_iteration, MIN_TREES),
                                     max_rounds(params["num_leaves"]))
                # Recomputed with the project's metric rather than read off LightGBM, so the
                # figure is the same ROC AUC every report shows.
                valid_auc = float(roc_auc(
                    inputs.valid_y,
                    model.predict_proba(inputs.valid_x, num_iteration=best_iteration)[:, 1],
                ))
                trial.set_user_attr("best_iteration", best_iteration)
                mlflow.set_tag("state", "COMPLETE")
                mlflow.log_metrics({"valid_auc": valid_auc,
                                    "best_iteration": float(best_iteration)})
        if pruned is not None:
            raise pruned
        return valid_auc

    return objective


def _trials_table(study: optuna.Study) -> pd.DataFrame:
    rows = []
    for t in study.trials:
        row = {
            "trial": t.number,
            "state": t.state.name,
            "valid_auc": t.value if t.value is not None else math.nan,
            "best_iteration": t.user_attrs.get("best_iteration"),
            "run_id": t.user_attrs.get("run_id"),
        }
        row.update({f"param_{k}": v for k, v in sorted(t.params.items())})
        rows.append(row)
    return pd.DataFrame(rows)


def _startup_trials(trials: int) -> int:
    # TPE needs some random trials to model from; at most 10, at most half of a short run.
    return max(1, min(10, trials // 2))


def search(
    split: Split,
    feature_columns: list[str],
    *,
    trials: int = 20,
    seed: int = 0,
    timeout: float | None = None,
) -> optuna.Study:
    """Run the seeded TPE search with median pruning; each trial logs a nested MLflow run.

    Call it inside an active MLflow run (the parent run of the trials).

    Parameters
    ----------
    split : Split
        Trials fit on ``split.train`` and are judged by ROC AUC on ``split.valid``; the test
        dates are never looked at.
    feature_columns : list of str
    trials : int
    seed : int
    timeout : float, optional
        Seconds after which no new trial starts.

    Returns
    -------
    optuna.Study
    """
    inputs = _inputs(split, feature_columns)
    sampler = optuna.samplers.TPESampler(seed=int(seed),
                                         n_startup_trials=_startup_trials(trials))
    pruner = optuna.pruners.MedianPruner(
        n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=PRUNER_WARMUP_STEPS
    )
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner,
                                study_name=f"customer-health-seed-{seed}")
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study.optimize(_objective(inputs, seed), n_trials=trials, timeout=timeout, n_jobs=1)
    finally:
        optuna.logging.set_verbosity(previous)
    return study


# --- the experiment -------------------------------------------------------------------


def _check_trials(trials, timeout) -> None:
    if not isinstance(trials, (int, np.integer)) or isinstance(trials, bool) or trials < 1:
        raise ExperimentError(f"--trials must be a whole number >= 1, got {trials!r}")
    if timeout is not None and not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ExperimentError(f"--timeout must be a positive number of seconds, got {timeout!r}")


def _training_set(data, config: TrainingConfig) -> TrainingSet:
    if isinstance(data, TrainingSet):
        return data
    if isinstance(data, Tables):
        return build_training_set(data, horizon=config.horizon, every=config.every,
                                  lead=config.lead, windows=tuple(config.windows),
                                  labels_until=config.labels_until)
    raise ExperimentError(
        f"run_experiment expects validated Tables or a TrainingSet, got {type(data).__name__}; "
        "load the folder with features.io.load_tables first"
    )


def run_experiment(
    tables_or_training_set: Tables | TrainingSet,
    config: TrainingConfig | None = None,
    *,
    promote: bool = False,
    timeout: float | None = None,
    retrain: bool = True,
    **settings,
) -> ExperimentResult:
    """Search LightGBM hyperparameters, then retrain the best and offer it for promotion.

    Parameters
    ----------
    tables_or_training_set : Tables or TrainingSet
        Validated tables (a training set is built with the config's ``horizon``, ``every``,
        ``lead`` and ``windows``) or an already built
        :class:`~models.training_set.TrainingSet`.
    config : TrainingConfig, optional
        Every setting; the defaults when None. Reads ``trials`` (pruned ones count),
        ``seed`` (seeds the sampler and every LightGBM fit: same data, seed and code, same
        metrics), ``experiment`` (:data:`models.tracking.DEFAULT_EXPERIMENT` when None),
        ``valid_dates`` (the search's objective) and ``test_dates`` (the out-of-time test);
        the retrained best trial is trained with the rest, its own LightGBM parameters
        replacing the config's.
    promote : bool, default False
        Make the retrained model ``champion`` even if it does not beat the current one.
    timeout : float, optional
        Stop starting new trials after this many seconds (the number of trials then
        depends on the machine, not only on the seed).
    retrain : bool, default True
        Retrain the best trial and offer it for promotion; False stops after the search.
    **settings
        :class:`TrainingConfig` attributes to change (``trials``, ``seed``, ``every``, ...).

    Returns
    -------
    ExperimentResult

    Raises
    ------
    ExperimentError
        When ``trials``/``timeout`` are out of range or the input is of the wrong kind.
    models.training_set.TrainingSetError
        When the data cannot give a training set or a split (the message names the option).
    """
    config = replace(config if config is not None else TrainingConfig(), **settings)
    trials, seed = config.trials, config.seed
    _check_trials(trials, timeout)
    ts = _training_set(tables_or_training_set, config)
    split = time_split(ts, valid_dates=config.valid_dates, test_dates=config.test_dates)
    feature_columns, unusable = usable_feature_columns(split.train, ts.feature_columns)
    experiment = config.experiment or DEFAULT_EXPERIMENT
    configure_mlflow(experiment)

    sampler_text = f"TPESampler(seed={seed}, n_startup_trials={_startup_trials(trials)})"
    pruner_text = (f"MedianPruner(n_startup_trials={PRUNER_STARTUP_TRIALS}, "
                   f"n_warmup_steps={PRUNER_WARMUP_STEPS})")
    with mlflow.start_run(run_name=f"experiment-seed-{seed}",
                          nested=mlflow.active_run() is not None) as parent:
        mlflow.set_tag("kind", "experiment")
        log_provenance(seed=seed, fingerprint=ts.fingerprint, params={
            "trials": trials,
            "timeout": timeout,
            "sampler": sampler_text,
            "pruner": pruner_text,
            "objective": f"validation ROC AUC, early stopping after {EARLY_STOPPING_ROUNDS} "
                         f"rounds without gain",
            "limits": f"at most {MAX_ROUNDS} rounds, {LEAF_BUDGET} leaves in total, depth "
                      f"<= {MAX_DEPTH}",
            "split": {"train_dates": len(split.train_dates), "valid_dates": len(split.valid_dates),
                      "test_dates": len(split.test_dates),
                      "dropped_dates": len(split.dropped_dates)},
            "features_unused": ", ".join(sorted(unusable)) or "none",
        })
        study = search(split, feature_columns, trials=trials, seed=seed, timeout=timeout)
        table = _trials_table(study)
        complete = table[table["state"] == "COMPLETE"]
        mlflow.log_metrics({
            "trials_complete": float(len(complete)),
            "trials_pruned": float((table["state"] == "PRUNED").sum()),
        })
        mlflow.log_table(table, "trials.json")
        # The pruner judges no trial before PRUNER_STARTUP_TRIALS have completed and a
        # timeout never stops the first trial, so there is always a complete best trial.
        best = study.best_trial
        best_params = {**best.params, "n_estimators": int(best.user_attrs["best_iteration"])}
        mlflow.log_params({f"best.{k}": v for k, v in best_params.items()})
        mlflow.log_metric("best_valid_auc", float(best.value))
        mlflow.set_tag("best_trial", str(best.number))
        default_auc = default_valid_auc(split, feature_columns, seed=seed)
        kept = float(best.value) > default_auc
        choice = (f"trial {best.number} kept: validation ROC AUC {best.value:.4f} beats the "
                  f"default configuration's {default_auc:.4f}" if kept else
                  f"trial {best.number} not kept: its validation ROC AUC {best.value:.4f} does "
                  f"not beat the default configuration's {default_auc:.4f}, so the default is "
                  "retrained")
        mlflow.log_metric("default_valid_auc", default_auc)
        mlflow.set_tag("choice", choice)

        final, final_metrics = None, {}
        if retrain:
            final, final_metrics = _retrain_best(
                ts, split, replace(config, lightgbm=best_params if kept else {},
                                   experiment=experiment),
                promote=promote, best_trial=int(best.number), valid_auc=float(best.value),
                sampler=sampler_text, pruner=pruner_text,
            )
            mlflow.log_metrics({f"final_test_{k}": v for k, v in final_metrics.items()
                                if math.isfinite(v)})
            mlflow.set_tags({"final.run_id": final.run_id,
                             "final.version": final.decision.version,
                             "final.alias": final.decision.alias,
                             "final.reason": final.decision.reason})
    return ExperimentResult(
        experiment=experiment,
        parent_run_id=parent.info.run_id,
        best_trial=int(best.number),
        best_params=best_params,
        best_valid_auc=float(best.value),
        trials=table,
        final=final,
        final_metrics=final_metrics,
        default_valid_auc=default_auc,
        kept_best=kept,
        choice=choice,
    )


def default_valid_auc(split: Split, feature_columns: list[str], *, seed: int) -> float:
    """Validation ROC AUC of the default configuration: what ``train`` fits without a search.

    The same tree-size choice and indicator selection as the trainer
    (:func:`models.selection.fit_selected`, both on the validation dates), uncalibrated
    like the trials.
    """
    categorical = categorical_columns(split.train, feature_columns)
    model, _, selection = fit_selected(
        split.train[feature_columns], split.train[LABEL].astype(int),
        split.valid[feature_columns], split.valid[LABEL].astype(int),
        seed=seed, categorical=categorical)
    proba = model.predict_proba(split.valid[selection.kept])[:, 1]
    return float(roc_auc(split.valid[LABEL].astype(int), proba))


def _retrain_best(
    ts: TrainingSet, split: Split, config: TrainingConfig, *, promote: bool, best_trial: int,
    valid_auc: float, sampler: str, pruner: str,
):
    """Refit the best trial (its parameters in ``config.lightgbm``) through the trainer,
    nested in the experiment's run.

    The trainer fits on the same training dates, calibrates on the validation dates,
    compares with the baselines on the out-of-time test dates, logs the pyfunc model and
    applies the registry's promotion rule, so an experiment's model is held to exactly the
    same standard as one from ``customer-health train``.
    """
    result = train_from_training_set(
        ts, config, split=split, promote=promote, run_name=f"best-trial-{best_trial:03d}",
        nested=True,
        extra_params={"experiment": {
            "best_trial": best_trial, "best_valid_auc": valid_auc,
            "sampler": sampler, "pruner": pruner,
        }},
    )
    metrics = {k: float(v) for k, v in result.comparison.loc[CHOSEN].items()}
    return result, metrics
