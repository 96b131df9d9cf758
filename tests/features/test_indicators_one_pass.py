"""The one-pass indicator engine equals the per-window path it replaced, on random tables.

``frozen`` below is the indicator code as it was before :class:`features.per_account.Bands`
(every window filtered its rows again, every indicator filtered them once more), copied
here unchanged with the helpers only it used. It is the reference: hypothesis draws small
portfolios of every table, with rows exactly on window edges (naive timestamps), accounts
with one event, windows with none, and unknown values, and the new path must give the same
numbers (NaN where the old gave NaN; sums may differ in the last bits, as the new path adds
in a different canonical order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import per_account as agg
from features.contract import Tables, with_optional_columns
from features.indicators import NEGATIVE_POLARITY, active_accounts, compute_indicators
from features.shop_indicators import TREND_DAYS

AS_OF = pd.Timestamp("2025-06-01 00:00")
WINDOWS = (7, 30, 90)
ACCOUNTS = ["A", "B", "C", "D", "E"]
DAY = pd.Timedelta(days=1)
# Every edge a band may end at (windows and the trends' 30/60 and 90/180 days), to the
# nanosecond and one nanosecond either side: where an off-by-one would show.
EDGES = [AS_OF - d * DAY + pd.Timedelta(ns) for d in (*WINDOWS, 60, 180) for ns in (-1, 0, 1)]
_when = st.one_of(
    st.sampled_from(EDGES),
    st.integers(-200 * 86_400, 10 * 86_400).map(lambda s: AS_OF + pd.Timedelta(seconds=s)),
)
_maybe_when = st.one_of(st.just(pd.NaT), _when)


def _times(stamps) -> pd.Series:
    return pd.Series(list(stamps), dtype="datetime64[ns]")


def _floats(draw, n, low, high, nan=True) -> pd.Series:
    value = st.floats(low, high, allow_nan=False)
    values = draw(st.lists(st.one_of(value, st.just(np.nan)) if nan else value,
                           min_size=n, max_size=n))
    return pd.Series(values, dtype="float64")


def _ids(draw, n) -> list[str]:
    return draw(st.lists(st.sampled_from(ACCOUNTS), min_size=n, max_size=n))


@st.composite
def portfolios(draw) -> tuple[Tables, pd.DataFrame]:
    accounts = pd.DataFrame({
        "account_id": ACCOUNTS,
        "signup_date": [AS_OF - pd.Timedelta(days=draw(st.integers(-5, 400))) for _ in ACCOUNTS],
        "churned_at": _times(draw(_maybe_when) for _ in ACCOUNTS),
    })
    n = draw(st.integers(0, 30))
    sessions = pd.DataFrame({
        "account_id": _ids(draw, n),
        "user_id": draw(st.lists(st.sampled_from(["u1", "u2", "u3", None]), min_size=n, max_size=n)),
        "started_at": _times(draw(st.lists(_maybe_when, min_size=n, max_size=n))),
        "duration_seconds": _floats(draw, n, 0, 1e4),
        "page_views": _floats(draw, n, 0, 60).round(),
    })
    k = draw(st.integers(0, 15))
    created = draw(st.lists(_when, min_size=k, max_size=k))
    later = st.one_of(st.just(None), st.integers(0, 90 * 24).map(lambda h: pd.Timedelta(hours=h)))
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i}" for i in range(k)],
        "account_id": _ids(draw, k),
        "channel": "email",
        "created_at": _times(created),
        "first_response_at": _times(c + d if (d := draw(later)) is not None else pd.NaT for c in created),
        "resolved_at": _times(c + d if (d := draw(later)) is not None else pd.NaT for c in created),
        "reopened_count": _floats(draw, k, 0, 3).round(),
    })
    s = draw(st.integers(0, 20))
    surveys = pd.DataFrame({
        "response_id": [f"R{i}" for i in draw(st.permutations(range(s)))],
        "account_id": _ids(draw, s),
        "survey": draw(st.lists(st.sampled_from(["nps", "csat", "ces"]), min_size=s, max_size=s)),
        "score": _floats(draw, s, 0, 10).round(),
        "responded_at": _times(draw(st.lists(_when, min_size=s, max_size=s))),
        "comment": draw(st.lists(st.sampled_from(["fine", "  ", None, "slow"]), min_size=s, max_size=s)),
    })
    scores = pd.DataFrame({
        "polarity": _floats(draw, s, -1, 1),
        "supported": pd.array(draw(st.lists(st.sampled_from([True, False, None]),
                                            min_size=s, max_size=s)), dtype="boolean"),
    })
    m = draw(st.integers(0, 15))
    orders = pd.DataFrame({
        "order_id": [f"O{i}" for i in range(m)],
        "account_id": _ids(draw, m),
        "ordered_at": _times(draw(st.lists(_when, min_size=m, max_size=m))),
        "amount": _floats(draw, m, 0, 1e4, nan=False),
        "items": pd.Series(draw(st.lists(st.integers(1, 5), min_size=m, max_size=m)), dtype="int64"),
    })
    r = draw(st.integers(0, 8)) if m else 0
    returns = pd.DataFrame({
        "order_id": draw(st.lists(st.sampled_from(list(orders["order_id"]) or ["O0"]),
                                  min_size=r, max_size=r)),
        "returned_at": _times(draw(st.lists(_when, min_size=r, max_size=r))),
        "items": pd.Series(draw(st.lists(st.integers(1, 3), min_size=r, max_size=r)), dtype="int64"),
        "amount": _floats(draw, r, 0, 500),
    })
    frames = {"accounts": accounts, "sessions": sessions, "tickets": tickets,
              "surveys": surveys, "orders": orders, "returns": returns}
    tables = Tables(**{name: with_optional_columns(name, f) for name, f in frames.items()})
    return tables, scores


# --- the frozen per-window path (as it was before the one-pass engine) ----------------


def _median_by(codes, values, n):
    known = ~np.isnan(values)
    codes, values = codes[known], values[known]
    order = np.lexsort((values, codes))
    codes, values = codes[order], values[order]
    counts = np.bincount(codes, minlength=n)
    starts = np.cumsum(counts) - counts
    out = np.full(n, np.nan)
    has = counts > 0
    low = starts[has] + (counts[has] - 1) // 2
    high = starts[has] + counts[has] // 2
    out[has] = (values[low] + values[high]) / 2
    return out


def _distinct_days(codes, days, span, n):
    seen = np.zeros(n * span, dtype=bool)
    seen[codes.astype(np.int64) * span + days] = True
    return seen.reshape(n, span).sum(axis=1).astype(float)


def _engagement(sessions, ids, cut, windows):
    n = len(ids)
    started = agg.as_ns(sessions["started_at"])
    codes = agg.account_codes(sessions["account_id"], ids)
    before = (codes >= 0) & (started != agg.NAT) & (started < cut)
    out = {"days_since_last_activity": agg.days_since(cut, agg.max_by(codes[before], started[before], n))}
    horizon_days = max(max(windows), 60)
    rows = np.flatnonzero(before & (started >= cut - horizon_days * agg.NS_PER_DAY))
    seconds = agg.as_float(sessions["duration_seconds"])[rows]
    codes, started = codes[rows], started[rows]
    pages = agg.as_float(sessions["page_views"])[rows]
    days = started // agg.NS_PER_DAY
    days -= days.min() if len(days) else 0
    users, user_names = pd.factorize(sessions["user_id"].take(rows))
    user_codes, user_latest = agg.latest_per_user(codes, users, len(user_names), started)
    for w in windows:
        start = cut - w * agg.NS_PER_DAY
        inside = started >= start
        c = codes[inside]
        out[f"sessions_{w}d"] = agg.count(c, n)
        out[f"active_days_{w}d"] = _distinct_days(c, days[inside], horizon_days + 2, n)
        out[f"active_users_{w}d"] = agg.count(user_codes[user_latest >= start], n)
        out[f"pages_per_session_{w}d"] = agg.mean_by(c, pages[inside], n)
        out[f"avg_session_minutes_{w}d"] = agg.mean_by(c, seconds[inside], n) / 60.0
    last30 = agg.count(codes[started >= cut - 30 * agg.NS_PER_DAY], n)
    before30 = (started >= cut - 60 * agg.NS_PER_DAY) & (started < cut - 30 * agg.NS_PER_DAY)
    previous30 = agg.count(codes[before30], n)
    out["sessions_trend_30d"] = agg.ratio(last30 - previous30, previous30, 100.0)
    return out


def _support(tickets, ids, cut, windows):
    n = len(ids)
    frame, codes, created = agg.known_rows_before(tickets, "created_at", ids, cut)
    resolved = agg.as_ns(frame["resolved_at"])
    answered = agg.as_ns(frame["first_response_at"])
    is_resolved = (resolved != agg.NAT) & (resolved < cut)
    is_answered = (answered != agg.NAT) & (answered < cut)
    resolution_hours = np.where(is_resolved, (resolved - created) / agg.NS_PER_HOUR, np.nan)
    response_hours = np.where(is_answered, (answered - created) / agg.NS_PER_HOUR, np.nan)
    reopened = agg.as_float(frame["reopened_count"])
    out = {}
    for w in windows:
        start = cut - w * agg.NS_PER_DAY
        new = created >= start
        out[f"tickets_{w}d"] = agg.count(codes[new], n)
        solved = is_resolved & (resolved >= start)
        out[f"resolution_hours_mean_{w}d"] = agg.mean_by(codes[solved], resolution_hours[solved], n)
        out[f"resolution_hours_median_{w}d"] = _median_by(codes[solved], resolution_hours[solved], n)
        first = is_answered & (answered >= start)
        out[f"first_response_hours_mean_{w}d"] = agg.mean_by(codes[first], response_hours[first], n)
        counted = new & ~np.isnan(reopened)
        out[f"reopened_share_{w}d"] = agg.ratio(
            agg.count(codes[counted & (reopened >= 1)], n), agg.count(codes[counted], n), 100.0)
    return out


def _surveys_before(surveys, ids, cut):
    responded = agg.as_ns(surveys["responded_at"])
    before = (responded != agg.NAT) & (responded < cut)
    codes = agg.account_codes(surveys["account_id"][before], ids)
    positions = np.flatnonzero(before)[codes >= 0]
    return positions, codes[codes >= 0], responded[positions]


def _satisfaction(surveys, satisfied_at, ids, cut, windows):
    n = len(ids)
    positions, codes, responded = _surveys_before(surveys, ids, cut)
    frame = surveys.iloc[positions]
    kind = frame["survey"].to_numpy(dtype=object)
    score = agg.as_float(frame["score"])
    out = {}
    for w in windows:
        inside = responded >= cut - w * agg.NS_PER_DAY
        for survey, column in (("nps", "nps_mean"), ("csat", "csat_mean"), ("ces", "ces_mean")):
            rows = inside & (kind == survey)
            out[f"{column}_{w}d"] = agg.mean_by(codes[rows], score[rows], n)
        rows = inside & (kind == "csat") & ~np.isnan(score)
        out[f"csat_{w}d"] = agg.ratio(
            agg.count(codes[rows & (score >= satisfied_at)], n), agg.count(codes[rows], n), 100.0)
    return out


def _sentiment(surveys, ids, cut, windows, comment_scores):
    n = len(ids)
    positions, codes, responded = _surveys_before(surveys, ids, cut)
    comment = surveys["comment"].to_numpy(dtype=object)[positions]
    has_text = np.array([isinstance(c, str) and c.strip() != "" for c in comment], dtype=bool)
    positions, codes, responded = positions[has_text], codes[has_text], responded[has_text]
    scores = comment_scores.loc[surveys.index[positions]]
    polarity = agg.as_float(scores["polarity"])
    flag = scores["supported"].astype("boolean")
    readable = flag.fillna(False).to_numpy(dtype=bool) & ~np.isnan(polarity)
    unreadable = (~flag.fillna(True)).to_numpy(dtype=bool)

    def mean_between(start_days, end_days):
        rows = readable & (responded >= cut - start_days * agg.NS_PER_DAY) \
            & (responded < cut - end_days * agg.NS_PER_DAY)
        return agg.mean_by(codes[rows], polarity[rows], n)

    out = {}
    for w in windows:
        inside = responded >= cut - w * agg.NS_PER_DAY
        read = inside & readable
        n_read = agg.count(codes[read], n)
        out[f"comments_{w}d"] = n_read
        out[f"sentiment_mean_{w}d"] = agg.mean_by(codes[read], polarity[read], n)
        out[f"negative_comment_share_{w}d"] = agg.ratio(
            agg.count(codes[read & (polarity < NEGATIVE_POLARITY)], n), n_read, 100.0)
        n_unread = agg.count(codes[inside & unreadable], n)
        out[f"unsupported_comment_share_{w}d"] = agg.ratio(n_unread, n_read + n_unread, 100.0)
    out["sentiment_trend_90d"] = mean_between(90, 0) - mean_between(180, 90)
    return out


def _returned(frame, returns, column, cut):
    when = agg.as_ns(returns["returned_at"])
    done = (when != agg.NAT) & (when < cut)
    position = pd.Index(frame["order_id"]).get_indexer(returns["order_id"][done])
    matched = position >= 0
    value = np.nan_to_num(agg.as_float(returns[column][done])[matched])
    return np.bincount(position[matched], weights=value, minlength=len(frame))


def _commercial(orders, returns, ids, cut, windows):
    n = len(ids)
    frame, codes, ordered = agg.known_rows_before(orders, "ordered_at", ids, cut)
    amount = agg.as_float(frame["amount"])
    items = agg.as_float(frame["items"])
    returned = _returned(frame, returns, "items", cut)
    returned_value = _returned(frame, returns, "amount", cut)
    out = {}
    for w in windows:
        inside = ordered >= cut - w * agg.NS_PER_DAY
        count = agg.count(codes[inside], n)
        out[f"orders_{w}d"] = count
        out[f"repeat_purchase_{w}d"] = np.where(count >= 2, 1.0, np.where(count == 1, 0.0, np.nan))
        revenue = agg.sum_by(codes[inside], amount[inside], n)
        out[f"revenue_{w}d"] = revenue
        out[f"return_rate_{w}d"] = agg.ratio(
            agg.sum_by(codes[inside], returned[inside], n), agg.sum_by(codes[inside], items[inside], n), 100.0)
        out[f"average_order_value_{w}d"] = agg.ratio(revenue, count)
        if returns["amount"].notna().any():
            out[f"returned_value_share_{w}d"] = agg.ratio(
                agg.sum_by(codes[inside], returned_value[inside], n), revenue, 100.0)
    last90 = ordered >= cut - 90 * agg.NS_PER_DAY
    previous90 = (ordered >= cut - 180 * agg.NS_PER_DAY) & ~last90
    revenue_last = agg.sum_by(codes[last90], amount[last90], n)
    revenue_previous = agg.sum_by(codes[previous90], amount[previous90], n)
    out["revenue_trend_90d"] = agg.ratio(revenue_last - revenue_previous, revenue_previous, 100.0)
    last = ordered >= cut - TREND_DAYS * agg.NS_PER_DAY
    earlier = (ordered >= cut - 2 * TREND_DAYS * agg.NS_PER_DAY) & ~last
    recent, before = agg.count(codes[last], n), agg.count(codes[earlier], n)
    out["orders_trend_90d"] = agg.ratio(recent - before, before, 100.0)
    return out


def frozen(tables: Tables, as_of: pd.Timestamp, comment_scores: pd.DataFrame) -> pd.DataFrame:
    """The windowed indicators computed by the per-window path the engine replaced."""
    ids = active_accounts(tables.accounts, as_of)
    cut = as_of.value
    columns = {}
    columns.update(_engagement(tables.sessions, ids, cut, WINDOWS))
    columns.update(_support(tables.tickets, ids, cut, WINDOWS))
    columns.update(_satisfaction(tables.surveys, tables.scales.csat.satisfied_at, ids, cut, WINDOWS))
    columns.update(_sentiment(tables.surveys, ids, cut, WINDOWS, comment_scores))
    columns.update(_commercial(tables.orders, tables.returns, ids, cut, WINDOWS))
    return pd.DataFrame(columns, index=ids)


@pytest.mark.slow  # about 10 s of CPU: 60 portfolios through both paths
@settings(max_examples=60, deadline=None)
@given(portfolio=portfolios())
def test_the_one_pass_engine_equals_the_per_window_path_it_replaced(portfolio):
    tables, comment_scores = portfolio
    expected = frozen(tables, AS_OF, comment_scores)
    got = compute_indicators(tables, AS_OF, windows=WINDOWS, comment_scores=comment_scores)
    pd.testing.assert_frame_equal(got[list(expected.columns)], expected, check_exact=False,
                                  rtol=1e-9, atol=1e-9, check_names=False)
