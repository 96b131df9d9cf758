"""Point-in-time training sets from event data, and the split by time.

A churn model is trained on *snapshots*: at each observation date every account that is
active then gets its indicators computed **as of that date** (the same
:func:`features.indicators.compute_indicators` that scoring calls) and a label saying
whether it churned in the following ``horizon`` days. Because the features only read rows
strictly before their date and the label only reads ``accounts.churned_at`` inside the
label window, nothing a row is trained on comes from its own future.

Timeline of one observation date ``d``::

    ... history (features, rows < d) | d | lead | label window [d + lead, d + lead + horizon)

- Observation dates run every ``every`` days, anchored on the end of the data so that the
  last one is the data end itself (the date a model would score today). The first one is the
  earliest date with at least ``warmup`` days (default ``every``) of event history.
- An account is observed at ``d`` when :func:`features.indicators.active_accounts` says it
  is active then (signed up before ``d``, churn not before ``d``). The label window is
  half-open like the indicator windows: a churn stamped exactly at ``d`` has not happened
  yet at ``d`` (the features saw nothing of that day), so it is a churn of the window, not
  an exclusion. Accounts that churn during the lead time ``[d, d + lead)`` are left out of
  that date: they are neither churners of the window nor survivors of it, and a model
  cannot act on them anyway.
- A date whose label window runs past the *label end* is kept with a missing label: its
  rows are for scoring and are never used for fitting or evaluation. The label end comes
  from the churn data (:func:`label_end`: ``--labels-until``, else the last recorded churn),
  not from the last event of any table: a window that passes it would call accounts
  survivors whose churn is merely not recorded yet (censored labels).

:func:`time_split` then splits by date, never at random: fit on early dates, validate on
later ones, test on the latest labelled dates (out of time). Training dates whose label
window is still open at the first validation date are dropped, so no churn event is seen
both in training labels and in validation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.churn_definition import ChurnDefinition, churn_as_of
from features.contract import EVENT_COLUMNS, Tables
from features.indicators import compute_indicators
from features.per_account import columns_coded_once
from features.polarity import MIN_AUC, MIN_EXAMPLES, PolarityModels
from features.sentiment import score_comments, with_learnt_polarity
from features.survey_polarity import fit_survey_polarity
from models.fingerprint import frames_sha256
from models.label_end import LabelEnd, label_end, table_end_warnings
from models.training_config import setting_default

LABEL = "label"

Progress = Callable[[int, int, pd.Timestamp], None]


class TrainingSetError(ValueError):
    """The data cannot give a usable training set; the message names the option to change."""


@dataclass(frozen=True)
class TrainingSet:
    """Indicator snapshots with their churn labels.

    Attributes
    ----------
    frame : DataFrame
        One row per (account, observation date): ``account_id``, ``as_of``, the indicator
        columns and ``label`` (1.0 churned within the horizon, 0.0 did not, NaN when the
        label window is not over by the end of the data).
    feature_columns : list of str
        The indicator columns, in the order :func:`compute_indicators` returns them.
    fingerprint : dict
        What the set was built from: ``inputs_sha256`` (hash of the tables' content,
        independent of row and column order), ``tables`` (row count and date range per
        table), ``data_start``, ``data_end``, the options, ``observation_dates``,
        ``labelled_dates``, ``rows``, ``labelled_rows`` and ``churn_base_rate``.
    horizon, every, lead : int
        The options the set was built with, in days.
    dates : list of Timestamp
        Every observation date, oldest first.
    labelled_dates : list of Timestamp
        The observation dates whose label window closed by the label end.
    polarity_models : PolarityModels or None
        The learnt comment polarity of the last observation date (taught by every survey
        comment before it): the ones to store with a model trained on this set and to score
        with. None without survey comments.
    label_end : LabelEnd or None
        Until when churn is known, and from what.
    warnings : list of str
        Things that are legal but suspicious (tables ending far apart), in words.
    """

    frame: pd.DataFrame
    feature_columns: list[str]
    fingerprint: dict
    horizon: int
    every: int
    lead: int
    dates: list[pd.Timestamp] = field(default_factory=list)
    labelled_dates: list[pd.Timestamp] = field(default_factory=list)
    polarity_models: PolarityModels | None = None
    label_end: LabelEnd | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def labelled(self) -> pd.DataFrame:
        """The rows whose label is known."""
        return self.frame[self.frame[LABEL].notna()]

    def window_end(self, as_of: pd.Timestamp) -> pd.Timestamp:
        """End (exclusive) of the label window of observation date ``as_of``."""
        return pd.Timestamp(as_of) + pd.Timedelta(days=self.lead + self.horizon)


@dataclass(frozen=True)
class Split:
    """Rows of a :class:`TrainingSet` split by observation date.

    Attributes
    ----------
    train, valid, test : DataFrame
        Labelled rows to fit on, to validate on (early stopping, calibration, model choice)
        and to report on out of time. Dates only grow from one to the next.
    unlabelled : DataFrame
        Rows of the dates whose label window is still open: scoring only.
    train_dates, valid_dates, test_dates, dropped_dates : list of Timestamp
        The observation dates of each part; ``dropped_dates`` are labelled dates left out of
        training because their label window overlaps the validation dates.
    """

    train: pd.DataFrame
    valid: pd.DataFrame
    test: pd.DataFrame
    unlabelled: pd.DataFrame
    train_dates: list[pd.Timestamp]
    valid_dates: list[pd.Timestamp]
    test_dates: list[pd.Timestamp]
    dropped_dates: list[pd.Timestamp]


# --- the data's time span ------------------------------------------------------------


def data_span(tables: Tables) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First day of event history and the data end (the day after the last event).

    The start is the earliest event (session, ticket, order, return, survey answer); with no
    event table it is the earliest signup. The end also counts signups and churn dates, so
    a churn recorded after the last session still falls inside the data.

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["a"], "signup_date": pd.to_datetime(["2024-06-01"]),
    ...     "churned_at": pd.to_datetime(["2025-03-10"])})
    >>> sessions = pd.DataFrame({
    ...     "account_id": ["a", "a"],
    ...     "started_at": pd.to_datetime(["2025-01-05 10:00", "2025-02-28 17:30"])})
    >>> data_span(Tables(accounts=accounts, sessions=sessions))
    (Timestamp('2025-01-05 00:00:00'), Timestamp('2025-03-11 00:00:00'))
    """
    firsts, lasts = [], []
    for name, column in EVENT_COLUMNS.items():
        frame = getattr(tables, name)
        if frame is not None and len(frame[column].dropna()):
            firsts.append(frame[column].min())
            lasts.append(frame[column].max())
    accounts = tables.accounts
    for column in ("signup_date", "churned_at"):
        values = accounts[column].dropna()
        if len(values):
            lasts.append(values.max())
    if not firsts:
        signups = accounts["signup_date"].dropna()
        if not len(signups):
            raise TrainingSetError(
                "accounts.signup_date is empty and there is no event table, so the data has "
                "no time span; add signup dates or session/ticket/order/survey tables"
            )
        firsts.append(signups.min())
    return pd.Timestamp(min(firsts)).normalize(), pd.Timestamp(max(lasts)).normalize() + pd.Timedelta(days=1)


def observation_dates(
    start: pd.Timestamp, end: pd.Timestamp, *, every: int, warmup: int
) -> list[pd.Timestamp]:
    """Dates ``end, end - every, ...`` back to the first one with ``warmup`` days of history.

    Examples
    --------
    >>> observation_dates(pd.Timestamp("2025-01-01"), pd.Timestamp("2025-04-01"),
    ...                   every=30, warmup=30)
    [Timestamp('2025-01-31 00:00:00'), Timestamp('2025-03-02 00:00:00'), Timestamp('2025-04-01 00:00:00')]
    """
    first = start + pd.Timedelta(days=warmup)
    dates = []
    date = end
    while date >= first:
        dates.append(date)
        date -= pd.Timedelta(days=every)
    return dates[::-1]


# --- labels --------------------------------------------------------------------------


def churn_labels(
    accounts: pd.DataFrame,
    account_ids: pd.Index,
    as_of: pd.Timestamp,
    *,
    horizon: int,
    lead: int,
    end: pd.Timestamp,
) -> pd.Series:
    """Label of each account observed at ``as_of``: churned in ``[as_of + lead, as_of + lead + horizon)``.

    Only ``accounts.churned_at`` is read. Returns 1.0 / 0.0, NaN for every account when the
    window ends after ``end`` (the label end, :func:`label_end`: churn in the window is not
    known yet), and drops accounts that churned during the lead time ``[as_of, as_of + lead)``.

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["a", "b", "c"],
    ...     "churned_at": pd.to_datetime(["2025-02-10", None, "2025-08-01"])})
    >>> churn_labels(accounts, pd.Index(["a", "b", "c"]), pd.Timestamp("2025-02-01"),
    ...              horizon=90, lead=0, end=pd.Timestamp("2025-12-31")).tolist()
    [1.0, 0.0, 0.0]
    """
    churned_at = accounts.set_index("account_id")["churned_at"].reindex(account_ids)
    opens = as_of + pd.Timedelta(days=lead)
    closes = opens + pd.Timedelta(days=horizon)
    in_lead = churned_at.notna() & (churned_at >= as_of) & (churned_at < opens)
    churned_at = churned_at[~in_lead.to_numpy()]
    if closes > end:
        return pd.Series(np.nan, index=churned_at.index, name=LABEL)
    churned = churned_at.notna() & (churned_at >= opens) & (churned_at < closes)
    return churned.astype(float).rename(LABEL)


# --- the fingerprint -----------------------------------------------------------------


def tables_sha256(tables: Tables) -> str:
    """SHA-256 of the tables' content, the same whatever the order of rows and columns.

    :func:`models.fingerprint.frames_sha256` of the present tables by name, in any row
    order: each row is hashed with :func:`pandas.util.hash_pandas_object` (columns taken in
    sorted order, index ignored); the row hashes are sorted, so reordering rows changes
    nothing, while changing any value, adding or removing a row or a column changes the digest.

    Examples
    --------
    >>> accounts = pd.DataFrame({"account_id": ["a", "b"], "mrr": [10.0, 20.0]})
    >>> tables_sha256(Tables(accounts=accounts)) == tables_sha256(
    ...     Tables(accounts=accounts.iloc[::-1]))
    True
    >>> tables_sha256(Tables(accounts=accounts)) == tables_sha256(
    ...     Tables(accounts=accounts.assign(mrr=[10.0, 21.0])))
    False
    """
    return frames_sha256(tables.present(), any_row_order=True)


def _table_summary(tables: Tables) -> dict:
    summary = {}
    for name, frame in tables.present().items():
        column = EVENT_COLUMNS.get(name, "signup_date")
        values = frame[column].dropna() if column in frame else pd.Series(dtype="datetime64[ns]")
        summary[name] = {
            "rows": int(len(frame)),
            "date_column": column,
            "first": values.min().isoformat() if len(values) else None,
            "last": values.max().isoformat() if len(values) else None,
        }
    return summary


# --- building the set ----------------------------------------------------------------


def _check_options(horizon: int, every: int, lead: int, windows: Sequence[int], warmup: int) -> None:
    for name, value, low in (("horizon", horizon, 1), ("every", every, 1), ("lead", lead, 0),
                             ("warmup", warmup, 0)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
            raise TrainingSetError(
                f"--{name} must be a whole number of days >= {low}, got {value!r}"
            )
    if not windows or any(not isinstance(w, (int, np.integer)) or w < 1 for w in windows):
        raise TrainingSetError(f"windows must be positive whole numbers of days, got {windows!r}")


def build_training_set(
    tables: Tables,
    *,
    horizon: int = setting_default("horizon"),
    every: int = setting_default("every"),
    lead: int = setting_default("lead"),
    windows: Sequence[int] = setting_default("windows"),
    warmup: int | None = None,
    labels_until: pd.Timestamp | None = None,
    progress: Progress | None = None,
    polarity_min_examples: int = MIN_EXAMPLES,
    polarity_min_auc: float = MIN_AUC,
) -> TrainingSet:
    """Indicator snapshots at regular observation dates, labelled with churn in the horizon.

    Parameters
    ----------
    tables : Tables
        Validated tables (:func:`features.contract.validate_tables`).
    horizon : int, default 90
        Days of the label window: a row is a churner when the account churned within
        ``horizon`` days after its observation date plus ``lead``.
    every : int, default 30
        Days between observation dates.
    lead : int, default 0
        Days between an observation date and the start of its label window (time to act).
    windows : sequence of int, default (30, 90, 180)
        Trailing windows of the indicators, in days.
    warmup : int, optional
        Days of event history required before the first observation date; ``every`` when
        omitted. Windows longer than the history of early dates see truncated history.
    labels_until : Timestamp, optional
        The last day whose churn is known (``--labels-until``); by default the last
        recorded churn (see :func:`label_end`). Dates whose label window passes it keep a
        missing label: they are for scoring only.
    progress : callable, optional
        Called as ``progress(done, total, as_of)`` after each observation date.
    polarity_min_examples, polarity_min_auc
        The rules of the learnt comment polarity (:func:`features.polarity.fit_polarity`).

    Returns
    -------
    TrainingSet

    Notes
    -----
    Comments in languages other than English are read by a polarity learnt from survey
    answers, refitted at every observation date from the answers before it only
    (:func:`features.survey_polarity.fit_survey_polarity`): a snapshot never reads a tone
    its own future taught. Languages and TextBlob scores do not depend on the date and are
    computed once.

    Raises
    ------
    TrainingSetError
        When an option is out of range, the data spans too little time for one observation
        date, no date has a complete label window (lower ``--horizon`` / ``--lead``), or no
        observed account churned within the horizon.

    Examples
    --------
    >>> from features.contract import validate_tables
    >>> from features.demo_data import generate_demo_data
    >>> tables, _ = validate_tables(generate_demo_data(accounts=60, months=6, seed=1))
    >>> ts = build_training_set(tables, horizon=30, every=30)
    >>> ts.frame.columns[:2].tolist(), ts.frame.columns[-1]
    (['account_id', 'as_of'], 'label')
    >>> ts.frame.groupby("as_of")["label"].apply(lambda s: s.notna().all()).tolist()[-1]
    False
    """
    warmup = every if warmup is None else warmup
    _check_options(horizon, every, lead, windows, warmup)
    start, end = data_span(tables)
    dates = observation_dates(start, end, every=every, warmup=warmup)
    span = (end - start).days
    if not dates:
        raise TrainingSetError(
            f"the data spans {span} days ({start:%Y-%m-%d} to {end:%Y-%m-%d}), too short for "
            f"one observation date after {warmup} days of history; lower --every (now {every}) "
            "or provide a longer history"
        )
    labels = label_end(tables, end, labels_until)
    closes = {d: d + pd.Timedelta(days=lead + horizon) for d in dates}
    labelled_dates = [d for d in dates if closes[d] <= labels.end]
    censored = [d for d in dates if labels.end < closes[d] <= end]
    if not labelled_dates:
        raise TrainingSetError(
            f"no observation date has a complete label window: the data spans {span} days "
            f"({start:%Y-%m-%d} to {end:%Y-%m-%d}), churn is known until "
            f"{labels.last_day:%Y-%m-%d} ({labels.source}) and each date needs {warmup} days "
            f"of history plus --lead ({lead}) + --horizon ({horizon}) days after it; lower "
            "--horizon or --lead, give --labels-until, or provide a longer history"
        )

    comments = base_scores = polarity_models = None
    if tables.surveys is not None and tables.surveys["comment"].notna().any():
        # Languages and TextBlob once for all dates: text scoring dominates otherwise.
        comments = tables.surveys["comment"]
        base_scores = score_comments(comments)

    parts = []
    feature_columns: list[str] | None = None
    with columns_coded_once():  # the tables' rows coded by account once, not at every date
        for done, as_of in enumerate(dates, start=1):
            comment_scores = None
            if base_scores is not None:
                polarity_models = fit_survey_polarity(
                    tables, as_of, languages=base_scores["language"],
                    min_examples=polarity_min_examples, min_auc=polarity_min_auc,
                )
                before = (tables.surveys["responded_at"] < as_of).to_numpy()
                comment_scores = with_learnt_polarity(
                    base_scores[before], comments[before], polarity_models
                )
            # Under a lapse, who is active and when they churn depend on the date seen from.
            snapshot = churn_as_of(tables, as_of)
            indicators = compute_indicators(
                snapshot, as_of, windows=tuple(windows), comment_scores=comment_scores
            )
            if feature_columns is None:
                feature_columns = [str(c) for c in indicators.columns]
            known = churn_labels(
                snapshot.accounts, indicators.index, as_of, horizon=horizon, lead=lead,
                end=labels.end,
            )
            part = indicators.loc[known.index].copy()
            part.insert(0, "as_of", as_of)
            part[LABEL] = known.to_numpy()
            parts.append(part.rename_axis("account_id").reset_index())
            if progress is not None:
                progress(done, len(dates), as_of)

    frame = pd.concat(parts, ignore_index=True)
    frame = frame.sort_values(["as_of", "account_id"], kind="stable").reset_index(drop=True)
    labelled = frame[LABEL].dropna()
    if not len(labelled) or labelled.sum() == 0:
        raise TrainingSetError(
            f"no observed account churned within --horizon ({horizon}) days of any labelled "
            f"observation date ({len(labelled)} labelled rows); check accounts.churned_at "
            "or raise --horizon"
        )
    fingerprint = {
        "inputs_sha256": tables_sha256(tables),
        "tables": _table_summary(tables),
        "data_start": start.isoformat(),
        "data_end": end.isoformat(),
        "label_end": labels.end.isoformat(),
        "label_end_source": labels.source,
        "censored_dates": len(censored),
        "horizon": int(horizon),
        "every": int(every),
        "lead": int(lead),
        "warmup": int(warmup),
        "windows": [int(w) for w in windows],
        "observation_dates": len(dates),
        "labelled_dates": len(labelled_dates),
        "first_observation": dates[0].isoformat(),
        "last_observation": dates[-1].isoformat(),
        "rows": int(len(frame)),
        "labelled_rows": int(len(labelled)),
        "churn_base_rate": float(labelled.mean()),
        **(tables.churn or ChurnDefinition()).metadata(),
    }
    return TrainingSet(
        frame=frame,
        feature_columns=feature_columns or [],
        fingerprint=fingerprint,
        horizon=int(horizon),
        every=int(every),
        lead=int(lead),
        dates=dates,
        labelled_dates=labelled_dates,
        polarity_models=polarity_models,
        label_end=labels,
        warnings=table_end_warnings(tables),
    )


# --- the split by time ---------------------------------------------------------------


def time_split(ts: TrainingSet, *, valid_dates: int = setting_default("valid_dates"),
               test_dates: int = setting_default("test_dates")) -> Split:
    """Split a training set by observation date: train, then validation, then test.

    The latest ``test_dates`` labelled dates are the out-of-time test, the ``valid_dates``
    before them the validation set, and the earlier dates train, except the ones whose label
    window ``[d + lead, d + lead + horizon)`` is not closed by the first validation date:
    those are dropped, so a churn event that validation sees is never a training label.
    Each row belongs to exactly one part, so an account never sits in two parts at the same
    date.

    Parameters
    ----------
    ts : TrainingSet
    valid_dates, test_dates : int, default 2
        Number of observation dates in validation and in test.

    Returns
    -------
    Split

    Raises
    ------
    TrainingSetError
        When there are too few labelled dates for the three parts (the message says how many
        are needed and which option to change), or when the training or validation part has
        no churner or no survivor.

    Examples
    --------
    >>> from features.contract import validate_tables
    >>> from features.demo_data import generate_demo_data
    >>> tables, _ = validate_tables(generate_demo_data(accounts=200, months=8, seed=3))
    >>> split = time_split(build_training_set(tables, horizon=30, every=30),
    ...                    valid_dates=1, test_dates=1)
    >>> split.train["as_of"].max() < split.valid["as_of"].min() < split.test["as_of"].min()
    True
    """
    for name, value in (("valid_dates", valid_dates), ("test_dates", test_dates)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
            raise TrainingSetError(f"{name} must be a whole number >= 1, got {value!r}")
    labelled = sorted(ts.labelled_dates)
    needed = valid_dates + test_dates + 1
    if len(labelled) < needed:
        raise TrainingSetError(
            f"only {len(labelled)} labelled observation date(s); the split needs at least "
            f"{needed} ({test_dates} test + {valid_dates} validation + 1 train); lower "
            f"--every (now {ts.every}) or --horizon (now {ts.horizon}), or provide a longer history"
        )
    test = labelled[-test_dates:]
    valid = labelled[-(test_dates + valid_dates):-test_dates]
    first_valid = valid[0]
    before = labelled[: -(test_dates + valid_dates)]
    train = [d for d in before if ts.window_end(d) <= first_valid]
    dropped = [d for d in before if ts.window_end(d) > first_valid]
    if not train:
        raise TrainingSetError(
            f"no training date is left: the {len(before)} date(s) before validation all have "
            f"label windows (--lead {ts.lead} + --horizon {ts.horizon} days) still open at the "
            f"first validation date {first_valid:%Y-%m-%d}; lower --horizon or --every, use "
            "fewer validation/test dates, or provide a longer history"
        )

    frame = ts.frame
    parts = {
        name: frame[frame["as_of"].isin(dates)].reset_index(drop=True)
        for name, dates in (("train", train), ("valid", valid), ("test", test))
    }
    for name in ("train", "valid"):
        labels = parts[name][LABEL]
        if labels.nunique() < 2:
            only = "churner" if len(labels) and labels.iloc[0] == 1 else "survivor"
            raise TrainingSetError(
                f"the {name} dates ({_date_list(train if name == 'train' else valid)}) hold "
                f"only {only}s ({len(labels)} rows), so a model cannot be fitted or "
                "validated; raise --horizon or provide more accounts or a longer history"
            )
    return Split(
        train=parts["train"],
        valid=parts["valid"],
        test=parts["test"],
        unlabelled=frame[frame[LABEL].isna()].reset_index(drop=True),
        train_dates=train,
        valid_dates=valid,
        test_dates=test,
        dropped_dates=dropped,
    )


def _date_list(dates: Sequence[pd.Timestamp]) -> str:
    return ", ".join(f"{d:%Y-%m-%d}" for d in dates)
