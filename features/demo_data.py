"""Demo data that behaves like a real customer base, reproducible from a seed.

Every account carries a latent *health* that drifts week by week (an AR(1) random walk
around the account's own level). Health drives everything a customer-success team sees:

- usage: how many of the account's users stay active (unhealthy accounts' users go
  quiet), how often they log in, how long they stay and whether they convert;
- support: how many tickets they open, how long those take to resolve, how often they are
  reopened and how many are never resolved;
- commerce: add-on orders and the share of them returned;
- surveys: NPS, CSAT and CES answers and the tone of the comments written with them
  (English, plus Arabic and Persian from accounts in the Middle East);
- churn: a weekly hazard that grows as health falls, jumps in the weeks before an annual
  contract renews, and is higher in the first months after sign-up.

Because the model only sees noisy traces of health (and churn also has a part unrelated to
health), churn is predictable but not trivially so.

The calendar is fixed by ``start`` and ``months``: nothing reads the clock, so the same
seed gives byte-identical files. Generation is vectorised: the only Python loop runs over
weeks (78 for 18 months), never over accounts or rows.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from features.contract import TRAFFIC_SOURCES
from features.demo_comments import compose_comments
from features.io import FORMATS, write_tables

DAY = 86_400
WEEK = 7 * DAY

SEGMENTS = np.array(["SMB", "Mid-Market", "Enterprise"], dtype=object)
SEGMENT_SHARE = np.array([0.68, 0.24, 0.08])
REGIONS = np.array(
    ["North America", "Europe", "Middle East", "Asia Pacific", "Latin America"], dtype=object
)
# The people this product is for work with many customers in the Middle East: enough of
# them, writing in Arabic and Persian, for a polarity learnt from their survey answers to
# meet its default rule (features.polarity.MIN_EXAMPLES per side) at a few thousand accounts.
REGION_SHARE = np.array([0.29, 0.22, 0.30, 0.12, 0.07])
MIDDLE_EAST = 2
PLANS = np.array(["Starter", "Growth", "Business", "Enterprise"], dtype=object)
#: The customer-success managers of the demo accounts (the optional ``owner`` column).
DEMO_OWNERS = np.array(["Ana Ruiz", "Ben Okafor", "Chloé Martin", "Dev Patel", "Emma Novak"], dtype=object)
# Plan probabilities per segment (rows: SMB, Mid-Market, Enterprise).
PLAN_SHARE = np.array([
    [0.62, 0.38, 0.00, 0.00],
    [0.00, 0.45, 0.55, 0.00],
    [0.00, 0.00, 0.25, 0.75],
])

# Per-segment parameters, indexed by segment code.
SEATS_MIN = np.array([1, 3, 8])
SEATS_EXTRA = np.array([2.0, 6.0, 20.0])  # Poisson mean of seats above the minimum
MRR_MEDIAN = np.array([240.0, 2_100.0, 13_500.0])
HEALTH_LEVEL = np.array([0.0, 0.15, 0.3])
ANNUAL_SHARE = np.array([0.45, 0.85, 1.0])  # the rest renew month by month
CHURN_MULT = np.array([1.0, 0.8, 0.55])
ORDER_RATE = np.array([0.035, 0.06, 0.11])  # add-on orders per week at health 0
ITEMS_EXTRA = np.array([1.5, 3.0, 6.0])

# Seasonality by calendar month (January first).
SESSION_SEASON = np.array([1.0, 1.02, 1.03, 1.0, 0.98, 0.95, 0.88, 0.82, 1.0, 1.03, 1.0, 0.8])
TICKET_SEASON = np.array([1.15, 1.05, 1.0, 1.0, 1.0, 0.95, 0.9, 0.9, 1.1, 1.05, 1.0, 0.9])
SIGNUP_SEASON = np.array([1.3, 1.1, 1.1, 1.0, 1.0, 0.9, 0.8, 0.8, 1.2, 1.1, 1.0, 0.7])

# Calibrated so that 100,000 accounts over 18 months give about 10 million sessions.
SESSIONS_PER_ACTIVE_USER_WEEK = 0.18

TICKET_CHANNELS = np.array(["email", "chat", "phone", "portal"], dtype=object)
TICKET_CHANNEL_SHARE = np.array([0.4, 0.3, 0.15, 0.15])
TICKET_CHANNEL_SPEED = np.array([1.0, 0.55, 0.7, 1.25])  # resolution time multipliers

#: The shapes of business the demo generates: a subscription service (this module) or an
#: online shop (:mod:`features.demo_shop`, no churn column: churn is a lapse in ordering).
BUSINESSES = ("subscription", "transactional")

# How often visits come from each of TRAFFIC_SOURCES (the sessions' ``source``).
SOURCE_SHARE = np.array([0.34, 0.16, 0.14, 0.08, 0.10, 0.18])

SURVEY_TOUCHPOINTS = np.array(["onboarding", "product", "billing", "training", "renewal"], dtype=object)


# --- helpers ---------------------------------------------------------------------------


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _ids(prefix: str, n: int, width: int) -> np.ndarray:
    if n == 0:
        return np.array([], dtype=object)
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _width(n: int) -> int:
    return max(6, len(str(n)))


def _str_column(codes: np.ndarray, names: np.ndarray) -> pd.Series:
    """``names[codes]`` as a pandas string column, built in Arrow to stay fast and compact."""
    decoded = pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int32)), pa.array(names.astype(str))
    ).dictionary_decode()
    return pd.Series(pd.array(decoded, dtype="str"))


def _stamps(origin: pd.Timestamp, seconds: np.ndarray) -> pd.Series:
    """Whole seconds after ``origin`` as naive UTC timestamps; ``_NEVER`` becomes NaT."""
    values = origin.value + seconds.astype(np.int64) * 1_000_000_000
    stamps = values.view("datetime64[ns]").copy()
    stamps[seconds == _NEVER] = np.datetime64("NaT")
    return pd.Series(stamps)


_NEVER = np.iinfo(np.int64).max // 4  # "no such time": beyond any data end


def _office_hours(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, weekday_of_start: int
) -> np.ndarray:
    """Times in [lo, hi) seconds, mostly on weekdays and around office hours."""
    n = len(lo)
    span = hi - lo
    t = lo + (rng.random(n) * span).astype(np.int64)
    weekday = (t // DAY + weekday_of_start) % 7
    # Most weekend activity is moved to another random moment of the window.
    again = (weekday >= 5) & (rng.random(n) < 0.75)
    t[again] = lo[again] + (rng.random(again.sum()) * span[again]).astype(np.int64)
    hour = np.clip(rng.normal(13.5 * 3600, 3.2 * 3600, n), 0, DAY - 1).astype(np.int64)
    t = (t // DAY) * DAY + hour
    return np.clip(t, lo, hi - 1)


def _month_of(origin: pd.Timestamp, seconds: np.ndarray) -> np.ndarray:
    """Calendar month (0 = January) of times given as seconds after ``origin``."""
    stamps = (origin.value // 1_000_000_000 + seconds).astype("datetime64[s]")
    return stamps.astype("datetime64[M]").astype(np.int64) % 12


# --- the generator ---------------------------------------------------------------------


def generate_demo_data(
    *, accounts: int = 2000, months: int = 18, seed: int = 7, start: str = "2025-01-01",
    latent: bool = False,
) -> dict[str, pd.DataFrame]:
    """Generate the six input tables of a synthetic but realistic customer base.

    Parameters
    ----------
    accounts : int
        Number of accounts: about 60% already customers at ``start``, the rest signing up
        during the period.
    months : int
        Length of the period; the data ends at ``start`` + ``months`` (exclusive).
    seed : int
        Seed of the random generator; the same seed gives the same tables, bit for bit.
    start : str
        First day of the period (ISO date); naive, meaning UTC.
    latent : bool
        Add the hidden truth the tables were drawn from, for checking what a method
        recovers: ``surveys.latent_health``, the account's health in the week of the answer.
        The other columns are the same either way.

    Returns
    -------
    dict of str to DataFrame
        ``accounts``, ``sessions``, ``tickets``, ``orders``, ``returns`` and ``surveys``
        with the canonical columns of ``docs/data-contract.md``. Timestamps are naive UTC
        ``datetime64[ns]`` in whole seconds; survey scores use the default scales (NPS
        0-10, CSAT 1-5, CES 1-5 with higher meaning easier).

    Raises
    ------
    ValueError
        When ``accounts`` or ``months`` is below 1, or ``start`` is not a date.

    Examples
    --------
    >>> tables = generate_demo_data(accounts=50, months=3, seed=1)
    >>> sorted(tables)
    ['accounts', 'orders', 'returns', 'sessions', 'surveys', 'tickets']
    >>> len(tables["accounts"])
    50
    >>> bool(tables["sessions"]["started_at"].max() < pd.Timestamp("2025-04-01"))
    True
    """
    if int(accounts) < 1:
        raise ValueError(f"accounts must be at least 1, got {accounts}")
    if int(months) < 1:
        raise ValueError(f"months must be at least 1, got {months}")
    try:
        origin = pd.Timestamp(start).normalize()
    except (ValueError, TypeError):
        raise ValueError(f"start must be an ISO date such as 2025-01-01, got {start!r}") from None
    if origin.tzinfo is not None:
        origin = origin.tz_convert("UTC").tz_localize(None)
    n, months = int(accounts), int(months)
    rng = np.random.default_rng(seed)
    end_s = int((origin + pd.DateOffset(months=months) - origin).total_seconds())
    weekday_of_start = origin.weekday()

    acc = _draw_accounts(rng, n, origin, months, end_s)
    life = _simulate_health_and_churn(rng, acc, end_s)
    sessions = _draw_sessions(rng, acc, life, origin, weekday_of_start)
    # Drawn from a generator of its own, so the other tables stay those of earlier releases.
    sessions["source"] = traffic_sources(np.random.default_rng([seed, 1]), len(sessions))
    tickets, ticket_extra = _draw_tickets(rng, acc, life, origin, end_s, weekday_of_start)
    orders, returns = _draw_orders(rng, acc, life, origin, end_s, weekday_of_start)
    surveys = _draw_surveys(rng, acc, life, ticket_extra, origin, end_s, weekday_of_start, latent)
    accounts_table = _accounts_table(acc, life, origin, end_s)
    return {
        "accounts": accounts_table,
        "sessions": sessions,
        "tickets": tickets,
        "orders": orders,
        "returns": returns,
        "surveys": surveys,
    }


def traffic_sources(rng: np.random.Generator, m: int) -> pd.Series:
    """Where ``m`` visits came from, drawn with :data:`SOURCE_SHARE`."""
    return _str_column(rng.choice(len(TRAFFIC_SOURCES), size=m, p=SOURCE_SHARE),
                       np.array(TRAFFIC_SOURCES, dtype=object))


def _draw_accounts(rng, n, origin, months, end_s) -> dict:
    segment = rng.choice(3, size=n, p=SEGMENT_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    cumulative = PLAN_SHARE[segment].cumsum(axis=1)
    plan = (rng.random(n)[:, None] > cumulative).sum(axis=1)
    existing = rng.random(n) < 0.6
    # Existing customers signed up 1 month to 6 years before the start, recent ones more often.
    age_days = (30 + np.mod(rng.exponential(540, n), 6 * 365 - 30)).astype(np.int64)
    # New customers sign up during the period, more in January and September.
    month_starts = np.array([
        int((origin + pd.DateOffset(months=m) - origin).total_seconds()) for m in range(months + 1)
    ])
    calendar_month = (origin.month - 1 + np.arange(months)) % 12
    weights = SIGNUP_SEASON[calendar_month] * np.diff(month_starts)
    signup_month = rng.choice(months, size=n, p=weights / weights.sum())
    month_len_days = np.diff(month_starts)[signup_month] // DAY
    signup_new = month_starts[signup_month] + (rng.random(n) * month_len_days).astype(np.int64) * DAY
    signup = np.where(existing, -age_days * DAY, signup_new)
    # Account ids follow signup order, like a real CRM's sequence.
    order = np.argsort(signup, kind="stable")
    segment, region, plan, signup = segment[order], region[order], plan[order], signup[order]

    seats = SEATS_MIN[segment] + rng.poisson(SEATS_EXTRA[segment])
    mrr = np.round(MRR_MEDIAN[segment] * rng.lognormal(0, 0.45, n) * (1 + 0.25 * (plan % 2)), 2)
    acquisition_cost = np.round(mrr * rng.uniform(2.5, 9.0, n), 2)
    annual = rng.random(n) < ANNUAL_SHARE[segment]
    term = np.where(annual, 365, 30) * DAY
    level = HEALTH_LEVEL[segment] + 0.7 * rng.standard_normal(n)
    # Accounts that never answer a survey, and how willing the others are.
    propensity = np.where(rng.random(n) < 0.18, 0.0, rng.beta(2.0, 3.0, n))
    language = np.zeros(n, dtype=np.int8)
    middle_east = region == MIDDLE_EAST
    # From a generator of its own (spawning does not advance ``rng``): the draws of every
    # later table do not depend on how many accounts are in the Middle East.
    language[middle_east] = rng.spawn(1)[0].choice(3, size=middle_east.sum(), p=[0.2, 0.42, 0.38])
    return dict(
        n=n, segment=segment, region=region, plan=plan, signup=signup, seats=seats, mrr=mrr,
        acquisition_cost=acquisition_cost, term=term, annual=annual, level=level,
        propensity=propensity, language=language, user_offset=np.concatenate([[0], seats.cumsum()[:-1]]),
    )


def _simulate_health_and_churn(rng, acc, end_s) -> dict:
    """Weekly latent health and the churn draw; the loop runs over weeks only."""
    n = acc["n"]
    weeks = -(-end_s // WEEK)
    week_lo = np.arange(weeks, dtype=np.int64) * WEEK
    week_hi = np.minimum(week_lo + WEEK, end_s)
    signup, term, level = acc["signup"], acc["term"], acc["level"]
    # New accounts start less settled; accounts still customers at the start are the
    # survivors of earlier churn, so their health is a little better than their level.
    health = np.where(signup >= 0, level - 0.3, level + 0.25) + 0.6 * rng.standard_normal(n)
    churn_mult = CHURN_MULT[acc["segment"]]
    H = np.empty((n, weeks), dtype=np.float32)
    churn_s = np.full(n, _NEVER, dtype=np.int64)
    for w in range(weeks):
        health = level + 0.97 * (health - level) + 0.17 * rng.standard_normal(n)
        H[:, w] = health
        mid = week_lo[w] + (week_hi[w] - week_lo[w]) // 2
        lo = np.maximum(week_lo[w], signup)
        alive = (signup < week_hi[w]) & (churn_s == _NEVER)
        tenure = mid - signup
        to_renewal = term - np.mod(tenure, term)
        renewal_window = acc["annual"] & (to_renewal <= 28 * DAY)
        contract = np.where(acc["annual"], np.where(renewal_window, 4.0, 0.3), 1.0)
        early = np.where(tenure < 90 * DAY, 1.8, 1.0)
        hazard = np.exp(-6.7 - 2.3 * health) * contract * early * churn_mult + 0.0003
        exposure = np.clip(week_hi[w] - lo, 0, None) / WEEK
        p = 1.0 - np.exp(-hazard * exposure)
        churns = alive & (rng.random(n) < p)
        span = week_hi[w] - lo[churns]
        churn_s[churns] = lo[churns] + 1 + (rng.random(churns.sum()) * (span - 1)).astype(np.int64)
    return dict(H=H, churn_s=churn_s, weeks=weeks, week_lo=week_lo, week_hi=week_hi, end_s=end_s)


def _cells(acc, life, origin):
    """Per (account, week): the seconds the account was a live customer, and the month."""
    lo = np.maximum(life["week_lo"][None, :], acc["signup"][:, None])
    hi = np.minimum(life["week_hi"][None, :], life["churn_s"][:, None])
    exposure = np.clip(hi - lo, 0, None) / WEEK
    month = _month_of(origin, life["week_lo"] + WEEK // 2)
    return lo, hi, exposure, month


def _active_users(acc, H) -> np.ndarray:
    """Users still active per (account, week): unhealthy accounts' users go quiet."""
    share = _sigmoid(0.9 + 1.8 * H)
    return np.maximum(1, np.rint(acc["seats"][:, None] * share)).astype(np.int32)


def _draw_sessions(rng, acc, life, origin, weekday_of_start) -> pd.DataFrame:
    H = life["H"]
    lo, hi, exposure, month = _cells(acc, life, origin)
    active = _active_users(acc, H)
    rate = active * SESSIONS_PER_ACTIVE_USER_WEEK * np.exp(0.8 * H) * SESSION_SEASON[month][None, :]
    counts = rng.poisson(rate * exposure).ravel()
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    del counts, rate
    weeks = life["weeks"]
    account = (cell // weeks).astype(np.int32)
    health = H.ravel()[cell]
    started = _office_hours(rng, lo.ravel()[cell], hi.ravel()[cell], weekday_of_start)
    user = acc["user_offset"][account] + (rng.random(len(cell)) * active.ravel()[cell]).astype(np.int64)
    del cell, lo, hi
    m = len(account)
    duration = np.rint(np.exp(rng.normal(np.log(420) + 0.2 * health, 0.8))).clip(5, 4 * 3600)
    page_views = 1 + rng.poisson(duration / 100.0)
    converted = rng.random(m) < _sigmoid(-2.3 + 0.6 * health)
    del health
    order = np.lexsort((user, started))
    user_ids = _ids("U", int(acc["seats"].sum()), _width(int(acc["seats"].sum())))
    return pd.DataFrame({
        "account_id": _str_column(account[order], _account_ids(acc["n"])),
        "user_id": _str_column(user[order], user_ids),
        "started_at": _stamps(origin, started[order]),
        "duration_seconds": duration[order],
        "page_views": page_views[order],
        "converted": converted[order],
    })


def _account_ids(n: int) -> np.ndarray:
    return _ids("A", n, _width(n))


def _draw_tickets(rng, acc, life, origin, end_s, weekday_of_start):
    H = life["H"]
    lo, hi, exposure, month = _cells(acc, life, origin)
    rate = 0.03 * acc["seats"][:, None] ** 0.6 * np.exp(-0.6 * H) * TICKET_SEASON[month][None, :]
    counts = rng.poisson(rate * exposure).ravel()
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    account = cell // life["weeks"]
    health = H.ravel()[cell].astype(float)
    created = _office_hours(rng, lo.ravel()[cell], hi.ravel()[cell], weekday_of_start)
    m = len(cell)
    p_channel = np.tile(TICKET_CHANNEL_SHARE, (m, 1))
    p_channel[acc["segment"][account] == 2] = [0.3, 0.2, 0.35, 0.15]  # Enterprise phones
    channel = (rng.random(m)[:, None] > p_channel.cumsum(axis=1)).sum(axis=1).clip(0, 3)
    hours = np.exp(rng.normal(np.log(16) - 0.4 * health, 1.0)) * TICKET_CHANNEL_SPEED[channel]
    resolved = created + np.rint(hours * 3600).astype(np.int64) + 60
    first_response = created + np.rint(hours * 3600 * rng.beta(1.2, 6.0, m)).astype(np.int64) + 30
    never = rng.random(m) < _sigmoid(-3.4 - 0.7 * health)
    resolved = np.where(never | (resolved >= end_s), _NEVER, resolved)
    first_response = np.where(first_response >= end_s, _NEVER, first_response)
    reopened = rng.poisson(0.12 * np.exp(-0.5 * health))
    order = np.argsort(created, kind="stable")
    frame = pd.DataFrame({
        "ticket_id": _ids("T", m, _width(m)),
        "account_id": _account_ids(acc["n"])[account[order]],
        "channel": TICKET_CHANNELS[channel[order]],
        "created_at": _stamps(origin, created[order]),
        "first_response_at": _stamps(origin, first_response[order]),
        "resolved_at": _stamps(origin, resolved[order]),
        "reopened_count": reopened[order],
    }).astype({"ticket_id": "str", "account_id": "str", "channel": "str"})
    extra = dict(
        account=account[order], health=health[order], channel=channel[order],
        resolved=resolved[order], hours=hours[order],
    )
    return frame, extra


def _draw_orders(rng, acc, life, origin, end_s, weekday_of_start):
    H = life["H"]
    lo, hi, exposure, _ = _cells(acc, life, origin)
    rate = ORDER_RATE[acc["segment"]][:, None] * np.exp(0.35 * H)
    counts = rng.poisson(rate * exposure).ravel()
    cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
    account = cell // life["weeks"]
    health = H.ravel()[cell].astype(float)
    ordered = _office_hours(rng, lo.ravel()[cell], hi.ravel()[cell], weekday_of_start)
    m = len(cell)
    items = 1 + rng.poisson(ITEMS_EXTRA[acc["segment"][account]])
    amount = np.round(items * acc["mrr"][account] * 0.08 * rng.lognormal(0, 0.35, m), 2)
    order = np.argsort(ordered, kind="stable")
    account, health, ordered, items, amount = (
        account[order], health[order], ordered[order], items[order], amount[order]
    )
    order_ids = _ids("O", m, _width(m))
    orders = pd.DataFrame({
        "order_id": order_ids,
        "account_id": _account_ids(acc["n"])[account],
        "ordered_at": _stamps(origin, ordered),
        "amount": amount,
        "items": items,
    }).astype({"order_id": "str", "account_id": "str"})

    returned = rng.random(m) < _sigmoid(-2.9 - 0.7 * health)
    back_items = 1 + rng.binomial(items - 1, 0.3)
    returned_at = ordered + np.rint((2 + rng.exponential(8, m)) * DAY).astype(np.int64)
    # A return is activity too: none after the account left or after the data ends.
    limit = np.minimum(life["churn_s"][account], end_s)
    keep = returned & (returned_at < limit)
    rows = np.flatnonzero(keep)
    rows = rows[np.argsort(returned_at[rows], kind="stable")]
    returns = pd.DataFrame({
        "order_id": order_ids[rows],
        "returned_at": _stamps(origin, returned_at[rows]),
        "items": back_items[rows],
        "amount": np.round(amount[rows] * back_items[rows] / items[rows], 2),
    }).astype({"order_id": "str"})
    return orders, returns


def _draw_surveys(rng, acc, life, ticket, origin, end_s, weekday_of_start, latent) -> pd.DataFrame:
    H = life["H"]
    lo, hi, exposure, _ = _cells(acc, life, origin)
    propensity = acc["propensity"][:, None]
    parts = []

    def periodic(survey, every_weeks, touchpoints):
        counts = rng.poisson(exposure * propensity / every_weeks).ravel()
        cell = np.repeat(np.arange(counts.size, dtype=np.int64), counts)
        m = len(cell)
        parts.append(dict(
            survey=np.full(m, survey, dtype=object),
            account=cell // life["weeks"],
            health=H.ravel()[cell].astype(float),
            at=_office_hours(rng, lo.ravel()[cell], hi.ravel()[cell], weekday_of_start),
            channel=np.where(rng.random(m) < 0.6, "email", "in-app").astype(object),
            touchpoint=touchpoints[rng.integers(0, len(touchpoints), m)],
            slow=np.zeros(m),
        ))

    periodic("nps", 13, np.array(["relationship"], dtype=object))
    periodic("csat", 26, SURVEY_TOUCHPOINTS)
    periodic("ces", 26, SURVEY_TOUCHPOINTS)

    # CSAT and CES after a resolved ticket, answered within hours; slow tickets rate worse.
    resolved = ticket["resolved"] != _NEVER
    for survey, share in (("csat", 0.35), ("ces", 0.2)):
        asked = resolved & (rng.random(len(resolved)) < share * acc["propensity"][ticket["account"]])
        rows = np.flatnonzero(asked)
        at = ticket["resolved"][rows] + np.rint(rng.exponential(6 * 3600, len(rows))).astype(np.int64)
        limit = np.minimum(life["churn_s"][ticket["account"][rows]], end_s)
        rows, at = rows[at < limit], at[at < limit]
        parts.append(dict(
            survey=np.full(len(rows), survey, dtype=object),
            account=ticket["account"][rows],
            health=ticket["health"][rows],
            at=at,
            channel=TICKET_CHANNELS[ticket["channel"][rows]],
            touchpoint=np.full(len(rows), "support ticket", dtype=object),
            slow=np.log(ticket["hours"][rows] / 16.0),
        ))

    merged = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    m = len(merged["at"])
    health, slow, survey = merged["health"], merged["slow"], merged["survey"]
    # Satisfaction follows health, with the mood of the day on top.
    mood = health - 0.3 * slow + rng.normal(0, 0.9, m)
    score = np.where(
        survey == "nps", np.clip(np.rint(7.6 + 1.8 * mood), 0, 10) + 0.0,
        np.where(survey == "csat", np.clip(np.rint(3.9 + 0.75 * mood), 1, 5),
                 np.clip(np.rint(3.5 + 0.7 * mood), 1, 5)),
    )
    # Neutral at a passive NPS (7.5) and at the middle of the 1-5 scales. A comment says
    # how the relationship goes as much as how the day went: half the answer, half health.
    centre, half = np.where(survey == "nps", 7.5, 3.0), np.where(survey == "nps", 2.5, 2.0)
    answer = np.clip((score - centre) / half, -1, 1)
    tone = np.clip(0.5 * answer + 0.5 * health, -1, 1) + rng.normal(0, 0.25, m)
    # Unhappy customers write more often than happy ones.
    wants_comment = rng.random(m) < np.select([survey == "nps", survey == "csat"], [0.45, 0.3], 0.2) \
        * np.where(answer < 0, 1.8, 1.0)
    language = acc["language"][merged["account"]].copy()
    # Some Middle East customers still write in English now and then.
    language[rng.random(m) < 0.1] = 0
    comment = np.full(m, None, dtype=object)
    rows = np.flatnonzero(wants_comment)
    comment[rows] = compose_comments(rng, tone[rows], language[rows])

    order = np.lexsort((merged["account"], merged["at"]))
    frame = pd.DataFrame({
        "response_id": _ids("R", m, _width(m)),
        "account_id": _account_ids(acc["n"])[merged["account"][order]],
        "survey": survey[order],
        "score": score[order],
        "responded_at": _stamps(origin, merged["at"][order]),
        "channel": merged["channel"][order],
        "touchpoint": merged["touchpoint"][order],
        "comment": comment[order],
    })
    if latent:
        frame["latent_health"] = health[order]
    return frame.astype({c: "str" for c in ("response_id", "account_id", "survey", "channel",
                                             "touchpoint", "comment")})


def _accounts_table(acc, life, origin, end_s) -> pd.DataFrame:
    churn_s, signup, term = life["churn_s"], acc["signup"], acc["term"]
    # The renewal date of the contract term that was running when the data ends (or when
    # the account left): contracts run 365 (annual) or 30 days (monthly) from signup.
    until = np.minimum(churn_s, end_s)
    terms_done = -(-(until - signup) // term)
    renewal = signup + np.maximum(terms_done, 1) * term
    return pd.DataFrame({
        "account_id": _account_ids(acc["n"]),
        "signup_date": _stamps(origin, signup),
        "churned_at": _stamps(origin, churn_s),
        "segment": SEGMENTS[acc["segment"]],
        "region": REGIONS[acc["region"]],
        "plan": PLANS[acc["plan"]],
        # Round robin, not drawn: the other columns keep the values of earlier seeds.
        "owner": DEMO_OWNERS[np.arange(acc["n"]) % len(DEMO_OWNERS)],
        "mrr": acc["mrr"],
        "acquisition_cost": acc["acquisition_cost"],
        "renewal_date": _stamps(origin, renewal),
    }).astype({c: "str" for c in ("account_id", "segment", "region", "plan", "owner")})


def generate_business_data(business: str = "subscription", **kwargs) -> dict[str, pd.DataFrame]:
    """The demo tables of one shape of business (:data:`BUSINESSES`)."""
    if business not in BUSINESSES:
        raise ValueError(f"business must be one of {', '.join(BUSINESSES)}, got {business!r}")
    if business == "transactional":
        from features.demo_shop import generate_shop_data  # it builds on this module's helpers

        return generate_shop_data(**kwargs)
    return generate_demo_data(**kwargs)


def write_demo_data(out: str | os.PathLike, *, fmt: str = "csv", business: str = "subscription",
                    **kwargs) -> dict[str, Path]:
    """Generate demo data and write one file per table into ``out``.

    Parameters
    ----------
    out : path
        Folder to write into (created when missing). Existing table files are replaced,
        each atomically.
    fmt : {"csv", "parquet"}
        File format.
    business : {"subscription", "transactional"}
        A subscription service or an online shop (:func:`generate_business_data`).
    **kwargs
        Passed to :func:`generate_demo_data` (``accounts``, ``months``, ``seed``, ``start``).

    Returns
    -------
    dict of str to Path
        The file written for each table.

    Raises
    ------
    ValueError
        When ``fmt`` is not csv or parquet, or a generator argument is invalid.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     paths = write_demo_data(folder, accounts=20, months=2)
    ...     sorted(path.name for path in paths.values())
    ['accounts.csv', 'orders.csv', 'returns.csv', 'sessions.csv', 'surveys.csv', 'tickets.csv']
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    tables = generate_business_data(business, **kwargs)
    paths = write_tables(tables, out, fmt)
    return dict(zip(tables, paths))
