"""Predictive customer lifetime value: P(alive), expected orders and spend, as of a date.

Two published models, fitted by maximum likelihood on the orders placed before ``as_of``:

* **BG/NBD** (Fader, Hardie and Lee 2005, "Counting your customers the easy way",
  Marketing Science 24(2)) for how many orders a customer places: while alive, a customer
  orders as a Poisson process whose rate varies across customers as a Gamma(r, alpha);
  after each order they drop out for good with a probability that varies as a Beta(a, b).
* **Gamma-Gamma** (Fader, Hardie and Lee 2005, "RFM and CLV") for how much they spend per
  order: order values vary around each customer's own mean, which varies across customers;
  spend is assumed independent of how often a customer orders.

Each customer is summarised as in the papers: ``frequency`` is the number of *repeat*
purchase days (distinct UTC days with an order, after the first), ``recency`` the time from
the first to the last purchase day, ``T`` the time from the first purchase day to ``as_of``,
and ``monetary_value`` the mean spend of the repeat purchase days. Time is counted in weeks
(:data:`TIME_UNIT_DAYS`), the papers' unit, so the fitted parameters read like theirs.

The likelihoods are written here with scipy (log space, ``gammaln``/``betaln``/``hyp2f1``,
L-BFGS-B over the log of the parameters) rather than taken from pymc-marketing: the reasons
and the figures measured are in ``docs/metrics.md`` ("Predictive CLV").

Point in time
    Only orders strictly before ``as_of`` are read, for the fit and for each customer's
    summary: appending orders at or after ``as_of`` changes nothing.

Undefined values
    An account without an order before ``as_of`` has no purchase history: its three columns
    are NaN. When the models cannot be fitted (no orders table, too few customers, too few
    customers who ordered again) every account's columns are NaN and :func:`fit_clv` raises
    :class:`ClvFitError` saying what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, digamma, gammaln, hyp2f1
from threadpoolctl import threadpool_limits

from features import per_account as agg
from features.catalogue import CLV_HORIZON_DAYS

#: The models' unit of time, in days: weeks, as in the papers.
TIME_UNIT_DAYS = 7
#: Fewest customers with an order before as_of for a fit of the four BG/NBD parameters.
MIN_CUSTOMERS = 30
#: Fewest customers who ordered again on a later day: the only ones that tell the models
#: how often people come back and how their spend varies (Gamma-Gamma reads only them).
MIN_REPEATERS = 10
#: The columns :func:`clv_columns` gives the indicator table (declared in the catalogue).
COLUMNS = ("p_alive", f"expected_orders_{CLV_HORIZON_DAYS}d", f"predicted_clv_{CLV_HORIZON_DAYS}d")
NO_ORDER = "no order before as_of"
# Log-parameters are kept in a range where every term stays finite (e^-12 .. e^12).
_LOG_BOUNDS = (-12.0, 12.0)


class ClvFitError(ValueError):
    """The CLV models cannot be fitted on these orders; the message says what is missing."""


# --- the purchase history of each customer --------------------------------------------


def purchase_history(orders: pd.DataFrame | None, as_of: pd.Timestamp) -> pd.DataFrame:
    """Each customer's frequency, recency, T and mean repeat spend from orders before ``as_of``.

    Times are whole days in weeks: ``T`` runs from the first purchase day to the last day
    observed (the day before a midnight ``as_of``).

    Parameters
    ----------
    orders : DataFrame
        The validated orders table (``account_id``, ``ordered_at`` naive UTC, ``amount``).
    as_of : Timestamp
        Naive UTC; orders at or after it are not read.

    Returns
    -------
    DataFrame
        Indexed by ``account_id`` (sorted, customers with an order before ``as_of`` only):
        ``frequency`` (repeat purchase days), ``recency`` and ``T`` in weeks,
        ``monetary_value`` (mean amount of the repeat purchase days, NaN without one).

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "account_id": ["a", "a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2025-01-01 09:00", "2025-01-01 18:00",
    ...                                   "2025-01-15 00:00", "2025-01-08 00:00"]),
    ...     "amount": [10.0, 5.0, 30.0, 20.0],
    ... })
    >>> history = purchase_history(orders, pd.Timestamp("2025-01-30"))
    >>> list(history.columns)
    ['frequency', 'recency', 'T', 'monetary_value']
    >>> history.loc["a"].tolist(), history.loc["b"].tolist()
    ([1.0, 2.0, 4.0, 30.0], [0.0, 0.0, 3.0, nan])
    """
    columns = ["frequency", "recency", "T", "monetary_value"]
    if orders is None:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="account_id"), dtype=float)
    ordered = agg.as_ns(orders["ordered_at"])
    before = (ordered != agg.NAT) & (ordered < as_of.value)
    codes, ids = pd.factorize(orders["account_id"].to_numpy()[before], sort=True)
    day = ordered[before] // agg.NS_PER_DAY
    amount = np.nan_to_num(agg.as_float(orders["amount"])[before], nan=0.0)
    # One row per (customer, day), amounts added in value order so that the sums do not
    # depend on the order of the rows, bit for bit.
    order = np.lexsort((amount, day, codes))
    codes, day, amount = codes[order], day[order], amount[order]
    new_day = np.ones(len(day), dtype=bool)
    new_day[1:] = (codes[1:] != codes[:-1]) | (day[1:] != day[:-1])
    starts = np.flatnonzero(new_day)
    day_code, day_value = codes[starts], day[starts]
    day_amount = np.add.reduceat(amount, starts) if len(starts) else amount[:0]
    n = len(ids)
    first_day = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first_day, day_code, day_value)
    last_day = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last_day, day_code, day_value)
    days = np.bincount(day_code, minlength=n)
    repeat = day_value != first_day[day_code]
    repeat_spend = np.bincount(day_code[repeat], weights=day_amount[repeat], minlength=n)
    frequency = (days - 1).astype(float)
    # Time runs on the grid of days: the last day observed is the one before as_of (its
    # last nanosecond), so a purchase on that day has recency == T, as in the papers, whose
    # published fits count T to the calibration period's last day.
    as_of_day = (as_of.value - 1) // agg.NS_PER_DAY
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_spend / frequency, np.nan)
    return pd.DataFrame(
        {
            "frequency": frequency,
            "recency": (last_day - first_day) / TIME_UNIT_DAYS,
            "T": (as_of_day - first_day) / TIME_UNIT_DAYS,
            "monetary_value": monetary,
        },
        index=pd.Index(ids, name="account_id"),
    )


# --- BG/NBD ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BetaGeo:
    """A fitted BG/NBD model (time in weeks): Gamma(r, alpha) rates, Beta(a, b) drop-out."""

    r: float
    alpha: float
    a: float
    b: float

    def log_likelihood(self, x, t_x, T) -> np.ndarray:
        """Log-likelihood of each customer's (frequency, recency, T); eq. (6) of the paper."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
        still = betaln(a, b + x) - (r + x) * np.log(alpha + T)
        repeat = x > 0
        # The drop-out term exists only after a repeat purchase (b + x - 1 > 0 then).
        dropped = np.where(
            repeat,
            betaln(a + 1, np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
        return common + np.logaddexp(still, dropped)

    def _odds_dead(self, x, t_x, T) -> np.ndarray:
        """a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0 without repeats."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        repeat = x > 0
        log_odds = (np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0))
                    + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return np.where(repeat, np.exp(np.minimum(log_odds, 700.0)), 0.0)

    def p_alive(self, x, t_x, T) -> np.ndarray:
        """Probability that each customer is still alive at T; eq. (12) of the paper."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        return 1.0 / (1.0 + self._odds_dead(x, t_x, T))

    def expected_orders(self, t: float, x, t_x, T) -> np.ndarray:
        """Expected purchases in the next ``t`` weeks after T; eq. (10) of the paper."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        z = t / (alpha + T + t)
        ratio = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        body = (a + b + x - 1) / (a - 1) * (1.0 - ratio * hyp2f1(r + x, b + x, a + b + x - 1, z))
        return body / (1.0 + self._odds_dead(x, t_x, T))

    def repeat_count_probability(self, k: int, t) -> np.ndarray:
        """P(X(t) = k): the chance of exactly k repeat purchases in ``t`` weeks; eq. (8)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        t = np.asarray(t, dtype=float)
        log_rate = r * np.log(alpha / (alpha + t))

        def log_nbd(j: int) -> np.ndarray:  # log of Γ(r+j)/(Γ(r) j!) (α/(α+t))^r (t/(α+t))^j
            share = j * np.log(t / (alpha + t)) if j else 0.0
            return gammaln(r + j) - gammaln(r) - gammaln(j + 1) + log_rate + share

        alive = np.exp(betaln(a, b + k) - betaln(a, b) + log_nbd(k))
        if k == 0:
            return alive
        below = sum(np.exp(log_nbd(j)) for j in range(k))
        return alive + np.exp(betaln(a + 1, b + k - 1) - betaln(a, b)) * (1.0 - below)


@dataclass(frozen=True)
class GammaGamma:
    """A fitted Gamma-Gamma spend model: shape p per order, Gamma(q, v) across customers."""

    p: float
    q: float
    v: float

    def log_likelihood(self, x, m) -> np.ndarray:
        """Log-likelihood of each repeat customer's mean spend ``m`` over ``x`` purchases."""
        p, q, v = self.p, self.q, self.v
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        px = p * x
        return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
                + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(x * m + v))

    def expected_spend(self, x, m) -> np.ndarray:
        """Expected spend per future order given x repeat purchases of mean spend m.

        ``p (v + x m) / (p x + q - 1)``: the population mean ``p v / (q - 1)`` pulled
        towards the customer's own mean the more they bought. NaN where ``p x + q <= 1``:
        the spend distribution is then too heavy-tailed for a mean to exist (with q <= 1,
        for every customer without a repeat purchase).

        Examples
        --------
        >>> GammaGamma(p=6.25, q=3.74, v=15.44).expected_spend([0, 2], [np.nan, 30.0]).round(2)
        array([35.22, 30.94])
        >>> GammaGamma(p=2.0, q=0.5, v=10.0).expected_spend([0, 1], [np.nan, 40.0]).round(2).tolist()
        [nan, 66.67]
        """
        p, q, v = self.p, self.q, self.v
        x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
        own = np.where(x > 0, np.nan_to_num(m, nan=0.0), 0.0)
        shrink = p * x + q - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(shrink > 0, p * (v + x * own) / shrink, np.nan)


# --- fitting ----------------------------------------------------------------------------


def _minimise(objective: Callable[[np.ndarray], tuple[float, np.ndarray]], start: np.ndarray):
    """L-BFGS-B over log-parameters, with the analytic gradient.

    A non-finite likelihood is a very bad one, not a crash. One BLAS thread: L-BFGS-B's few
    small matrix products gain nothing from threads, and idle threads spinning on a busy
    machine made a fit several times slower.
    """

    def guarded(log_params: np.ndarray) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            value, gradient = objective(log_params)
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return 1e100, np.zeros_like(log_params)
        return float(value), gradient

    with threadpool_limits(limits=1, user_api="blas"):
        return minimize(guarded, start, jac=True, method="L-BFGS-B",
                        bounds=[_LOG_BOUNDS] * len(start),
                        options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 2000})


class _Distinct:
    """A column as its distinct values and each row's position among them.

    Every term of the likelihoods is a function of one column (frequency, recency or T)
    evaluated element by element: computed on the few distinct values (whole days in weeks,
    whole repeat counts) and gathered back, each row gets the very same bits as computing it
    row by row, at a fraction of the special-function calls.
    """

    def __init__(self, values):
        self.values, self.rows = np.unique(np.asarray(values, dtype=float), return_inverse=True)

    def of(self, term: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """``term`` of every row, evaluated once per distinct value."""
        return np.asarray(term(self.values), dtype=float)[self.rows]


def _distinct(values) -> _Distinct:
    return values if isinstance(values, _Distinct) else _Distinct(values)


def _beta_geo_objective(log_params, x, t_x, T, weights):
    """Mean negative BG/NBD log-likelihood and its gradient in the log-parameters.

    The terms are those of :meth:`BetaGeo.log_likelihood`, each evaluated on the distinct
    values of its column (:class:`_Distinct`; ``x``, ``t_x`` and ``T`` may be given so,
    once for a whole fit), so the figures are the same bit for bit.
    """
    r, alpha, a, b = params = np.exp(log_params)
    x, t_x, T = _distinct(x), _distinct(t_x), _distinct(T)
    repeat = x.of(lambda v: v) > 0
    r_x = x.of(lambda v: r + v)
    log_alpha_T, log_alpha_t = T.of(lambda v: np.log(alpha + v)), t_x.of(lambda v: np.log(alpha + v))
    common = x.of(lambda v: gammaln(r + v) - gammaln(r) + r * np.log(alpha) - betaln(a, b))
    still = x.of(lambda v: betaln(a, b + v)) - r_x * log_alpha_T
    dropped = np.where(
        repeat,
        x.of(lambda v: betaln(a + 1, np.where(v > 0, b + v - 1, 1.0))) - r_x * log_alpha_t,
        -np.inf,
    )
    ll = common + np.logaddexp(still, dropped)
    w_still = np.exp(common + still - ll)  # share of the "still alive" term in the likelihood
    w_gone = np.where(repeat, 1.0 - w_still, 0.0)
    ab = digamma(a + b)
    d_r = (x.of(lambda v: digamma(r + v) - digamma(r) + np.log(alpha))
           - w_still * log_alpha_T - w_gone * log_alpha_t)
    d_alpha = r / alpha - r_x * (w_still / T.of(lambda v: alpha + v)
                                 + w_gone / t_x.of(lambda v: alpha + v))
    d_a = (-(digamma(a) - ab) + w_still * x.of(lambda v: digamma(a) - digamma(a + b + v))
           + w_gone * x.of(lambda v: digamma(a + 1) - digamma(a + b + v)))
    d_b = (-(digamma(b) - ab) + w_still * x.of(lambda v: digamma(b + v) - digamma(a + b + v))
           + w_gone * x.of(lambda v: digamma(np.where(v > 0, b + v - 1, 1.0)) - digamma(a + b + v)))
    total = weights.sum()
    gradient = np.array([np.dot(weights, d) for d in (d_r, d_alpha, d_a, d_b)]) * params
    return -float(np.dot(weights, ll)) / total, -gradient / total


def _gamma_gamma_objective(log_params, x, m):
    """Mean negative Gamma-Gamma log-likelihood and its gradient in the log-parameters.

    The terms of :meth:`GammaGamma.log_likelihood`, those of the frequency alone evaluated
    on its distinct values (``x`` may be a :class:`_Distinct`): the same bits.
    """
    p, q, v = params = np.exp(log_params)
    x = _distinct(x)
    m = np.asarray(m, dtype=float)
    rows = x.of(lambda k: k)
    px = x.of(lambda k: p * k)
    log_m, log_spend = np.log(m), np.log(rows * m + v)
    ll = (x.of(lambda k: gammaln(p * k + q) - gammaln(p * k) - gammaln(q) + q * np.log(v))
          + (px - 1) * log_m + x.of(lambda k: p * k * np.log(k)) - (px + q) * log_spend)
    shared = x.of(lambda k: digamma(p * k + q)) - log_spend
    d_p = rows * (shared - x.of(lambda k: digamma(p * k)) + log_m + x.of(np.log))
    d_q = shared - digamma(q) + np.log(v)
    d_v = q / v - (px + q) / (rows * m + v)
    gradient = np.array([d.sum() for d in (d_p, d_q, d_v)]) * params
    return -float(ll.sum()) / len(rows), -gradient / len(rows)


def fit_beta_geo(x, t_x, T) -> tuple[BetaGeo, dict]:
    """Maximum-likelihood BG/NBD parameters for frequencies, recencies and ages (weeks).

    Customers with the same (x, t_x, T) are counted once with a weight: many share one
    (every one-off buyer of the same first day), and the fit then costs less.
    """
    data = np.column_stack([np.asarray(v, dtype=float) for v in (x, t_x, T)])
    unique, weights = np.unique(data, axis=0, return_counts=True)
    ux, ut, uT = unique.T
    weights = weights.astype(float)
    # Start from a typical rate: one order per mean age, so alpha ≈ the mean age in weeks.
    start = np.log([1.0, max(float(np.mean(uT)), 1e-3), 1.0, 1.0])
    columns = _Distinct(ux), _Distinct(ut), _Distinct(uT)  # found once for the whole fit
    result = _minimise(lambda lp: _beta_geo_objective(lp, *columns, weights), start)
    return BetaGeo(*np.exp(result.x)), _diagnostics(result, -result.fun * weights.sum(), "r alpha a b")


def fit_gamma_gamma(x, m) -> tuple[GammaGamma, dict]:
    """Maximum-likelihood Gamma-Gamma parameters from repeat customers' frequency and mean spend."""
    x, m = np.asarray(x, dtype=float), np.asarray(m, dtype=float)
    start = np.log([1.0, 2.0, max(float(np.mean(m)), 1e-3)])
    frequency = _Distinct(x)  # found once for the whole fit
    result = _minimise(lambda lp: _gamma_gamma_objective(lp, frequency, m), start)
    return GammaGamma(*np.exp(result.x)), _diagnostics(result, -result.fun * len(x), "p q v")


#: The mean log-likelihood's largest gradient at which a stopped optimiser is at the optimum.
_FLAT = 1e-5
#: Parameters beyond this factor of 1 (either way) are at a limit case of the model.
_LIMIT = 1e4


def _diagnostics(result, log_likelihood: float, names: str) -> dict:
    """How the fit ended, in figures a person can check.

    L-BFGS-B may stop "abnormally" in its line search on a flat ridge (two parameters going
    to infinity together) although the gradient is nil there: that is an optimum, and is
    reported as converged with the optimiser's own message kept beside it.
    """
    gradient = np.abs(np.asarray(getattr(result, "jac", np.full(len(result.x), np.inf))))
    limit = [name for name, value in zip(names.split(), result.x, strict=True)
             if abs(value) > np.log(_LIMIT)]
    return {"log_likelihood": float(log_likelihood),
            "converged": bool(result.success or np.max(gradient) < _FLAT),
            "iterations": int(result.nit), "optimiser_message": str(result.message),
            "limit_parameters": limit}


# --- the fitted pair, as of a date ----------------------------------------------------------


@dataclass(frozen=True)
class ClvFit:
    """BG/NBD and Gamma-Gamma fitted on the orders before ``as_of``, and what they saw.

    Attributes
    ----------
    as_of : Timestamp
        Only orders before it were read.
    beta_geo : BetaGeo
    gamma_gamma : GammaGamma
    history : DataFrame
        :func:`purchase_history` of every customer with an order before ``as_of``.
    diagnostics : dict
        Customers, repeat customers, and per model its log-likelihood, convergence,
        iterations and the parameters that went to a limit case.
    """

    as_of: pd.Timestamp
    beta_geo: BetaGeo
    gamma_gamma: GammaGamma
    history: pd.DataFrame
    diagnostics: dict = field(default_factory=dict)

    def predict(self, horizon_days: int = CLV_HORIZON_DAYS,
                history: pd.DataFrame | None = None) -> pd.DataFrame:
        """P(alive), expected orders and predicted CLV over ``horizon_days`` after ``as_of``.

        The CLV is expected orders times expected spend per order, undiscounted, in the
        currency of the orders' amounts. Indexed like ``history`` (default: the fit's own).
        """
        history = self.history if history is None else history
        x, t_x, T = (history[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        with np.errstate(all="ignore"):
            orders = self.beta_geo.expected_orders(horizon_days / TIME_UNIT_DAYS, x, t_x, T)
            spend = self.gamma_gamma.expected_spend(x, history["monetary_value"].to_numpy(dtype=float))
            return pd.DataFrame(
                {"p_alive": self.beta_geo.p_alive(x, t_x, T), "expected_orders": orders,
                 "predicted_clv": orders * spend},
                index=history.index,
            )

    def parameters(self) -> dict:
        """The fitted parameters by model, as plain floats (alpha in weeks)."""
        return {
            "bg_nbd": {k: float(getattr(self.beta_geo, k)) for k in ("r", "alpha", "a", "b")},
            "gamma_gamma": {k: float(getattr(self.gamma_gamma, k)) for k in ("p", "q", "v")},
        }

    def calibration(self, max_repeats: int = 7) -> pd.DataFrame:
        """Customers by repeat purchases up to ``as_of``: actual and expected by the model.

        The standard BG/NBD check: for each count 0, 1, ... and the last bucket
        ``max_repeats``\\+, how many customers made that many repeat purchases and how many
        the fitted model expects given each customer's own time since the first purchase.
        """
        x = self.history["frequency"].to_numpy(dtype=float)
        T = self.history["T"].to_numpy(dtype=float)
        with np.errstate(all="ignore"):
            expected = [float(self.beta_geo.repeat_count_probability(k, T).sum())
                        for k in range(max_repeats)]
        expected.append(float(len(T) - sum(expected)))
        actual = [int((x == k).sum()) for k in range(max_repeats)] + [int((x >= max_repeats).sum())]
        labels = [str(k) for k in range(max_repeats)] + [f"{max_repeats}+"]
        return pd.DataFrame({"repeat_purchases": labels, "actual": actual, "expected": expected})


def fit_clv(orders: pd.DataFrame | None, as_of: pd.Timestamp, *,
            progress: Callable[[str], None] | None = None) -> ClvFit:
    """Fit BG/NBD and Gamma-Gamma on the orders placed before ``as_of``.

    Parameters
    ----------
    orders : DataFrame or None
        The validated orders table; None when the data has none.
    as_of : Timestamp
        Naive UTC; orders at or after it are not read.
    progress : callable, optional
        Called with the name of each step as it starts.

    Raises
    ------
    ClvFitError
        Without an orders table, with fewer than :data:`MIN_CUSTOMERS` customers with an
        order before ``as_of``, or fewer than :data:`MIN_REPEATERS` of them who ordered
        again on a later day; the message names what is missing and what to do.
    """
    report = progress or (lambda step: None)
    if orders is None:
        raise ClvFitError(
            "predictive CLV needs an orders table (account_id, ordered_at, amount); "
            "add orders.csv to the folder or map an orders source in the mapping file")
    report("purchase histories")
    return fit_histories(purchase_history(orders, as_of), as_of, progress=progress)


def fit_histories(history: pd.DataFrame, as_of: pd.Timestamp, *,
                  progress: Callable[[str], None] | None = None) -> ClvFit:
    """:func:`fit_clv` from the customers' :func:`purchase_history` (one customer's history
    needs only their own orders, so a cluster computes them where the orders lie)."""
    report = progress or (lambda step: None)
    when = f"{as_of:%Y-%m-%d}"
    repeaters = history[(history["frequency"] > 0) & (history["monetary_value"] > 0)]
    if len(history) < MIN_CUSTOMERS:
        raise ClvFitError(
            f"predictive CLV needs orders of at least {MIN_CUSTOMERS} customers before "
            f"{when}; the orders table has {len(history)}; pick a later --as-of or add "
            "the order history")
    if len(repeaters) < MIN_REPEATERS:
        raise ClvFitError(
            f"predictive CLV needs at least {MIN_REPEATERS} customers who ordered again on "
            f"a later day (with a positive amount) before {when}; of {len(history)} "
            f"customers in orders, {len(repeaters)} did: the models learn how often people "
            "come back only from repeat purchases; pick a later --as-of or add the order "
            "history of more customers")
    report("fitting BG/NBD")
    beta_geo, bg_diag = fit_beta_geo(history["frequency"], history["recency"], history["T"])
    report("fitting Gamma-Gamma")
    gamma_gamma, gg_diag = fit_gamma_gamma(repeaters["frequency"], repeaters["monetary_value"])
    diagnostics = {"customers": len(history), "repeat_customers": len(repeaters),
                   "time_unit_days": TIME_UNIT_DAYS, "bg_nbd": bg_diag, "gamma_gamma": gg_diag,
                   "notes": _notes(beta_geo, gamma_gamma, bg_diag, gg_diag)}
    return ClvFit(as_of, beta_geo, gamma_gamma, history, diagnostics)


def _notes(beta_geo: BetaGeo, gamma_gamma: GammaGamma, *diagnostics: dict) -> list[str]:
    """What a person reading the fit should know: undefined values, a doubtful optimum."""
    notes = []
    if gamma_gamma.q <= 1:
        notes.append(
            f"Gamma-Gamma q = {gamma_gamma.q:.2f} <= 1: spend per customer is so spread out "
            "that the population's mean spend is undefined, so predicted_clv is NaN for "
            "customers without a repeat purchase (their only guide would be that mean)")
    for name, found in zip(("BG/NBD", "Gamma-Gamma"), diagnostics, strict=True):
        if not found["converged"]:
            notes.append(f"{name}: the optimiser stopped before converging "
                         f"({found['optimiser_message']})")
        if found["limit_parameters"]:
            notes.append(f"{name}: {', '.join(found['limit_parameters'])} went to a limit "
                         f"(beyond {_LIMIT:g} or below {1 / _LIMIT:g}): the data do not pin "
                         "them down; the predictions hold, the values themselves mean little")
    return notes


def clv_columns(orders: pd.DataFrame | None, ids: pd.Index, as_of: pd.Timestamp,
                fit: ClvFit | ClvFitError | None = None) -> dict:
    """The indicator columns :data:`COLUMNS` of the accounts ``ids``, as of ``as_of``.

    NaN for an account with no order before ``as_of`` (:data:`NO_ORDER`), and for every
    account when the models cannot be fitted (:func:`fit_clv` says why). ``predicted_clv``
    is also NaN for customers without a repeat purchase when the fitted spend model has no
    population mean (``q <= 1``; the fit's ``diagnostics["notes"]`` say so).

    ``fit`` is the whole portfolio's fit (or why there is none) when ``orders`` hold only
    some of its customers (a Spark bucket); fitted here from ``orders`` when omitted.
    """
    out = {name: np.full(len(ids), np.nan) for name in COLUMNS}
    if fit is None:
        try:
            fit = fit_clv(orders, as_of)
        except ClvFitError:
            return out
        history = fit.history
    elif isinstance(fit, ClvFitError) or orders is None:
        return out
    else:
        history = purchase_history(orders, as_of)
    predicted = fit.predict(CLV_HORIZON_DAYS, history=history).reindex(ids)
    for name, column in zip(COLUMNS, ("p_alive", "expected_orders", "predicted_clv"), strict=True):
        out[name] = predicted[column].to_numpy(dtype=float)
    return out
