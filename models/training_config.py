"""Every training setting in one frozen value, its default declared once.

:class:`TrainingConfig` is what the trainer (:mod:`models.trainer`) and the experiment
(:mod:`models.experiment`) run with. The command line builds it with
:meth:`TrainingConfig.from_toml`: the TOML file of ``--config``, then the options that were
given on the command line on top. Nothing else reads a configuration file.

This module imports nothing heavy, so the command line can read the defaults for its help
texts without loading the models.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any


class TrainerError(ValueError):
    """A training request that cannot run as given; the message names the option to change."""


def _not_in_file(default=None) -> Any:
    """A setting given on the command line or in code, not in the configuration file."""
    return field(default=default, metadata={"file": False})


@dataclass(frozen=True)
class TrainingConfig:
    """Every setting of a training run, with its default.

    Attributes
    ----------
    horizon : int, default 90
        Label window in days: churned within ``horizon`` days after the observation date
        plus ``lead``.
    every : int, default 30
        Days between observation dates.
    lead : int, default 0
        Days between an observation date and its label window.
    windows : tuple of int, default (30, 90, 180)
        Indicator windows in days.
    valid_dates, test_dates : int, default 2
        Latest labelled observation dates held out for calibration (and the experiment's
        objective) and for the out-of-time test.
    seed : int, default 0
        Seeds every model, the cross-validation folds and the experiment's sampler.
    calibration : {"sigmoid", "isotonic"}
        How LightGBM's probabilities are calibrated (see
        :class:`models.estimators.Calibrator` for why sigmoid is the default).
    lightgbm : mapping
        ``LGBMClassifier`` parameters overriding
        :data:`models.estimators.LIGHTGBM_DEFAULTS` (read-only).
    scorecard : path, Scorecard or None
        The scorecard of the health-score baseline: a TOML file (a relative path in a
        configuration file is relative to that file), a loaded
        :class:`features.scorecard.Scorecard`, or None for the default one.
    experiment : str or None
        MLflow experiment; None for :data:`models.tracking.DEFAULT_EXPERIMENT`.
    model_name : str or None
        Registered model name; None for the mode's default
        (:data:`models.registry.DEFAULT_MODEL_NAME`, or
        :data:`models.trainer.FLAT_MODEL_NAME` for a flat table).
    label, id_column, positive : str or None
        Flat table: the churn label column, the account id column and the label value
        meaning churned (see :func:`models.flat_table.prepare_flat_table`). Not read from
        the configuration file.
    labels_until : Timestamp or None
        The last day whose churn is known (``--labels-until``); None takes it from the
        churn data (:func:`models.label_end.label_end`). Not read from the configuration
        file: it changes with every export.
    folds : int, default 5
        Flat table: stratified cross-validation folds. Not read from the configuration file.
    trials : int, default 20
        Experiment: hyperparameter trials (pruned ones count). Not read from the
        configuration file.

    Raises
    ------
    TrainerError
        For a calibration method that does not exist or LightGBM parameters that are not a
        table.

    Examples
    --------
    >>> config = TrainingConfig(every=45)
    >>> config.horizon, config.every, config.windows
    (90, 45, (30, 90, 180))
    >>> TrainingConfig(calibration="platt")
    Traceback (most recent call last):
    ...
    models.training_config.TrainerError: calibration must be one of sigmoid, isotonic, got 'platt'
    """

    horizon: int = 90
    every: int = 30
    lead: int = 0
    windows: tuple[int, ...] = (30, 90, 180)
    valid_dates: int = 2
    test_dates: int = 2
    seed: int = 0
    calibration: str = "sigmoid"
    lightgbm: Mapping[str, Any] = field(default_factory=dict)
    scorecard: Any = None
    experiment: str | None = None
    model_name: str | None = None
    label: str | None = _not_in_file()
    id_column: str | None = _not_in_file()
    positive: str | None = _not_in_file()
    labels_until: Any = _not_in_file()
    folds: int = _not_in_file(5)
    trials: int = _not_in_file(20)

    def __post_init__(self):
        from models.estimators import CALIBRATION_METHODS

        if self.calibration not in CALIBRATION_METHODS:
            raise TrainerError(
                f"calibration must be one of {', '.join(CALIBRATION_METHODS)}, "
                f"got {self.calibration!r}"
            )
        if not isinstance(self.lightgbm, Mapping):
            raise TrainerError(
                f"lightgbm must be a table of LightGBM parameters, got {self.lightgbm!r}")
        # Frozen all the way down: the parameters cannot be changed behind the config's back.
        object.__setattr__(self, "lightgbm", MappingProxyType(dict(self.lightgbm)))
        if isinstance(self.windows, Sequence) and not isinstance(self.windows, str):
            object.__setattr__(self, "windows", tuple(self.windows))

    @classmethod
    def from_toml(cls, path: str | os.PathLike | None = None, **overrides) -> TrainingConfig:
        """The settings of a TOML file (see :func:`read_config`), then ``overrides``.

        Parameters
        ----------
        path : path, optional
            The configuration file; None for the defaults alone.
        **overrides
            Settings given on the command line, by attribute name; ``None`` means "not
            given" and keeps the file's value or the default.

        Raises
        ------
        TrainerError
            For an unreadable file, an unknown key or a bad value (see :func:`read_config`).
        TypeError
            For an override that is not a setting.

        Examples
        --------
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> _ = (folder / "train.toml").write_text("every = 45\\nseed = 3\\n[lightgbm]\\nnum_leaves = 7\\n")
        >>> config = TrainingConfig.from_toml(folder / "train.toml", seed=None, horizon=60)
        >>> config.every, config.seed, config.horizon, dict(config.lightgbm)
        (45, 3, 60, {'num_leaves': 7})
        >>> TrainingConfig.from_toml(None, every=None) == TrainingConfig()
        True
        """
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise TypeError(f"unknown training setting(s) {', '.join(unknown)}; settings are "
                            f"{', '.join(sorted(names))}")
        settings = read_config(path) if path is not None else {}
        given = {name: value for name, value in overrides.items() if value is not None}
        return cls(**{**settings, **given})


def setting_default(name: str) -> Any:
    """The default of one setting, read without building a config (which loads the models).

    For help texts that state a default without repeating it.

    Examples
    --------
    >>> setting_default("horizon"), setting_default("trials"), setting_default("lightgbm")
    (90, 20, {})
    """
    for setting in fields(TrainingConfig):
        if setting.name == name:
            return setting.default_factory() if setting.default is MISSING else setting.default
    raise KeyError(f"no training setting {name!r}")


# The keys a configuration file may set: every setting but the command-line-only ones.
CONFIG_KEYS = frozenset(f.name for f in fields(TrainingConfig) if f.metadata.get("file", True))


def read_config(path: str | os.PathLike) -> dict:
    """Read a training configuration TOML file.

    Top-level keys: ``horizon``, ``every``, ``lead``, ``windows``, ``seed``, ``experiment``,
    ``calibration``, ``valid_dates``, ``test_dates``, ``scorecard`` (path of a scorecard TOML,
    relative to the config file), ``model_name``, and a ``[lightgbm]`` table of
    ``LGBMClassifier`` parameters (the attributes of :class:`TrainingConfig`). Command-line
    options override the file.

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
