"""Flat-table mode: train on any one-row-per-account table, the way many teams hold their data.

:func:`prepare_flat_table` turns a raw table into features and 0/1 labels:

- blanks (empty or whitespace-only text, such as Telco's ``TotalCharges`` for new customers)
  are missing values;
- text columns whose non-blank values are all numbers are numbers;
- the remaining text and boolean columns are categorical; a text column with a distinct value
  on every row (a customer key) is an identifier, not a feature, and is dropped;
- the label is mapped to 1/0, the positive ("churned") value given or inferred from its name
  (Yes/No, True/False, 1/0, churned/active, ...).

There are no dates, so :func:`cross_validate` scores models with stratified k-fold
cross-validation instead of an out-of-time split.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from models.capacity import fit_with_capacity
from models.estimators import categorical_columns, fit_logistic
from models.evaluation import evaluate
from models.fingerprint import frames_sha256

MAX_EXAMPLES = 5
# Values that mean "churned" in a label column (compared lower-case, trimmed).
POSITIVE_WORDS = frozenset({
    "yes", "y", "true", "t", "1", "1.0", "churn", "churned", "left", "lost", "cancelled",
    "canceled", "exited", "inactive", "gone", "attrited", "terminated",
})


class FlatTableError(ValueError):
    """A flat table that cannot be trained on; the message names the column and the fix."""


@dataclass(frozen=True)
class FlatTable:
    """A flat table ready for training.

    Attributes
    ----------
    X : DataFrame
        Feature columns, indexed by the id column (or the row number).
    y : Series
        0/1 labels aligned with ``X``.
    label, positive : str
        The label column and the value mapped to 1.
    categorical : list of str
        Categorical feature columns.
    dropped : dict
        Columns left out of the features, with the reason.
    fingerprint : dict
        Hash, rows, columns and base rate of the data.
    """

    X: pd.DataFrame
    y: pd.Series
    label: str
    positive: str
    categorical: list[str]
    dropped: dict = field(default_factory=dict)
    fingerprint: dict = field(default_factory=dict)

    @property
    def feature_columns(self) -> list[str]:
        return list(self.X.columns)


def read_flat_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV or Parquet table, every CSV column as text first (types are inferred later).

    Reading as text keeps ids such as ``00123`` intact and lets blanks be recognised.
    """
    path = Path(path)
    if not path.is_file():
        raise FlatTableError(f"{path} is not a file: give the CSV or Parquet table to train on")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    if path.suffix.lower() in (".csv", ".txt"):
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    raise FlatTableError(f"{path.name} is neither CSV nor Parquet: save the table as .csv or .parquet")


def _blank_to_missing(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    text = values.astype(object)
    blank = text.map(lambda v: v is None or (isinstance(v, float) and np.isnan(v))
                     or (isinstance(v, str) and (not v.strip() or v.strip().lower() in ("nan", "na", "null", "none"))))
    return text.where(~blank, None).map(lambda v: v.strip() if isinstance(v, str) else v)


def _maybe_numeric(values: pd.Series) -> pd.Series:
    """Numbers when every non-missing value parses as one, else the values unchanged."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    observed = values.dropna()
    parsed = pd.to_numeric(observed, errors="coerce")
    if len(observed) and parsed.notna().all():
        return pd.to_numeric(values, errors="coerce").astype("float64")
    return values


def _examples(rows) -> str:
    rows = list(rows)
    more = f" and {len(rows) - MAX_EXAMPLES} more" if len(rows) > MAX_EXAMPLES else ""
    return ", ".join(str(r) for r in rows[:MAX_EXAMPLES]) + more


def _check_column(frame: pd.DataFrame, column: str, role: str, option: str) -> None:
    if column not in frame.columns:
        close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=3)
        hint = f"did you mean {', '.join(repr(c) for c in close)}? " if close else ""
        raise FlatTableError(
            f"{role} column {column!r} is not in the table; {hint}columns are: "
            f"{', '.join(map(str, frame.columns))}. Fix: pass the right name with {option}"
        )


def _check_unique_id(frame: pd.DataFrame, id_column: str) -> None:
    ids = frame[id_column]
    if ids.isna().any():
        rows = (np.flatnonzero(ids.isna()) + 1).tolist()
        raise FlatTableError(
            f"id column {id_column!r} is blank in {len(rows)} row(s): rows {_examples(rows)} "
            "(1 = first data row). Fix: fill the ids or pass another --id column"
        )
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        values = duplicated.astype(str).unique().tolist()
        rows = (np.flatnonzero(ids.duplicated(keep=False)) + 1).tolist()
        raise FlatTableError(
            f"id column {id_column!r} is not unique: {len(values)} value(s) repeat "
            f"({_examples(repr(v) for v in values)}) in rows {_examples(rows)}. A flat table "
            "needs one row per account. Fix: deduplicate the table or pass another --id column"
        )


def infer_positive(values: list[str], label: str) -> str:
    """The label value that means "churned", from its name.

    Examples
    --------
    >>> infer_positive(["No", "Yes"], "Churn")
    'Yes'
    >>> infer_positive(["0", "1"], "churned")
    '1'
    >>> infer_positive(["active", "churned"], "status")
    'churned'
    """
    positives = [v for v in values if str(v).strip().lower() in POSITIVE_WORDS]
    if len(positives) == 1:
        return positives[0]
    raise FlatTableError(
        f"cannot tell which value of label column {label!r} means churned: it holds "
        f"{', '.join(repr(v) for v in values)}. Fix: give it with --positive VALUE"
    )


def _labels(frame: pd.DataFrame, label: str, positive: str | None) -> tuple[pd.Series, str]:
    raw = _blank_to_missing(frame[label])
    if raw.isna().any():
        rows = (np.flatnonzero(raw.isna()) + 1).tolist()
        raise FlatTableError(
            f"label column {label!r} is blank in {len(rows)} row(s): rows {_examples(rows)} "
            "(1 = first data row). Fix: fill in the outcome or drop those rows"
        )
    text = raw.map(_label_text)
    values = sorted(text.unique().tolist())
    if len(values) < 2:
        raise FlatTableError(
            f"label column {label!r} holds a single class ({values[0]!r} on all {len(text)} "
            "rows): a churn model needs churned and retained accounts. Fix: use a table that "
            "has both, or check that --label names the outcome column"
            if values else f"the table has no rows to train on (label column {label!r})"
        )
    if len(values) > 2:
        raise FlatTableError(
            f"label column {label!r} holds {len(values)} values ({_examples(repr(v) for v in values)}); "
            "it must hold exactly two (churned or not). Fix: map it to two values first"
        )
    if positive is None:
        positive = infer_positive(values, label)
    else:
        positive = _label_text(positive)
        if positive not in values:
            raise FlatTableError(
                f"--positive {positive!r} is not a value of label column {label!r}, which holds "
                f"{', '.join(repr(v) for v in values)}. Fix: give one of those"
            )
    return (text == positive).astype(int), positive


def _label_text(value) -> str:
    """Labels compared as text; 1.0 and 1 are the same label."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value).strip()


def prepare_flat_table(
    frame: pd.DataFrame, *, label: str, id_column: str | None = None,
    positive: str | None = None, source: str | None = None,
) -> FlatTable:
    """Features and 0/1 labels from a one-row-per-account table.

    Parameters
    ----------
    frame : DataFrame
        The raw table (not modified).
    label : str
        The outcome column.
    id_column : str, optional
        The account key; must be unique. Without it, rows are numbered and a text column
        with a distinct value on every row is dropped as an identifier.
    positive : str, optional
        The label value meaning churned; inferred when not given.
    source : str, optional
        Where the table came from, for the fingerprint.

    Raises
    ------
    FlatTableError
        Unknown label or id column, non-unique or blank ids, blank labels, a label with one
        class or more than two values, a positive value that cannot be inferred or is absent.

    Examples
    --------
    >>> raw = pd.DataFrame({"id": ["a", "b", "c", "d"], "plan": ["x", "y", "x", "y"],
    ...                     "charges": ["1.5", " ", "3", "4"], "Churn": ["Yes", "No", "No", "Yes"]})
    >>> table = prepare_flat_table(raw, label="Churn", id_column="id")
    >>> table.y.tolist(), table.categorical, table.X["charges"].tolist()
    ([1, 0, 0, 1], ['plan'], [1.5, nan, 3.0, 4.0])
    """
    _check_column(frame, label, "label", "--label")
    if id_column is not None:
        _check_column(frame, id_column, "id", "--id")
        ids = _blank_to_missing(frame[id_column])
        _check_unique_id(frame.assign(**{id_column: ids}), id_column)
    y, positive = _labels(frame, label, positive)

    features, dropped = {}, {}
    for column in frame.columns:
        if column in (label, id_column):
            continue
        values = _maybe_numeric(_blank_to_missing(frame[column]))
        observed = values.dropna()
        if observed.empty:
            dropped[column] = "no value in any row"
        elif observed.nunique() == 1:
            dropped[column] = "the same value on every row"
        elif (not pd.api.types.is_numeric_dtype(values) and id_column is None
              and observed.nunique() == len(frame) and len(frame) > 20):
            dropped[column] = "a distinct value on every row (an identifier, not a feature)"
        else:
            features[str(column)] = values
    if not features:
        raise FlatTableError(
            f"no usable feature column besides the label {label!r}: "
            + "; ".join(f"{c}: {why}" for c, why in dropped.items())
        )
    index = (pd.Index(_blank_to_missing(frame[id_column]).astype(str), name=id_column)
             if id_column is not None else pd.RangeIndex(len(frame), name="row"))
    X = pd.DataFrame({c: v.to_numpy() for c, v in features.items()}, index=index)
    categorical = categorical_columns(X)
    for column in categorical:
        X[column] = X[column].astype(object)
    y = pd.Series(y.to_numpy(), index=index, name=label)
    fingerprint = {
        "source": source or "in-memory frame",
        "hash": frames_sha256(frame),
        "rows": len(frame),
        "columns": len(frame.columns),
        "features": len(features),
        "churners": int(y.sum()),
        "base_rate": round(float(y.mean()), 6),
        "label": label,
        "positive": positive,
    }
    return FlatTable(X=X, y=y, label=label, positive=positive, categorical=categorical,
                     dropped=dropped, fingerprint=fingerprint)


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold predictions and per-fold metrics of each model."""

    oof: dict[str, np.ndarray]          # model -> probability for every row, out of fold
    folds: dict[str, list[dict]]        # model -> evaluate() result per fold
    fold_of_row: np.ndarray

    def summary(self) -> pd.DataFrame:
        """Mean and standard deviation over folds of ROC AUC, PR AUC, Brier, log loss, lift."""
        rows = {}
        for model, results in self.folds.items():
            for metric in ("roc_auc", "pr_auc", "brier", "log_loss", "lift_top10", "recall_top10"):
                values = np.array([r[metric] for r in results], dtype=float)
                rows.setdefault(model, {})[metric] = float(np.mean(values))
                rows[model][f"{metric}_std"] = float(np.std(values, ddof=1)) if len(values) > 1 else np.nan
        table = pd.DataFrame(rows).T
        table.index.name = "model"
        return table


def cross_validate(
    table: FlatTable, *, folds: int = 5, seed: int = 0, params: dict | None = None,
    progress=None,
) -> CrossValidation:
    """Stratified k-fold CV of the LightGBM model and the logistic baseline.

    In each fold LightGBM's tree size is chosen on an inner split of the fold's training
    rows (:func:`models.capacity.fit_with_capacity`), never on the fold's test rows.

    Parameters
    ----------
    table : FlatTable
    folds : int
        Number of folds (each keeps the churn rate of the whole table).
    seed : int
        Seeds the fold assignment and the models.
    params : dict, optional
        LightGBM parameter overrides.
    progress : callable, optional
        Called with a short text after each fold (the trainer's progress bar).

    Raises
    ------
    FlatTableError
        When a class has fewer rows than folds.
    """
    counts = table.y.value_counts()
    if counts.min() < folds:
        raise FlatTableError(
            f"label {table.label!r} has only {int(counts.min())} row(s) of class "
            f"{int(counts.idxmin())}; {folds}-fold cross-validation needs at least {folds} of "
            "each. Fix: add rows or lower the number of folds"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    y = table.y.to_numpy()
    oof = {"lightgbm": np.full(len(y), np.nan), "logistic": np.full(len(y), np.nan)}
    per_fold: dict[str, list[dict]] = {"lightgbm": [], "logistic": []}
    fold_of_row = np.zeros(len(y), dtype=int)
    for fold, (train, test) in enumerate(splitter.split(table.X, y)):
        fold_of_row[test] = fold
        X_train, X_test = table.X.iloc[train], table.X.iloc[test]
        lightgbm, _ = fit_with_capacity(X_train, y[train], params=params, seed=seed,
                                        categorical=table.categorical)
        models = {
            "lightgbm": lightgbm,
            "logistic": fit_logistic(X_train, y[train], seed=seed, categorical=table.categorical),
        }
        for name, model in models.items():
            proba = model.predict_proba(X_test)[:, 1]
            oof[name][test] = proba
            per_fold[name].append(evaluate(y[test], proba))
        if progress is not None:
            progress(f"fold {fold + 1}/{folds}")
    return CrossValidation(oof=oof, folds=per_fold, fold_of_row=fold_of_row)
