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
from collections.abc import Mapping
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
from models.explain import DEFAULT_TOP, drivers_from_contributions, top_drivers

RISK_BANDS = ("high", "medium", "low")
# The riskiest 10% are "high" (the share the lift metric reads), the next 20% "medium".
DEFAULT_BAND_SHARES = (0.10, 0.30)
OUTPUT_COLUMNS = ("churn_probability", "risk_band", "top_drivers")
# Frames up to this many rows are predicted on one thread (see _FastPath.predict).
SINGLE_THREAD_ROWS = 5000


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


class _FastPath:
    """The booster and what it takes to turn typed columns into its input matrix."""

    def __init__(self, booster, columns: list[str], numeric: list[str],
                 categories: dict[str, pd.Index]) -> None:
        self.booster, self.columns, self.categories = booster, columns, categories
        position = {c: j for j, c in enumerate(numeric)}
        self.numeric_at = [j for j, c in enumerate(columns) if c not in categories]
        self.numeric_from = [position[columns[j]] for j in self.numeric_at]
        self.categorical_at = [(j, columns[j]) for j, c in enumerate(columns) if c in categories]
        self.codes = {c: {label: float(code) for code, label in enumerate(index)}
                      for c, index in categories.items()}

    def predict(self, matrix: np.ndarray, **kwargs) -> np.ndarray:
        """The booster's probability (or ``pred_contrib=True`` contributions) on one thread.

        Left to its default, LightGBM runs OpenMP on every core, and its idle threads spin
        between calls: on the 2-core service machine a one-account prediction then took 8 ms
        instead of 0.05 ms. Requests (at most a few thousand rows) therefore run on one
        thread, concurrent requests keeping the cores busy (the prediction releases the
        GIL); large batch-job frames keep every core. Rows are predicted independently, so
        the numbers do not depend on the thread count.
        """
        threads = 1 if len(matrix) <= SINGLE_THREAD_ROWS else 0  # 0: LightGBM's default
        return self.booster.predict(matrix, num_threads=threads, **kwargs)

    def matrix(self, numeric: list[str], values: np.ndarray,
               labels: dict[str, np.ndarray]) -> np.ndarray:
        """Float matrix in the booster's column order; codes of unseen or missing text are NaN."""
        out = np.empty((len(values), len(self.columns)), dtype="float64")
        out[:, self.numeric_at] = values[:, self.numeric_from]
        for j, column in self.categorical_at:
            # A dict lookup per value: a pandas indexer costs a millisecond per call, most
            # of a one-account request, and the dict is as quick for a batch job's frame.
            codes = self.codes[column]
            out[:, j] = [codes.get(label, np.nan) for label in labels[column]]
        return out


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

        Numeric columns are converted as one block when they already hold numbers (the usual
        case: a single ``to_numpy`` instead of a conversion per column); a column of another
        type is coerced on its own, anything that is not a number becoming NaN.

        Raises
        ------
        ValueError
            When feature columns are missing, naming them.

        Examples
        --------
        >>> model = ChurnModel(None, None, ["plan", "mrr"], ["plan"], (0.5, 0.2))
        >>> out = model.input_frame(pd.DataFrame({"mrr": [1, None], "plan": ["a", None], "x": 1}))
        >>> out.dtypes.astype(str).to_dict(), out["plan"].tolist(), out["mrr"].tolist()
        ({'plan': 'object', 'mrr': 'float64'}, ['a', None], [1.0, nan])
        """
        return self._frame_of(*self._typed(frame), frame.index)

    def _frame_of(self, numeric: list[str], values: np.ndarray, labels: dict[str, np.ndarray],
                  index: pd.Index) -> pd.DataFrame:
        numbers = pd.DataFrame(values, index=index, columns=numeric)
        texts = pd.DataFrame({c: pd.Series(v, index=index, dtype=object)
                              for c, v in labels.items()}, index=index)
        return pd.concat([numbers, texts], axis=1)[self.feature_columns]

    def _check_columns(self, present) -> None:
        present = set(present)
        missing = [c for c in self.feature_columns if c not in present]
        if missing:
            raise ValueError(
                f"the input lacks {len(missing)} indicator column(s) the model needs: "
                f"{', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}; compute them "
                "with features.indicators.compute_indicators (all-missing columns are fine)"
            )

    def _typed(self, frame: pd.DataFrame) -> tuple[list[str], np.ndarray, dict[str, np.ndarray]]:
        """(numeric column names, their float64 matrix, {categorical: object array of text/None}).

        Raises
        ------
        ValueError
            When feature columns are missing, naming them.
        """
        self._check_columns(frame.columns)
        categorical = set(self.categorical)
        numeric = [c for c in self.feature_columns if c not in categorical]
        block = frame[numeric]
        # Numeric dtypes (booleans as 0/1, as to_numeric reads them) convert as they are.
        ready = [pd.api.types.is_numeric_dtype(dtype) for dtype in block.dtypes]
        if all(ready):
            values = block.to_numpy(dtype="float64", na_value=np.nan)
        else:
            values = np.empty((len(frame), len(numeric)), dtype="float64")
            for position, plain in enumerate(ready):
                series = block.iloc[:, position]
                values[:, position] = (
                    series.to_numpy(dtype="float64", na_value=np.nan) if plain
                    else pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
                )
        labels = {}
        for column in self.feature_columns:
            if column in categorical:
                raw = frame[column].to_numpy(dtype=object)
                labels[column] = np.array([None if pd.isna(v) else str(v) for v in raw],
                                          dtype=object)
        return numeric, values, labels

    def _booster_inputs(self):
        """(booster, column positions, categorical lookups) for the fast path, or None.

        The fast path encodes the typed input straight into the float matrix LightGBM reads
        (category codes as numbers, NaN for missing or unseen), which is exactly what the
        pipeline's ``FrameEncoder`` followed by LightGBM's own pandas conversion produce, but
        in one vectorised step instead of per-column conversions repeated for the probability
        and again for the drivers. It is used only when the pipeline is that pair and the
        booster's recorded columns and categories are the encoder's (always, for models this
        project trains); anything else goes through the pipeline. Built once per process.
        """
        cached = getattr(self, "_fast", False)
        if cached is not False:
            return cached
        fast = None
        steps = getattr(self.pipeline, "named_steps", {})
        encoder, classifier = steps.get("encode"), steps.get("model")
        booster = getattr(classifier, "booster_", None) if classifier is not None else None
        if (len(steps) == 2 and hasattr(encoder, "categories_") and booster is not None
                and not callable(getattr(classifier, "objective_", None))
                and getattr(classifier, "n_classes_", 2) == 2):
            columns = list(encoder.feature_names_in_)
            categories = [list(encoder.categories_[c]) for c in columns if c in encoder.categories_]
            if (categories == [list(c) for c in (booster.pandas_categorical or [])]
                    and columns == booster.feature_name()
                    and set(columns) <= set(self.feature_columns)
                    and set(encoder.categories_) <= set(self.categorical)):
                numeric = [c for c in self.feature_columns if c not in set(self.categorical)]
                fast = _FastPath(booster, columns, numeric, {
                    c: pd.Index(encoder.categories_[c], dtype=object) for c in encoder.categories_
                })
        self._fast = fast
        return fast

    def __getstate__(self) -> dict:
        # The fast-path lookups are rebuilt after loading; the pickled model stays the same.
        state = dict(self.__dict__)
        state.pop("_fast", None)
        return state

    def _calibrated(self, raw: np.ndarray) -> np.ndarray:
        return raw if self.calibrator is None else self.calibrator.transform(raw)

    def churn_probability(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated churn probabilities for the rows of ``frame``."""
        fast = self._booster_inputs() if len(frame) else None
        if fast is None:
            return self._calibrated(self.pipeline.predict_proba(self.input_frame(frame))[:, 1])
        return self._calibrated(fast.predict(fast.matrix(*self._typed(frame))))

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Probability, band and drivers, indexed like ``frame`` (what pyfunc ``predict`` returns).

        The input is typed once and, for this project's LightGBM pipelines, encoded once into
        the matrix that gives both the probability and the SHAP contributions of the drivers
        (:meth:`predict_typed`).
        """
        proba, bands, drivers = self.predict_typed(*self._typed(frame))
        return pd.DataFrame({
            "churn_probability": proba,
            "risk_band": bands,
            "top_drivers": drivers,
        }, index=frame.index)

    def predict_columns(self, numbers: Mapping[str, np.ndarray], labels: Mapping[str, Any],
                        rows: int) -> tuple[np.ndarray, list[str], list[list[dict]]]:
        """:meth:`predict_typed` from arrays by indicator name, with no frame built.

        The HTTP service's path: a request's values go straight into the booster's matrix.

        Parameters
        ----------
        numbers : mapping of str to ndarray
            Float64 values (NaN for no data) of the numeric indicators, ``rows`` each.
        labels : mapping of str to sequence
            Text (None for no data) of the categorical indicators.
        rows : int
            Accounts.

        Raises
        ------
        ValueError
            When feature columns are missing, naming them.
        """
        self._check_columns([*numbers, *labels])
        categorical = set(self.categorical)
        numeric = [c for c in self.feature_columns if c not in categorical]
        values = np.empty((rows, len(numeric)), dtype="float64")
        for j, column in enumerate(numeric):
            values[:, j] = numbers[column]
        texts = {c: np.array([None if v is None else str(v) for v in labels[c]], dtype=object)
                 for c in self.feature_columns if c in categorical}
        return self.predict_typed(numeric, values, texts)

    def predict_typed(self, numeric: list[str], values: np.ndarray, labels: dict[str, np.ndarray]
                      ) -> tuple[np.ndarray, list[str], list[list[dict]]]:
        """(calibrated probabilities, risk bands, drivers) of typed rows (:meth:`_typed`'s output).

        The one prediction core of :meth:`predict_frame` (the batch job) and
        :meth:`predict_columns` (the service), so both give the same numbers.
        """
        fast = self._booster_inputs() if len(values) else None
        if fast is None:
            X = self._frame_of(numeric, values, labels, pd.RangeIndex(len(values)))
            proba = self._calibrated(self.pipeline.predict_proba(X)[:, 1])
            drivers = top_drivers(self.pipeline, X, top=self.top) if len(X) else []
        else:
            matrix = fast.matrix(numeric, values, labels)
            proba = self._calibrated(fast.predict(matrix))
            contrib = fast.predict(matrix, pred_contrib=True)
            raw = {**{c: values[:, j] for j, c in enumerate(numeric)}, **labels}
            drivers = drivers_from_contributions(contrib[:, :-1], fast.columns, raw, top=self.top)
        return proba, risk_bands(proba, self.thresholds), drivers

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
