"""The churn models: LightGBM (the default), a logistic baseline, the scorecard as a predictor.

Every model is one scikit-learn compatible object that takes the raw indicator frame and does
its own preprocessing, so a logged model scores raw features on its own (STYLE.md rule 4):

- :func:`make_lightgbm` / :func:`fit_lightgbm`: a ``Pipeline`` of :class:`FrameEncoder`
  (numbers as float, categoricals as pandas categories with the training categories fixed)
  and an ``LGBMClassifier``. LightGBM handles missing values and categories natively, so
  nothing is imputed: "no data" stays distinguishable from 0.
- :func:`make_logistic`: median imputation with missing-value indicators and scaling for
  numbers, a constant fill and one-hot encoding for categoricals, then ``LogisticRegression``.
- :class:`ScorecardPredictor`: the deterministic health score as a churn predictor
  (risk = 100 − health score), mapped to a probability scale by a one-variable logistic fit,
  which is monotone and so leaves its ranking (ROC AUC, lift) exactly that of the score.
- :class:`Calibrator`: maps a model's probabilities to calibrated ones on a held-out window.

The LightGBM defaults are deliberately modest and were not tuned to any one data set: 200
trees of at most 8 leaves (depth 4) at learning rate 0.05. Small trees keep SHAP
explanations cheap (TreeSHAP costs trees × leaves × depth² per row;
``benchmarks/bench_train.py`` measures 100,000 rows) and generalise well on the few
thousand labelled rows a churn table has.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

LIGHTGBM_DEFAULTS: dict = {
    # Small trees: TreeSHAP (pred_contrib) costs rows x trees x leaves x depth^2. With 300
    # trees of 15 leaves / depth 6, explaining 100,000 rows of 100 indicators took 140 s on
    # a loaded 2-core machine; 200 trees of 8 leaves / depth 4 take about 19 s there, and
    # the Telco 5-fold ROC AUC is unchanged (0.848 vs 0.846).
    "n_estimators": 200,
    "learning_rate": 0.05,
    "num_leaves": 8,
    "max_depth": 4,
    "min_child_samples": 40,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    # One thread: LightGBM's OpenMP threads busy-wait, and on a machine whose cores are
    # shared with other work, two threads measured 8-15x slower than one (0.9 s vs 7-15 s
    # on the Telco table). Raise it through params on a dedicated machine.
    "n_jobs": 1,
    "verbose": -1,
    # Bit-for-bit repeatable fits for the same seed and data (STYLE.md rule 2).
    "deterministic": True,
    "force_col_wise": True,
}

LOGISTIC_DEFAULTS: dict = {"C": 1.0, "max_iter": 2000}

CALIBRATION_METHODS = ("sigmoid", "isotonic")


def categorical_columns(frame: pd.DataFrame, columns: list[str] | None = None) -> list[str]:
    """The columns holding categories rather than numbers (text, booleans, categoricals).

    Examples
    --------
    >>> frame = pd.DataFrame({"plan": ["a", "b"], "mrr": [1.0, 2.0], "ok": [True, False]})
    >>> categorical_columns(frame)
    ['plan', 'ok']
    """
    columns = list(frame.columns) if columns is None else list(columns)
    return [c for c in columns if not _is_numeric(frame[c])]


def _is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def usable_feature_columns(frame: pd.DataFrame, columns: list[str]) -> tuple[list[str], dict[str, str]]:
    """Split feature columns into those a model can learn from and those it cannot, with why.

    A column with no observed value (e.g. every indicator of an absent table) or a single
    value carries no signal; keeping it only makes imputers warn.

    Examples
    --------
    >>> frame = pd.DataFrame({"a": [1.0, 2.0], "b": [np.nan, np.nan], "c": [3, 3]})
    >>> usable_feature_columns(frame, ["a", "b", "c"])
    (['a'], {'b': 'no observed value', 'c': 'a single value (3)'})
    """
    kept, dropped = [], {}
    for column in columns:
        observed = frame[column].dropna()
        if observed.empty:
            dropped[column] = "no observed value"
        elif observed.nunique() == 1:
            dropped[column] = f"a single value ({observed.iloc[0]!r})" if not _is_numeric(
                observed) else f"a single value ({observed.iloc[0]:g})"
        else:
            kept.append(column)
    return kept, dropped


class FrameEncoder(TransformerMixin, BaseEstimator):
    """Numbers as float64 and categoricals as pandas categories fixed at fit time.

    Categories unseen at fit time become missing rather than new codes, so scoring never
    shifts the codes LightGBM learned. The output keeps the column names and the index.

    Parameters
    ----------
    categorical : list of str or None
        Columns to treat as categories; None detects them (text and booleans).

    Examples
    --------
    >>> train = pd.DataFrame({"plan": ["a", "b", "a"], "mrr": [1, 2, 3]})
    >>> enc = FrameEncoder().fit(train)
    >>> out = enc.transform(pd.DataFrame({"plan": ["b", "z"], "mrr": [5, None]}))
    >>> out["plan"].tolist(), out["mrr"].tolist()
    (['b', nan], [5.0, nan])
    """

    def __init__(self, categorical: list[str] | None = None):
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y=None) -> FrameEncoder:
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.categorical_ = (
            categorical_columns(X) if self.categorical is None else list(self.categorical)
        )
        self.categories_ = {
            c: sorted(_as_text(X[c]).dropna().unique().tolist()) for c in self.categorical_
        }
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        columns = list(self.feature_names_in_)
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise ValueError(
                f"the input lacks {len(missing)} feature column(s) the model was trained on: "
                f"{', '.join(missing[:10])}; pass every indicator column (all-missing is fine)"
            )
        out = {}
        for column in columns:
            if column in self.categories_:
                out[column] = pd.Categorical(
                    _as_text(X[column]), categories=self.categories_[column]
                )
            else:
                out[column] = pd.to_numeric(X[column], errors="coerce").astype("float64")
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.asarray(self.feature_names_in_, dtype=object)


def _as_text(values: pd.Series) -> pd.Series:
    """Category values as text with real missing values (pandas 3 strings, None, NaN)."""
    result = values.astype(object).where(values.notna(), None)
    return pd.Series(
        [None if v is None else str(v) for v in result], index=values.index, dtype=object
    )


def make_lightgbm(
    categorical: list[str] | None = None, *, params: dict | None = None, seed: int = 0
) -> Pipeline:
    """An unfitted LightGBM pipeline: :class:`FrameEncoder` then ``LGBMClassifier``.

    Parameters
    ----------
    categorical : list of str or None
        Categorical columns; None detects them at fit time.
    params : dict, optional
        Overrides of :data:`LIGHTGBM_DEFAULTS` (any ``LGBMClassifier`` parameter).
    seed : int
        ``random_state`` of the booster (bagging and feature sampling).

    Examples
    --------
    >>> make_lightgbm(seed=3).named_steps["model"].get_params()["random_state"]
    3
    """
    settings = {**LIGHTGBM_DEFAULTS, **(params or {}), "random_state": seed}
    return Pipeline([("encode", FrameEncoder(categorical)), ("model", LGBMClassifier(**settings))])


def fit_lightgbm(
    X: pd.DataFrame, y, *, params: dict | None = None, seed: int = 0,
    categorical: list[str] | None = None,
) -> Pipeline:
    """Fit the LightGBM pipeline on raw feature columns ``X`` and 0/1 labels ``y``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"x": rng.normal(size=400), "plan": rng.choice(["a", "b"], 400)})
    >>> y = (X["x"] + rng.normal(size=400) > 0).astype(int)
    >>> model = fit_lightgbm(X, y, params={"n_estimators": 20})
    >>> model.predict_proba(X).shape
    (400, 2)
    """
    _check_labels(y)
    return make_lightgbm(categorical, params=params, seed=seed).fit(X, np.asarray(y, dtype=int))


def make_logistic(
    categorical: list[str] | None = None, *, params: dict | None = None, seed: int = 0
) -> Pipeline:
    """An unfitted logistic-regression baseline with its preprocessing.

    Numbers: median imputation plus a missing-value indicator (missing is information: "no
    survey answered"), then standard scaling. Categoricals: a constant "missing" category,
    then one-hot encoding that ignores categories unseen at fit time.

    Parameters
    ----------
    categorical : list of str or None
        Categorical columns; None detects them (text and booleans) at fit time.
    params : dict, optional
        Overrides of :data:`LOGISTIC_DEFAULTS`.
    seed : int
        ``random_state`` of the solver.
    """
    settings = {**LOGISTIC_DEFAULTS, **(params or {}), "random_state": seed}
    numeric_steps = Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
        ("scale", StandardScaler()),
    ])
    categorical_steps = Pipeline([
        ("text", FunctionTransformer(_categories_as_text, feature_names_out="one-to-one")),
        ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
        ("onehot", OneHotEncoder(handle_unknown="ignore")),
    ])
    pick_numeric = _NumericSelector(categorical)
    pick_categorical = _CategoricalSelector(categorical)
    prepare = ColumnTransformer(
        [("num", numeric_steps, pick_numeric), ("cat", categorical_steps, pick_categorical)],
        sparse_threshold=0.0,
    )
    return Pipeline([("prepare", prepare), ("model", LogisticRegression(**settings))])


class _NumericSelector:
    """Column selector (picklable, unlike a lambda) for the numeric columns."""

    def __init__(self, categorical: list[str] | None):
        self.categorical = categorical

    def __call__(self, frame: pd.DataFrame) -> list[str]:
        cats = set(categorical_columns(frame) if self.categorical is None else self.categorical)
        return [c for c in frame.columns if c not in cats]


class _CategoricalSelector(_NumericSelector):
    def __call__(self, frame: pd.DataFrame) -> list[str]:
        cats = set(categorical_columns(frame) if self.categorical is None else self.categorical)
        return [c for c in frame.columns if c in cats]


def _categories_as_text(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({c: _as_text(frame[c]) for c in frame.columns}, index=frame.index)


def fit_logistic(
    X: pd.DataFrame, y, *, params: dict | None = None, seed: int = 0,
    categorical: list[str] | None = None,
) -> Pipeline:
    """Fit the logistic baseline on raw feature columns ``X`` and 0/1 labels ``y``.

    Examples
    --------
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0, None, 5.0], "plan": list("aabbab")})
    >>> model = fit_logistic(X, [0, 0, 0, 1, 1, 1])
    >>> float(model.predict_proba(X)[:, 1].round(2).min()) >= 0
    True
    """
    _check_labels(y)
    return make_logistic(categorical, params=params, seed=seed).fit(X, np.asarray(y, dtype=int))


def _check_labels(y) -> None:
    values = pd.Series(np.asarray(y)).dropna().unique()
    if len(values) < 2:
        raise ValueError(
            f"the labels hold a single class ({values.tolist()}); a churn model needs both "
            "churned and retained accounts: use a longer history or a longer horizon"
        )


class ScorecardPredictor(ClassifierMixin, BaseEstimator):
    """The deterministic health score used as a churn predictor: risk = 100 − score.

    ``fit`` learns only a one-variable logistic map from risk to probability on the training
    rows, so that Brier score and log loss are comparable with the trained models; the map is
    monotone, so ROC AUC, PR AUC and lift are exactly those of the raw score. Accounts whose
    score is undefined (coverage below the scorecard minimum) get the training base rate.

    Parameters
    ----------
    scorecard : features.scorecard.Scorecard or None
        The scorecard; None loads the default one.
    """

    def __init__(self, scorecard=None):
        self.scorecard = scorecard

    def resolved_scorecard(self):
        if self.scorecard is not None:
            return self.scorecard
        from features.scorecard_config import load_scorecard

        return load_scorecard()

    def scores(self, X: pd.DataFrame) -> pd.DataFrame:
        """The scorecard's output (``health_score``, ``health_band``, ...) for the rows of X."""
        from features.health_score import score_accounts

        return score_accounts(X, self.resolved_scorecard())

    def risk(self, X: pd.DataFrame) -> pd.Series:
        """100 − health score per row (NaN when the score is undefined)."""
        return 100.0 - self.scores(X)["health_score"].astype("float64")

    def fit(self, X: pd.DataFrame, y) -> ScorecardPredictor:
        _check_labels(y)
        y = np.asarray(y, dtype=int)
        risk = self.risk(X).to_numpy()
        known = ~np.isnan(risk)
        self.classes_ = np.array([0, 1])
        self.base_rate_ = float(y.mean())
        self.unscored_share_ = float(1 - known.mean())
        if known.sum() and len(np.unique(y[known])) == 2:
            self.map_ = LogisticRegression(C=1e6, max_iter=1000).fit(risk[known, None], y[known])
        else:
            self.map_ = None
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        risk = self.risk(X).to_numpy()
        proba = np.full(len(risk), self.base_rate_)
        known = ~np.isnan(risk)
        if self.map_ is not None and known.any():
            proba[known] = self.map_.predict_proba(risk[known, None])[:, 1]
        elif known.any():
            proba[known] = risk[known] / 100.0
        return np.column_stack([1 - proba, proba])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


class Calibrator(BaseEstimator):
    """Map raw churn probabilities to calibrated ones, fitted on a held-out window.

    ``sigmoid`` (Platt scaling on the log-odds, the default) fits two numbers, so it is
    stable on a validation window of a few thousand rows with a few hundred churners, and it
    is strictly increasing, so the ranking (ROC AUC, lift, risk bands by share) is unchanged
    and the SHAP drivers stay consistent with the probability. ``isotonic`` is more flexible
    but needs many positives and turns the curve into steps (ties), so it is an option for
    large validation windows only.

    Parameters
    ----------
    method : {"sigmoid", "isotonic"}

    Examples
    --------
    >>> raw = np.array([0.1, 0.2, 0.3, 0.6, 0.7, 0.9])
    >>> cal = Calibrator().fit(raw, [0, 0, 1, 0, 1, 1])
    >>> bool(np.all(np.diff(cal.transform(raw)) > 0))
    True
    """

    def __init__(self, method: str = "sigmoid"):
        self.method = method

    def fit(self, proba, y) -> Calibrator:
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(
                f"calibration method must be one of {CALIBRATION_METHODS}, got {self.method!r}"
            )
        _check_labels(y)
        proba, y = np.asarray(proba, dtype=float), np.asarray(y, dtype=int)
        if self.method == "sigmoid":
            self.model_ = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(proba)[:, None], y)
        else:
            self.model_ = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(proba, y)
        return self

    def transform(self, proba) -> np.ndarray:
        """Calibrated probabilities, computed from the fitted numbers with plain numpy.

        The same values as the fitted scikit-learn model's ``predict_proba`` / ``predict``
        (a sigmoid of the log-odds; a clipped linear interpolation), without its input
        checks, which cost a millisecond per call: most of a one-account HTTP request.

        Examples
        --------
        >>> raw = np.array([0.05, 0.2, 0.4, 0.6, 0.8, 0.95])
        >>> cal = Calibrator().fit(raw, [0, 0, 1, 0, 1, 1])
        >>> bool(np.allclose(cal.transform(raw), cal.model_.predict_proba(_logit(raw)[:, None])[:, 1]))
        True
        >>> iso = Calibrator("isotonic").fit(raw, [0, 0, 1, 0, 1, 1])
        >>> bool(np.allclose(iso.transform([0.0, 0.3, 0.99]), iso.model_.predict([0.0, 0.3, 0.99])))
        True
        """
        proba = np.asarray(proba, dtype=float)
        if self.method == "sigmoid":
            slope, intercept = float(self.model_.coef_[0, 0]), float(self.model_.intercept_[0])
            return expit(slope * _logit(proba) + intercept)
        iso = self.model_
        clipped = np.clip(proba, iso.X_min_, iso.X_max_)
        return np.interp(clipped, iso.X_thresholds_, iso.y_thresholds_)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
