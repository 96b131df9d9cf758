"""Account-level health indicators as of a date, over trailing windows.

:func:`compute_indicators` is the one function the ``features`` command, the trainer and
the scoring service call: a pure function of the validated :class:`~features.contract.Tables`
and an ``as_of`` timestamp, returning one row per account active at ``as_of`` with the
columns of ``docs/indicators.md`` (the names are fixed there and by
:func:`features.catalogue.indicator_columns`, the one catalogue of indicators). Reading
files is :mod:`features.io`'s job, not this module's; the per-account aggregates it is built
from are :mod:`features.per_account`'s.

Point in time
    Only what was known strictly before ``as_of`` is used. A ticket resolved (or first
    answered) at or after ``as_of`` is open (unanswered) at ``as_of``; a return at or after
    ``as_of`` has not happened yet; an account that churns at or after ``as_of`` is still
    active. Appending rows dated at or after ``as_of`` never changes the output.

Order invariance, bit for bit
    Shuffling input rows never changes a single bit of the output. Counts and sums of whole
    numbers are exact in any order; sums of other floating-point values (durations, amounts,
    polarities) are added in a canonical order (sorted by value) because floating-point
    addition is not associative; "latest" answers break ties on equal timestamps by the
    row's id.

Speed
    Everything is vectorised over rows with integer account codes (``numpy.bincount``,
    ``ufunc.at``, sorting), with no Python loop over accounts, in one pass per table and
    time column: each row is placed once in its window band, and each aggregate is one
    bincount serving every window (:class:`features.per_account.Bands`). About 10 million
    sessions and 100,000 accounts take a few seconds (``benchmarks/bench_features.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np
import pandas as pd

from features import per_account as agg
from features.catalogue import (
    DEFAULT_WINDOWS,
    categorical_columns,
    check_windows,
    indicator_columns,
)
from features.clv import clv_columns
from features.contract import (
    REQUIRED_COLUMNS,
    TIMESTAMP_COLUMNS,
    Tables,
    with_optional_columns,
)
from features.polarity import PolarityModels
from features.shop_indicators import shop_indicators
from features.timestamps import naive_utc

# Lifetime used by the CLV when the portfolio lost nobody in the trailing year (docs/metrics.md:
# "churn rate 0 -> capped lifetime, default 10 years").
CLV_MAX_LIFETIME_YEARS = 10.0
CLV_CHURN_LOOKBACK_DAYS = 365
NEGATIVE_POLARITY = -0.1


# --- input checks --------------------------------------------------------------------


def _check_as_of(as_of: object) -> pd.Timestamp:
    stamp = naive_utc(as_of)  # the tables hold naive UTC; compare like with like
    if stamp is None:
        raise ValueError(
            f"as_of must be a date or timestamp such as '2025-06-30', got {as_of!r}"
        )
    return stamp


def _check_tables(tables: object) -> Tables:
    if not isinstance(tables, Tables):
        raise TypeError(
            f"tables must be a features.contract.Tables, got {type(tables).__name__}; "
            "read a folder with features.io.load_tables or check frames with "
            "features.contract.validate_tables"
        )
    return tables


def _check_table(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """The contract's columns, absent optional ones added empty; timestamps as timestamps."""
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{table} lacks column(s) {', '.join(missing)}; compute indicators on validated "
            "tables (features.contract.validate_tables adds every optional column)"
        )
    frame = with_optional_columns(table, frame)
    for column in TIMESTAMP_COLUMNS[table]:
        if not pd.api.types.is_datetime64_dtype(frame[column]):
            raise ValueError(
                f"{table}.{column} must hold naive UTC timestamps (datetime64), got "
                f"{frame[column].dtype}; validate the tables with "
                "features.contract.validate_tables first"
            )
    return frame


def _check_comment_scores(scores: pd.DataFrame, surveys: pd.DataFrame, needed: np.ndarray) -> pd.DataFrame:
    """The pre-computed comment scores cover every comment the indicators read."""
    if not isinstance(scores, pd.DataFrame) or not {"polarity", "supported"} <= set(scores.columns):
        raise ValueError(
            "comment_scores must be the DataFrame returned by "
            "features.sentiment.score_comments(tables.surveys['comment']) "
            "(columns polarity and supported)"
        )
    if not scores.index.is_unique:
        raise ValueError(
            "comment_scores has a repeated index; it must be indexed like tables.surveys "
            "(one row per survey response)"
        )
    labels = surveys.index[needed]
    absent = labels[~labels.isin(scores.index)]
    if len(absent):
        shown = ", ".join(repr(x) for x in absent[:5])
        raise ValueError(
            f"comment_scores lacks {len(absent)} survey row(s) that have a comment before "
            f"as_of (surveys index {shown}); score them with "
            "features.sentiment.score_comments(tables.surveys['comment'])"
        )
    return scores.loc[labels]


# --- active accounts and account columns ---------------------------------------------


def active_accounts(accounts: pd.DataFrame, as_of) -> pd.Index:
    """Accounts active at ``as_of``: signed up before it and not churned before it.

    An account whose ``churned_at`` is at or after ``as_of`` is active: at ``as_of`` its
    churn has not happened yet (it is what a churn model is asked to predict).

    Parameters
    ----------
    accounts : DataFrame
        The validated accounts table.
    as_of : str, date or Timestamp
        The moment of the snapshot (naive UTC; an aware timestamp is converted).

    Returns
    -------
    Index
        Sorted ``account_id`` values, named ``account_id``.

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["b", "a", "c", "d"],
    ...     "signup_date": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-03-01", "2025-01-01"]),
    ...     "churned_at": pd.to_datetime([None, "2025-02-01", None, "2025-02-15"]),
    ... })
    >>> list(active_accounts(accounts, "2025-02-15"))
    ['b', 'd']
    """
    as_of = _check_as_of(as_of)
    missing = [c for c in ("account_id", "signup_date", "churned_at") if c not in accounts]
    if missing:
        raise ValueError(
            f"accounts lacks column(s) {', '.join(missing)}; validate the tables with "
            "features.contract.validate_tables first"
        )
    signup = agg.as_ns(accounts["signup_date"])
    churned = agg.as_ns(accounts["churned_at"])
    cut = as_of.value
    # NaT is the smallest int64: a missing signup is never "before", a missing churn never
    # "before" either once excluded explicitly.
    active = (signup != agg.NAT) & (signup < cut) & ((churned == agg.NAT) | (churned >= cut))
    ids = pd.Index(accounts["account_id"].to_numpy()[active], name="account_id")
    return ids.unique().sort_values()


def _account_part(accounts: pd.DataFrame, ids: pd.Index, as_of: pd.Timestamp, churn_rate) -> dict:
    rows = accounts.drop_duplicates("account_id").set_index("account_id").reindex(ids)
    signup = agg.as_ns(rows["signup_date"])
    mrr = agg.as_float(rows["mrr"])
    return {
        "segment": rows["segment"].to_numpy(dtype=object),
        "region": rows["region"].to_numpy(dtype=object),
        "plan": rows["plan"].to_numpy(dtype=object),
        "tenure_days": (as_of.value - signup) / agg.NS_PER_DAY,
        "mrr": mrr,
        "clv": _clv(accounts, rows, mrr, as_of, churn_rate),
    }


def trailing_churn_rate(accounts: pd.DataFrame, as_of) -> float:
    """Share (0-1) of the accounts active a year before ``as_of`` that churned since.

    The start-cohort churn rate of docs/metrics.md over ``[as_of - 365 days, as_of)``: accounts
    that joined during the year are not in it. NaN when no account was active at the start.

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["a", "b", "c", "d", "e"],
    ...     "signup_date": pd.to_datetime(["2024-01-01"] * 4 + ["2025-03-01"]),
    ...     "churned_at": pd.to_datetime([None, None, None, "2025-05-01", "2025-06-01"]),
    ... })
    >>> trailing_churn_rate(accounts, "2025-07-01")
    0.25
    """
    as_of = _check_as_of(as_of)
    start = (as_of - pd.Timedelta(days=CLV_CHURN_LOOKBACK_DAYS)).value
    signup = agg.as_ns(accounts["signup_date"])
    churned = agg.as_ns(accounts["churned_at"])
    at_start = (signup != agg.NAT) & (signup < start) & ((churned == agg.NAT) | (churned >= start))
    lost = at_start & (churned != agg.NAT) & (churned < as_of.value)
    return float(lost.sum() / at_start.sum()) if at_start.any() else float("nan")


def _clv(accounts: pd.DataFrame, rows: pd.DataFrame, mrr: np.ndarray, as_of: pd.Timestamp,
         churn_rate: float | None = None) -> np.ndarray:
    """mrr x 12 x expected lifetime in years - acquisition cost (docs/metrics.md).

    Expected lifetime = 1 / the portfolio's trailing-year churn rate, capped at 10 years
    (also when nobody churned); unknown (NaN CLV) when no account was active a year before.
    """
    churn = trailing_churn_rate(accounts, as_of) if churn_rate is None else churn_rate
    if np.isnan(churn):
        return np.full(len(rows), np.nan)
    lifetime = CLV_MAX_LIFETIME_YEARS if churn == 0 else min(1.0 / churn, CLV_MAX_LIFETIME_YEARS)
    # An unknown acquisition cost is not subtracted: the CLV is then the gross lifetime value.
    cost = np.nan_to_num(agg.as_float(rows["acquisition_cost"]), nan=0.0)
    return mrr * 12.0 * lifetime - cost


# --- engagement ----------------------------------------------------------------------


def _engagement(sessions, ids, as_of, windows) -> dict:
    n = len(ids)
    names = (
        [c for w in ("active_days", "sessions", "active_users", "pages_per_session",
                     "avg_session_minutes") for c in agg.window_names(w, windows)]
        + ["days_since_last_activity", "sessions_trend_30d"]
    )
    if sessions is None:
        return agg.nan_columns(names, n)
    cut = as_of.value
    started = agg.as_ns(sessions["started_at"])
    codes = agg.account_codes(sessions["account_id"], ids)
    before = (codes >= 0) & (started != agg.NAT) & (started < cut)
    out = {"days_since_last_activity": agg.days_since(cut, agg.max_by(codes[before], started[before], n))}

    # Everything else looks back at most max(windows, 60 days): work on those rows only,
    # as plain arrays (subsetting the whole frame would copy every column).
    horizon_days = max(max(windows), 60)
    rows = np.flatnonzero(before & (started >= cut - horizon_days * agg.NS_PER_DAY))
    codes, started = codes[rows], started[rows]
    bands = agg.Bands(codes, started, cut, (*windows, 30, 60), n)
    sessions_in = bands.count()
    active_days = bands.distinct_days(started)
    pages = bands.mean(agg.as_float(sessions["page_views"])[rows])
    seconds = bands.mean(agg.as_float(sessions["duration_seconds"])[rows])
    # Each user with the latest session: a user counts in a window when their latest
    # session falls in it.
    users, n_users = agg.row_codes(sessions["user_id"], rows)
    user_codes, user_latest = agg.latest_per_user(codes, users, n_users, started)
    active_users = agg.Bands(user_codes, user_latest, cut, bands.edges, n).count()

    for w in windows:
        out[f"sessions_{w}d"] = sessions_in.within(w)
        out[f"active_days_{w}d"] = active_days.within(w)
        out[f"active_users_{w}d"] = active_users.within(w)
        out[f"pages_per_session_{w}d"] = pages.within(w)
        out[f"avg_session_minutes_{w}d"] = seconds.within(w) / 60.0
    previous30 = sessions_in.between(30, 60)
    out["sessions_trend_30d"] = agg.ratio(sessions_in.within(30) - previous30, previous30, 100.0)
    return out


# --- support -------------------------------------------------------------------------


def _support(tickets, ids, as_of, windows) -> dict:
    n = len(ids)
    names = (
        [c for w in ("tickets", "resolution_hours_mean", "resolution_hours_median",
                     "first_response_hours_mean") for c in agg.window_names(w, windows)]
        + ["open_tickets", "open_ticket_age_days_max"] + agg.window_names("reopened_share", windows)
    )
    if tickets is None:
        return agg.nan_columns(names, n)
    cut = as_of.value
    frame, codes, created = agg.known_rows_before(tickets, "created_at", ids, cut)
    resolved = agg.as_ns(frame["resolved_at"])
    answered = agg.as_ns(frame["first_response_at"])
    # Resolution or first answer at/after as_of is not known yet: such tickets are open.
    is_resolved = (resolved != agg.NAT) & (resolved < cut)
    is_answered = (answered != agg.NAT) & (answered < cut)
    resolution_hours = np.where(is_resolved, (resolved - created) / agg.NS_PER_HOUR, np.nan)
    response_hours = np.where(is_answered, (answered - created) / agg.NS_PER_HOUR, np.nan)
    reopened = agg.as_float(frame["reopened_count"])

    # Each ticket in the windows of its three moments: created, resolved, first answered.
    by_created = agg.Bands(codes, created, cut, windows, n)
    by_resolved = agg.Bands(codes, np.where(is_resolved, resolved, agg.NAT), cut, windows, n)
    by_answered = agg.Bands(codes, np.where(is_answered, answered, agg.NAT), cut, windows, n)
    new = by_created.count()
    resolution = by_resolved.mean(resolution_hours)
    resolution_median = by_resolved.medians(resolution_hours)
    response = by_answered.mean(response_hours)
    counted = ~np.isnan(reopened)
    reopened_tickets = by_created.count(counted & (reopened >= 1))
    known_reopens = by_created.count(counted)

    out = {}
    for w in windows:
        out[f"tickets_{w}d"] = new.within(w)
        out[f"resolution_hours_mean_{w}d"] = resolution.within(w)
        out[f"resolution_hours_median_{w}d"] = resolution_median.within(w)
        out[f"first_response_hours_mean_{w}d"] = response.within(w)
        out[f"reopened_share_{w}d"] = agg.ratio(
            reopened_tickets.within(w), known_reopens.within(w), 100.0)
    open_ = ~is_resolved
    out["open_tickets"] = agg.count(codes[open_], n)
    out["open_ticket_age_days_max"] = agg.days_since(cut, agg.min_by(codes[open_], created[open_], n))
    return out


# --- satisfaction and sentiment ------------------------------------------------------


def _nps_category(score: np.ndarray) -> np.ndarray:
    return np.select(
        [np.isnan(score), score >= 9, score >= 7], [None, "promoter", "passive"], "detractor"
    ).astype(object)


def _surveys_before(surveys, ids, as_of):
    cut = as_of.value
    responded = agg.as_ns(surveys["responded_at"])
    before = (responded != agg.NAT) & (responded < cut)
    codes = agg.account_codes(surveys["account_id"], ids)[before]
    positions = np.flatnonzero(before)[codes >= 0]
    return positions, codes[codes >= 0], responded[positions]


def _satisfaction(surveys, scales, ids, as_of, windows) -> dict:
    n = len(ids)
    names = (
        ["nps_latest", "nps_category_latest"]
        + [c for w in ("nps_mean", "csat", "csat_mean", "ces_mean") for c in agg.window_names(w, windows)]
    )
    if surveys is None:
        return agg.nan_columns(names, n)
    positions, codes, responded = _surveys_before(surveys, ids, as_of)
    frame = surveys.iloc[positions]
    kind = frame["survey"].to_numpy(dtype=object)
    score = agg.as_float(frame["score"])
    rank = agg.id_ranks(frame["response_id"])

    out = {}
    nps = (kind == "nps") & ~np.isnan(score)
    latest = agg.latest_row(codes[nps], responded[nps], rank[nps], n)
    nps_latest = agg.pick(score[nps], latest)
    out["nps_latest"] = nps_latest
    out["nps_category_latest"] = _nps_category(nps_latest)
    bands = agg.Bands(codes, responded, cut=as_of.value, edges=windows, n=n)
    means = {column: bands.mean(score, kind == survey)
             for survey, column in (("nps", "nps_mean"), ("csat", "csat_mean"), ("ces", "ces_mean"))}
    csat = (kind == "csat") & ~np.isnan(score)
    satisfied = bands.count(csat & (score >= scales.csat.satisfied_at))
    answered = bands.count(csat)
    for w in windows:
        for column, mean in means.items():
            out[f"{column}_{w}d"] = mean.within(w)
        out[f"csat_{w}d"] = agg.ratio(satisfied.within(w), answered.within(w), 100.0)
    return out


def _check_polarity_models(models, as_of: pd.Timestamp):
    """Models taught by comments of ``as_of``'s future would leak it into the indicators."""
    if models is None:
        return None
    if not isinstance(models, PolarityModels):
        raise TypeError(
            f"polarity_models must be a features.polarity.PolarityModels, got {type(models).__name__}"
        )
    if models.examples_before is not None and models.examples_before > as_of:
        raise ValueError(
            f"polarity_models learnt from comments up to {models.examples_before:%Y-%m-%d %H:%M}, "
            f"after as_of {as_of:%Y-%m-%d %H:%M}: indicators as of a date may only read a "
            "polarity taught by comments before it; fit them with "
            "features.survey_polarity.fit_survey_polarity(tables, before=as_of)"
        )
    return models


def _sentiment(surveys, ids, as_of, windows, comment_scores, polarity_models) -> dict:
    n = len(ids)
    names = (
        [c for w in ("comments", "sentiment_mean", "negative_comment_share",
                     "unsupported_comment_share") for c in agg.window_names(w, windows)]
        + ["sentiment_latest", "sentiment_trend_90d"]
    )
    if surveys is None:
        return agg.nan_columns(names, n)
    positions, codes, responded = _surveys_before(surveys, ids, as_of)
    comment = surveys["comment"].to_numpy(dtype=object)[positions]
    has_text = np.array(
        [isinstance(c, str) and c.strip() != "" for c in comment], dtype=bool
    )
    positions, codes, responded = positions[has_text], codes[has_text], responded[has_text]
    if comment_scores is None:
        from features.sentiment import score_comments

        scores = score_comments(surveys["comment"].iloc[positions], polarity_models)
    else:
        scores = _check_comment_scores(comment_scores, surveys, positions)
    polarity = agg.as_float(scores["polarity"])
    flag = scores["supported"].astype("boolean")
    readable = flag.fillna(False).to_numpy(dtype=bool) & ~np.isnan(polarity)
    unreadable = (~flag.fillna(True)).to_numpy(dtype=bool)
    rank = agg.id_ranks(surveys["response_id"].iloc[positions])

    bands = agg.Bands(codes, responded, as_of.value, (*windows, 90, 180), n)
    read = bands.count(readable)
    tone = bands.mean(polarity, readable)
    negative = bands.count(readable & (polarity < NEGATIVE_POLARITY))
    unread = bands.count(unreadable)
    out = {}
    for w in windows:
        n_read = read.within(w)
        out[f"comments_{w}d"] = n_read
        out[f"sentiment_mean_{w}d"] = tone.within(w)
        out[f"negative_comment_share_{w}d"] = agg.ratio(negative.within(w), n_read, 100.0)
        n_unread = unread.within(w)
        out[f"unsupported_comment_share_{w}d"] = agg.ratio(n_unread, n_read + n_unread, 100.0)
    latest = agg.latest_row(codes[readable], responded[readable], rank[readable], n)
    out["sentiment_latest"] = agg.pick(polarity[readable], latest)
    out["sentiment_trend_90d"] = tone.within(90) - tone.between(90, 180)
    return out


# --- commercial ----------------------------------------------------------------------


def _commercial(orders, returns, ids, as_of, windows) -> dict:
    n = len(ids)
    names = (
        [c for w in ("orders", "repeat_purchase", "return_rate", "revenue")
         for c in agg.window_names(w, windows)]
        + ["revenue_trend_90d"]
    )
    if orders is None:
        return agg.nan_columns(names, n)
    cut = as_of.value
    frame, codes, ordered = agg.known_rows_before(orders, "ordered_at", ids, cut)
    bands = agg.Bands(codes, ordered, cut, (*windows, 90, 180), n)
    counts = bands.count()
    revenue = bands.sum(agg.as_float(frame["amount"]))
    returned = items = None
    if returns is not None:
        # Items returned before as_of, attributed to their order (docs/metrics.md: returns
        # belong to the order's period, not the return's).
        when = agg.as_ns(returns["returned_at"])
        done = (when != agg.NAT) & (when < cut)
        order_pos = pd.Index(frame["order_id"]).get_indexer(returns["order_id"][done])
        matched = order_pos >= 0
        returned = bands.sum(np.bincount(
            order_pos[matched], weights=agg.as_float(returns["items"][done])[matched],
            minlength=len(frame),
        ).astype(np.float64))
        items = bands.sum(agg.as_float(frame["items"]))

    out = {}
    for w in windows:
        count = counts.within(w)
        out[f"orders_{w}d"] = count
        out[f"repeat_purchase_{w}d"] = np.where(count >= 2, 1.0, np.where(count == 1, 0.0, np.nan))
        out[f"revenue_{w}d"] = revenue.within(w)
        out[f"return_rate_{w}d"] = (np.full(n, np.nan) if returned is None
                                    else agg.ratio(returned.within(w), items.within(w), 100.0))
    revenue_last, revenue_previous = revenue.within(90), revenue.between(90, 180)
    out["revenue_trend_90d"] = agg.ratio(revenue_last - revenue_previous, revenue_previous, 100.0)
    return out


# --- the entry point -----------------------------------------------------------------


def compute_indicators(
    tables: Tables,
    as_of,
    *,
    windows: Iterable[int] = DEFAULT_WINDOWS,
    comment_scores: pd.DataFrame | None = None,
    polarity_models: PolarityModels | None = None,
    churn_rate: float | None = None,
    clv_fit=None,
) -> pd.DataFrame:
    """Health indicators of every account active at ``as_of``, from rows before it.

    Parameters
    ----------
    tables : Tables
        Validated tables (:func:`features.io.load_tables` or
        :func:`features.contract.validate_tables`). A missing table makes its indicators
        NaN.
    as_of : str, date or Timestamp
        The snapshot moment. Rows dated at or after it are ignored; an aware timestamp is
        converted to UTC.
    windows : iterable of int, default (30, 90, 180)
        Trailing window lengths in days; a window ``w`` covers ``[as_of - w days, as_of)``.
    comment_scores : DataFrame, optional
        :func:`features.sentiment.score_comments` output for ``tables.surveys['comment']``,
        indexed like ``tables.surveys``, so that repeated snapshots do not score text again.
        Scored here when omitted.
    polarity_models : PolarityModels, optional
        Learnt polarity of languages other than English, used when the comments are scored
        here. Their examples must all be dated before ``as_of`` (``examples_before`` at or
        before it, or undated): a polarity taught by later comments would leak the future.
        Without them only English comments are read.
    churn_rate, clv_fit : float, features.clv.ClvFit (or the ClvFitError saying why none)
        The portfolio's :func:`trailing_churn_rate` and predictive-CLV fit at ``as_of``, given
        when the tables hold one bucket of the accounts (a Spark executor's).

    Returns
    -------
    DataFrame
        Indexed by ``account_id`` (sorted), columns :func:`indicator_columns` (``windows``),
        as documented in ``docs/indicators.md``. Numbers are float64 (NaN = undefined or no
        data); ``segment``, ``region``, ``plan`` and ``nps_category_latest`` are text.

    Raises
    ------
    TypeError
        When ``tables`` is not a :class:`~features.contract.Tables`.
    ValueError
        For an ``as_of`` that is not a date, bad ``windows``, tables lacking columns or
        timestamps, ``comment_scores`` that do not cover the comments, or
        ``polarity_models`` taught by comments at or after ``as_of``.

    Examples
    --------
    >>> from features.contract import Tables
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["a", "b"], "signup_date": pd.to_datetime(["2025-01-01", "2025-01-01"]),
    ...     "churned_at": pd.to_datetime([None, None]), "segment": ["smb", "smb"],
    ...     "region": ["eu", "us"], "plan": ["pro", "pro"], "mrr": [100.0, None],
    ...     "acquisition_cost": [500.0, 200.0],
    ... })
    >>> sessions = pd.DataFrame({
    ...     "account_id": ["a", "a", "a"], "user_id": ["u1", "u2", "u1"],
    ...     "started_at": pd.to_datetime(["2025-05-20 09:00", "2025-05-20 15:00", "2025-06-01 00:00"]),
    ...     "duration_seconds": [600.0, 1200.0, 300.0], "page_views": [4, 8, 100],
    ... })
    >>> out = compute_indicators(Tables(accounts, sessions=sessions), "2025-06-01", windows=(30,))
    >>> out[["sessions_30d", "active_days_30d", "active_users_30d", "pages_per_session_30d"]].T
    account_id               a    b
    sessions_30d           2.0  0.0
    active_days_30d        1.0  0.0
    active_users_30d       2.0  0.0
    pages_per_session_30d  6.0  NaN
    >>> out.loc["a", "days_since_last_activity"], out.loc["a", "tenure_days"]
    (np.float64(11.375), np.float64(151.0))
    >>> out["tickets_30d"].isna().all()  # no tickets table: unknown, not zero
    np.True_
    """
    tables = _check_tables(tables)
    as_of = _check_as_of(as_of)
    windows = check_windows(windows)
    polarity_models = _check_polarity_models(polarity_models, as_of)
    tables = dataclasses.replace(
        tables, **{name: _check_table(frame, name) for name, frame in tables.present().items()}
    )
    ids = active_accounts(tables.accounts, as_of)
    columns = {}
    columns.update(_account_part(tables.accounts, ids, as_of, churn_rate))
    columns.update(_engagement(tables.sessions, ids, as_of, windows))
    columns.update(_support(tables.tickets, ids, as_of, windows))
    columns.update(_satisfaction(tables.surveys, tables.scales, ids, as_of, windows))
    columns.update(_sentiment(tables.surveys, ids, as_of, windows, comment_scores, polarity_models))
    columns.update(_commercial(tables.orders, tables.returns, ids, as_of, windows))
    columns.update(shop_indicators(tables.orders, tables.returns, tables.surveys, ids, as_of, windows,
                                   lapse_days=getattr(tables.churn, "lapse_days", None)))
    columns.update(clv_columns(tables.orders, ids, as_of, clv_fit))
    order = indicator_columns(windows)
    out = pd.DataFrame({name: columns[name] for name in order}, index=ids)
    for name in categorical_columns():
        out[name] = out[name].astype(object).where(out[name].notna(), None)
    return out
