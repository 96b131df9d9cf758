"""The churn model as one MLflow pyfunc: indicator columns in, probability, band, drivers out.

An ``LGBMClassifier`` logged with the LightGBM flavour returns class labels through pyfunc,
which is useless for a risk score. :class:`ChurnModel` instead holds the whole fitted
pipeline (preprocessing included) plus the calibrator and the risk-band cut-offs, and
returns, indexed like its input:

- ``churn_probability``: calibrated probability of churning within the horizon (0-1);
- ``risk_band``: "high" / "medium" / "low" (cut-offs learned on the validation window);
- ``top_drivers``: list of ``{"indicator", "label", "value", "contribution", "text"}`` per
  account (:func:`models.explain.top_drivers`).

Extra input columns are ignored; missing indicator columns are an error naming them.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, Schema
from mlflow.types.schema import AnyType

from models.estimators import Calibrator
from models.explain import DEFAULT_TOP, top_drivers

RISK_BANDS = ("high", "medium", "low")
# The riskiest 10% are "high" (the share the lift metric reads), the next 20% "medium".
DEFAULT_BAND_SHARES = (0.10, 0.30)
OUTPUT_COLUMNS = ("churn_probability", "risk_band", "top_drivers")


def band_thresholds(proba, *, shares: tuple[float, float] = DEFAULT_BAND_SHARES) -> tuple[float, float]:
    """Probability cut-offs (high, medium) so that ``shares`` of these rows are at or above them.

    Examples
    --------
    >>> [round(t, 6) for t in band_thresholds(np.linspace(0, 1, 11), shares=(0.1, 0.3))]
    [0.9, 0.7]
    """
    high_share, medium_share = shares
    if not 0 < high_share < medium_share < 1:
        raise ValueError(f"band shares must satisfy 0 < high < medium < 1, got {shares}")
    p = np.asarray(proba, dtype=float)
    return (float(np.quantile(p, 1 - high_share, method="lower")),
            float(np.quantile(p, 1 - medium_share, method="lower")))


def risk_bands(proba, thresholds: tuple[float, float]) -> list[str]:
    """"high" at or above the first cut-off, "medium" at or above the second, else "low".

    Examples
    --------
    >>> risk_bands([0.5, 0.2, 0.05], (0.4, 0.1))
    ['high', 'medium', 'low']
    """
    high, medium = thresholds
    p = np.asarray(proba, dtype=float)
    return np.where(p >= high, "high", np.where(p >= medium, "medium", "low")).tolist()


class ChurnModel(mlflow.pyfunc.PythonModel):
    """A fitted churn pipeline + calibrator + risk bands, servable through ``mlflow.pyfunc``.

    Parameters
    ----------
    pipeline : sklearn Pipeline
        Fitted LightGBM pipeline (raw feature columns in).
    calibrator : Calibrator or None
        Maps the pipeline's probability to a calibrated one; None keeps it raw.
    feature_columns : list of str
        The indicator columns the pipeline reads, in order.
    categorical : list of str
        Which of them are categories (passed as text).
    thresholds : (float, float)
        Calibrated-probability cut-offs for "high" and "medium" risk.
    top : int
        Drivers per account.
    """

    def __init__(self, pipeline, calibrator: Calibrator | None, feature_columns: list[str],
                 categorical: list[str], thresholds: tuple[float, float], top: int = DEFAULT_TOP):
        self.pipeline = pipeline
        self.calibrator = calibrator
        self.feature_columns = list(feature_columns)
        self.categorical = list(categorical)
        self.thresholds = tuple(float(t) for t in thresholds)
        self.top = top

    def input_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The feature columns of ``frame`` with the logged types: float numbers, text categories.

        Raises
        ------
        ValueError
            When feature columns are missing, naming them.
        """
        missing = [c for c in self.feature_columns if c not in frame.columns]
        if missing:
            raise ValueError(
                f"the input lacks {len(missing)} indicator column(s) the model needs: "
                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}; compute them "
                "with features.indicators.compute_indicators (all-missing columns are fine)"
            )
        out = {}
        for column in self.feature_columns:
            values = frame[column]
            if column in self.categorical:
                out[column] = pd.Series(
                    [None if pd.isna(v) else str(v) for v in values.astype(object)],
                    index=frame.index, dtype=object,
                )
            else:
                out[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        return pd.DataFrame(out, index=frame.index)

    def churn_probability(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities for the rows of ``frame``."""
        raw = self.pipeline.predict_proba(self.input_frame(frame))[:, 1]
        return raw if self.calibrator is None else self.calibrator.transform(raw)

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Probability, band and drivers, indexed like ``frame`` (what pyfunc ``predict`` returns)."""
        X = self.input_frame(frame)
        proba = self.churn_probability(X)
        return pd.DataFrame({
            "churn_probability": proba,
            "risk_band": risk_bands(proba, self.thresholds),
            "top_drivers": top_drivers(self.pipeline, X, top=self.top) if len(X) else [],
        }, index=frame.index)

    # MLflow 3 reads these hints when the class is defined: a ``pd.DataFrame`` input hint is
    # one it accepts without inferring a schema from it (the signature is given explicitly at
    # logging) and without wrapping ``predict`` in type validation, so inputs still go through
    # the signature's schema enforcement and arrive as a DataFrame. Without hints MLflow
    # warns on every import of this module.
    def predict(self, context: Any, model_input: pd.DataFrame,
                params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Probability, band and drivers for ``model_input`` (the pyfunc entry point)."""
        return self.predict_frame(pd.DataFrame(model_input))


def _requirement(package: str) -> str:
    return f"{package}=={importlib.metadata.version(package)}"


def log_churn_model(model: ChurnModel, example: pd.DataFrame, *, name: str = "model"):
    """Log ``model`` as a pyfunc in the active run, with signature and input example.

    The ``models`` package travels with the model (``code_paths``), so loading it needs only
    the pinned libraries, not this repository. Requirements are given, not inferred, which
    skips MLflow's slow inference subprocess.

    Returns
    -------
    mlflow.models.model.ModelInfo
    """
    example = model.input_frame(example)
    # Every column optional: an absent table gives all-missing indicators. Numbers are
    # doubles because indicators may be missing (NaN); MLflow refuses int64 -> double, so
    # callers pass ChurnModel.input_frame(...) (registry.LoadedModel does it for them).
    inputs = Schema([
        ColSpec("string" if column in model.categorical else "double", column, required=False)
        for column in model.feature_columns
    ])
    outputs = Schema([
        ColSpec("double", "churn_probability"),
        ColSpec("string", "risk_band"),
        ColSpec(AnyType(), "top_drivers"),  # list of {indicator, label, value, contribution, text}
    ])
    signature = ModelSignature(inputs=inputs, outputs=outputs)
    package = Path(__file__).resolve().parent
    return mlflow.pyfunc.log_model(
        name=name,
        python_model=model,
        signature=signature,
        input_example=example,
        code_paths=[str(package)],
        pip_requirements=[_requirement(p) for p in
                          ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy")],
    )
