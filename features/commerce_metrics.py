"""Commerce metrics over a period ``[start, end)``: repeat purchases, returns and customer
lifetime value (CLV) in its three variants.

Definitions and conventions (a :class:`~features.survey_metrics.MetricResult`, undefined
rather than 0, rates in percent) are those of :mod:`features.portfolio_metrics`, whose
customer base and churn the CLV builds on.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.portfolio_metrics import (
    DAYS_PER_MONTH,
    DAYS_PER_YEAR,
    DEFAULT_MAX_LIFETIME_YEARS,
    ONE_DAY,
    check_number,
    customer_base,
    within,
)
from features.survey_metrics import (
    MetricResult,
    check_frame,
    check_period,
    defined,
    undefined,
)

# --- orders and returns --------------------------------------------------------------


def _orders_in(orders: pd.DataFrame, start: Any, end: Any) -> pd.DataFrame:
    check_frame(orders, table="orders", columns=["order_id", "account_id", "amount", "items"],
                timestamps=["ordered_at"])
    start, end = check_period(start, end)
    return orders.loc[within(orders["ordered_at"], start, end)]


def repeat_purchase_rate(orders: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Customers with 2+ orders in the period / customers with 1+ order in it.

    Returns
    -------
    MetricResult
        Percent; components ``repeat_buyers``, ``buyers``, ``orders``. Undefined without buyers.

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "order_id": ["o1", "o2", "o3", "o4"], "account_id": ["a", "a", "b", "c"],
    ...     "ordered_at": pd.to_datetime(["2025-01-02", "2025-01-20", "2025-01-05", "2025-03-01"]),
    ...     "amount": [10.0, 20.0, 5.0, 8.0], "items": [1, 2, 1, 1],
    ... })
    >>> result = repeat_purchase_rate(orders, "2025-01-01", "2025-02-01")
    >>> result.value, result["repeat_buyers"], result["buyers"]
    (50.0, 1, 2)
    """
    return repeat_purchase_rate_of(order_totals(orders, start, end))


def order_totals(orders: pd.DataFrame, start: Any, end: Any) -> dict[str, Any]:
    """What the order metrics count of the period's orders: ``orders``, ``buyers``,
    ``repeat_buyers`` (2+ orders), ``revenue`` and ``units``.

    A buyer is an account, so the totals of disjoint sets of accounts add up to the
    totals of their union (the Spark engine adds them up over account buckets).
    """
    in_period = _orders_in(orders, start, end)
    per_buyer = in_period["account_id"].value_counts()
    return dict(orders=len(in_period), buyers=len(per_buyer),
                repeat_buyers=int((per_buyer >= 2).sum()),
                revenue=float(in_period["amount"].sum()), units=float(in_period["items"].sum()))


def repeat_purchase_rate_of(totals: dict[str, Any]) -> MetricResult:
    """:func:`repeat_purchase_rate` of the period's :func:`order_totals`."""
    components = dict(repeat_buyers=totals["repeat_buyers"], buyers=totals["buyers"],
                      orders=totals["orders"])
    if not totals["buyers"]:
        return undefined("no orders in the period", "percent", **components)
    return defined(100 * totals["repeat_buyers"] / totals["buyers"], "percent", **components)


def average_order_value(orders: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Revenue of the period's orders / their number (currency).

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "order_id": ["o1", "o2", "o3"], "account_id": ["a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2025-01-02", "2025-01-20", "2025-03-05"]),
    ...     "amount": [10.0, 20.0, 5.0], "items": [1, 2, 1]})
    >>> result = average_order_value(orders, "2025-01-01", "2025-02-01")
    >>> result.value, result["orders"], result["revenue"]
    (15.0, 2, 30.0)
    >>> average_order_value(orders, "2025-02-01", "2025-03-01").reason
    'no orders in the period'
    """
    return average_order_value_of(order_totals(orders, start, end))


def average_order_value_of(totals: dict[str, Any]) -> MetricResult:
    """:func:`average_order_value` of the period's :func:`order_totals`."""
    components = dict(orders=totals["orders"], revenue=totals["revenue"], buyers=totals["buyers"])
    if not totals["orders"]:
        return undefined("no orders in the period", "currency", **components)
    return defined(totals["revenue"] / totals["orders"], "currency", **components)


def purchase_frequency(orders: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Orders per buyer in the period (``orders``), with the rate per year as a component.

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "order_id": ["o1", "o2", "o3"], "account_id": ["a", "a", "b"],
    ...     "ordered_at": pd.to_datetime(["2025-01-02", "2025-01-20", "2025-01-05"]),
    ...     "amount": [10.0, 20.0, 5.0], "items": [1, 2, 1]})
    >>> result = purchase_frequency(orders, "2025-01-01", "2025-02-01")
    >>> result.value, result["buyers"], round(result["per_year"], 1)
    (1.5, 2, 17.7)
    """
    return purchase_frequency_of(order_totals(orders, start, end), start, end)


def purchase_frequency_of(totals: dict[str, Any], start: Any, end: Any) -> MetricResult:
    """:func:`purchase_frequency` of the period's :func:`order_totals`."""
    start, end = check_period(start, end)
    buyers = totals["buyers"]
    components = dict(orders=totals["orders"], buyers=buyers)
    if not buyers:
        return undefined("no orders in the period", "orders", per_year=None, **components)
    per_buyer = totals["orders"] / buyers
    per_year = per_buyer * DAYS_PER_YEAR / ((end - start) / pd.Timedelta(days=1))
    return defined(per_buyer, "orders", per_year=per_year, **components)


def return_rate(orders: pd.DataFrame, returns: pd.DataFrame, start: Any, end: Any) -> MetricResult:
    """Units returned / units sold, for the orders placed in the period; also by value.

    Returns are matched to the period of their order, not of the return: a January
    order returned in February counts in January. All returns recorded so far count.

    Returns
    -------
    MetricResult
        Percent by units; components ``units_returned``, ``units_sold``, ``orders``,
        ``returns``, ``amount_returned``, ``amount_sold`` and ``by_value`` (the same rate
        by amount, itself undefined when nothing was sold or a matched return has no
        amount). Undefined when no units were sold.

    Examples
    --------
    >>> orders = pd.DataFrame({
    ...     "order_id": ["o1", "o2", "o3"], "account_id": ["a", "b", "c"],
    ...     "ordered_at": pd.to_datetime(["2025-01-05", "2025-01-25", "2024-12-30"]),
    ...     "amount": [100.0, 300.0, 50.0], "items": [2, 6, 1],
    ... })
    >>> returns = pd.DataFrame({
    ...     "order_id": ["o2", "o3"], "items": [2, 1], "amount": [100.0, 50.0],
    ...     "returned_at": pd.to_datetime(["2025-02-03", "2025-01-04"]),
    ... })
    >>> result = return_rate(orders, returns, "2025-01-01", "2025-02-01")
    >>> result.value, result["by_value"].value
    (25.0, 25.0)
    """
    return return_rate_of(order_totals(orders, start, end),
                          return_totals(orders, returns, start, end))


def return_totals(orders: pd.DataFrame, returns: pd.DataFrame, start: Any, end: Any) -> dict[str, Any]:
    """What :func:`return_rate` counts of the returns of the period's orders: ``returns``,
    ``units``, ``amount`` (of the returns with one) and ``no_amount`` (returns without).

    A return belongs to its order's account, so the totals of disjoint sets of accounts
    add up to the totals of their union.
    """
    in_period = _orders_in(orders, start, end)
    check_frame(returns, table="returns", columns=["order_id", "items", "amount"],
                timestamps=["returned_at"])
    matched = returns.loc[returns["order_id"].isin(in_period["order_id"])]
    return dict(returns=len(matched), units=float(matched["items"].sum()),
                amount=float(matched["amount"].sum()), no_amount=int(matched["amount"].isna().sum()))


def return_rate_of(totals: dict[str, Any], returned: dict[str, Any]) -> MetricResult:
    """:func:`return_rate` of the period's :func:`order_totals` and :func:`return_totals`."""
    units_sold, units_returned = totals["units"], returned["units"]
    amount_sold, no_amount = totals["revenue"], returned["no_amount"]
    amount_returned = returned["amount"] if not no_amount else None
    if not amount_sold:
        by_value = undefined("no sales value in the period", "percent")
    elif no_amount:
        by_value = undefined(
            f"{no_amount} matched return(s) have no amount; fill returns.amount to get the "
            "rate by value", "percent",
        )
    else:
        by_value = defined(100 * amount_returned / amount_sold, "percent")
    components = dict(
        units_returned=units_returned, units_sold=units_sold, orders=totals["orders"],
        returns=returned["returns"], amount_returned=amount_returned, amount_sold=amount_sold,
        by_value=by_value,
    )
    if not units_sold:
        return undefined("no units sold in the period", "percent", **components)
    return defined(100 * units_returned / units_sold, "percent", **components)


# --- customer lifetime value ---------------------------------------------------------


def expected_lifetime_years(
    churn_fraction: float, period_days: float, *, max_years: float = DEFAULT_MAX_LIFETIME_YEARS
) -> tuple[float, bool]:
    """Expected customer lifetime from the churn of one period: ``period length / churn``.

    A churn of 0 (or a lifetime longer than ``max_years``) gives ``max_years``, flagged.

    Returns
    -------
    (float, bool)
        Lifetime in years and whether it was capped.

    Examples
    --------
    A 4% monthly churn: 25 months.

    >>> years, capped = expected_lifetime_years(0.04, DAYS_PER_MONTH)
    >>> round(years * 12, 6), capped
    (25.0, False)
    >>> expected_lifetime_years(0.0, 30)
    (10.0, True)
    """
    churn_fraction = check_number(churn_fraction, name="churn_fraction", low=0, high=1)
    period_days = check_number(period_days, name="period_days", low=0, low_open=True)
    max_years = check_number(max_years, name="max_lifetime_years", low=0, low_open=True)
    if churn_fraction == 0:
        return max_years, True
    years = period_days / DAYS_PER_YEAR / churn_fraction
    return (max_years, True) if years > max_years else (years, False)


def clv_revenue_lifetime(
    annual_revenue: float, lifetime_years: float, *, acquisition_cost: float = 0.0
) -> float:
    """CLV as revenue over a lifetime: annual revenue per customer x lifetime in years - acquisition cost.

    Examples
    --------
    >>> clv_revenue_lifetime(500.0, 3.0, acquisition_cost=500.0)
    1000.0
    """
    annual_revenue = check_number(annual_revenue, name="annual_revenue", low=0)
    lifetime_years = check_number(lifetime_years, name="lifetime_years", low=0)
    acquisition_cost = check_number(acquisition_cost, name="acquisition_cost", low=0)
    return annual_revenue * lifetime_years - acquisition_cost


def affordable_acquisition_cost(clv_value: float, *, share: float = 0.5) -> float:
    """What acquiring one customer may cost and still pay, by the rule of half the CLV.

    Examples
    --------
    The worked example of docs/metrics.md: an average CLV of 1,000 means spending up to 500 to
    acquire a customer still pays.

    >>> affordable_acquisition_cost(1000.0)
    500.0
    """
    share = check_number(share, name="share", low=0, high=1)
    return max(float(clv_value), 0.0) * share


def clv_order_value(
    average_order_value: float, purchases_per_year: float, lifetime_years: float, *,
    gross_margin: float | None = None,
) -> float:
    """CLV from orders: average order value x purchases per year x lifetime (x gross margin).

    Examples
    --------
    >>> clv_order_value(50.0, 4.0, 3.0)
    600.0
    >>> clv_order_value(50.0, 4.0, 3.0, gross_margin=0.5)
    300.0
    """
    value = (check_number(average_order_value, name="average_order_value", low=0)
             * check_number(purchases_per_year, name="purchases_per_year", low=0)
             * check_number(lifetime_years, name="lifetime_years", low=0))
    if gross_margin is not None:
        value *= check_number(gross_margin, name="gross_margin", low=0, high=1, low_open=True)
    return value


def clv_subscription(
    monthly_revenue: float, monthly_churn_rate: float, *, gross_margin: float = 1.0,
    max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
) -> tuple[float, bool]:
    """Subscription CLV: monthly revenue x gross margin / monthly churn rate.

    Parameters
    ----------
    monthly_revenue : float
        Revenue per customer per month (MRR per account).
    monthly_churn_rate : float
        In percent (0-100), as :func:`~features.portfolio_metrics.churn_rate` reports it.
    gross_margin : float
        Share 0-1 (1 = revenue, not margin).
    max_lifetime_years : float
        Lifetime cap when churn is 0 or tiny.

    Returns
    -------
    (float, bool)
        The CLV and whether the lifetime was capped.

    Examples
    --------
    >>> clv_subscription(100.0, 2.0, gross_margin=0.8)
    (4000.0, False)
    >>> clv_subscription(100.0, 0.0)
    (12000.0, True)
    """
    monthly_revenue = check_number(monthly_revenue, name="monthly_revenue", low=0)
    churn = check_number(monthly_churn_rate, name="monthly_churn_rate", low=0, high=100) / 100
    margin = check_number(gross_margin, name="gross_margin", low=0, high=1, low_open=True)
    max_months = 12 * check_number(max_lifetime_years, name="max_lifetime_years", low=0, low_open=True)
    if churn == 0 or 1 / churn > max_months:
        return monthly_revenue * margin * max_months, True
    return monthly_revenue * margin / churn, False


def clv(
    accounts: pd.DataFrame, orders: pd.DataFrame | None, start: Any, end: Any, *,
    gross_margin: float | None = None, max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
) -> MetricResult:
    """Average customer lifetime value over the period, in its three named variants.

    The lifetime comes from the period's start-cohort churn
    (:func:`~features.portfolio_metrics.churn_rate`): ``period length / churn``, capped at
    ``max_lifetime_years`` and flagged (``lifetime_capped``) when churn is 0. Customers are
    the accounts active at some time in the period.

    * ``revenue_lifetime`` (the headline ``value``): annual revenue per customer
      x lifetime - mean acquisition cost. Annual revenue is 12 x mean ``mrr`` when
      accounts have it, else order revenue per customer in the period, annualised.
    * ``order_value``: average order value x orders per buyer per year x lifetime
      (x ``gross_margin`` when given).
    * ``subscription``: mean ``mrr`` x ``gross_margin`` (1 when not given) / monthly churn rate.

    Returns
    -------
    MetricResult
        Currency; components ``variants`` (the three, each with its inputs),
        ``lifetime_years``, ``lifetime_capped``, ``max_lifetime_years``, ``customers``,
        ``affordable_acquisition_cost`` (half the CLV).

    Examples
    --------
    >>> accounts = pd.DataFrame({
    ...     "account_id": ["a", "b", "c", "d"],
    ...     "signup_date": pd.Timestamp("2024-01-01"),
    ...     "churned_at": pd.to_datetime([None, None, None, "2025-03-01"]),
    ...     "mrr": [100.0, 100.0, 100.0, 100.0], "acquisition_cost": [200.0] * 4,
    ... })
    >>> result = clv(accounts, None, "2025-01-01", "2026-01-01")
    >>> round(result["lifetime_years"], 4), round(result.value, 2)
    (3.9973, 4596.71)
    >>> round(result["variants"]["subscription"].value, 2)
    4796.71

    Nobody lost: the lifetime is capped at 10 years and flagged.

    >>> result = clv(accounts, None, "2024-06-01", "2024-07-01")
    >>> result["lifetime_capped"], result.value, result["variants"]["subscription"].value
    (True, 11800.0, 12000.0)
    """
    totals = order_totals(orders, start, end) if orders is not None else None
    return clv_of(accounts, totals, start, end, gross_margin=gross_margin,
                  max_lifetime_years=max_lifetime_years)


def clv_of(
    accounts: pd.DataFrame, totals: dict[str, Any] | None, start: Any, end: Any, *,
    gross_margin: float | None = None, max_lifetime_years: float = DEFAULT_MAX_LIFETIME_YEARS,
) -> MetricResult:
    """:func:`clv` of the accounts and the period's :func:`order_totals` (None without an
    orders table)."""
    check_frame(accounts, table="accounts", columns=["account_id", "mrr", "acquisition_cost"],
                timestamps=["signup_date", "churned_at"])
    start, end = check_period(start, end)
    if gross_margin is not None:
        gross_margin = check_number(gross_margin, name="gross_margin", low=0, high=1, low_open=True)
    max_lifetime_years = check_number(max_lifetime_years, name="max_lifetime_years", low=0,
                                      low_open=True)
    base = customer_base(accounts, start, end)
    period_days = (end - start) / ONE_DAY
    customers = accounts.loc[base["active_during"]]
    n_start, n_lost = int(base["active_at_start"].sum()), int(base["lost"].sum())
    mrr = customers["mrr"].dropna()
    cac = customers["acquisition_cost"].dropna()

    common: dict[str, Any] = dict(customers=len(customers), max_lifetime_years=max_lifetime_years)
    if not n_start:
        reason = "no customers were active at the start of the period, so churn and lifetime are undefined"
        variants = {name: undefined(reason, "currency")
                    for name in ("revenue_lifetime", "order_value", "subscription")}
        return undefined(reason, "currency", variants=variants, lifetime_years=None,
                         lifetime_capped=False, affordable_acquisition_cost=None, **common)
    churn_fraction = n_lost / n_start
    lifetime, capped = expected_lifetime_years(churn_fraction, period_days,
                                               max_years=max_lifetime_years)
    per_year = DAYS_PER_YEAR / period_days

    # (a) revenue over a lifetime
    if len(mrr):
        annual_revenue, source = 12 * float(mrr.mean()), "mrr"
    elif totals is not None and len(customers):
        annual_revenue = totals["revenue"] / len(customers) * per_year
        source = "orders"
    else:
        annual_revenue, source = None, None
    inputs_a = dict(annual_revenue_per_customer=annual_revenue, revenue_source=source,
                    acquisition_cost=float(cac.mean()) if len(cac) else None)
    if annual_revenue is None:
        variant_a = undefined("no revenue: accounts.mrr is empty and there are no orders",
                              "currency", **inputs_a)
    elif not len(cac):
        variant_a = undefined(
            "accounts.acquisition_cost is empty for every customer of the period; fill it "
            "(gross_value shows the CLV before acquisition cost)", "currency",
            gross_value=annual_revenue * lifetime, **inputs_a,
        )
    else:
        variant_a = defined(clv_revenue_lifetime(annual_revenue, lifetime,
                                                 acquisition_cost=inputs_a["acquisition_cost"]),
                            "currency", **inputs_a)

    # (b) orders
    if totals is None:
        variant_b = undefined("no orders table", "currency")
    elif not totals["orders"]:
        variant_b = undefined("no orders in the period", "currency")
    else:
        n_orders, buyers = totals["orders"], totals["buyers"]
        aov = totals["revenue"] / n_orders
        frequency = n_orders / buyers * per_year
        variant_b = defined(
            clv_order_value(aov, frequency, lifetime, gross_margin=gross_margin), "currency",
            average_order_value=aov, purchases_per_year=frequency, buyers=buyers,
            orders=n_orders, gross_margin=gross_margin, margin_applied=gross_margin is not None,
        )

    # (c) subscription
    if not len(mrr):
        variant_c = undefined("accounts.mrr is empty for every customer of the period", "currency")
    else:
        monthly_churn = 100 * churn_fraction * DAYS_PER_MONTH / period_days
        value_c, _ = clv_subscription(
            float(mrr.mean()), min(monthly_churn, 100.0), gross_margin=gross_margin or 1.0,
            max_lifetime_years=max_lifetime_years,
        )
        variant_c = defined(value_c, "currency", monthly_revenue=float(mrr.mean()),
                            monthly_churn_rate=monthly_churn, gross_margin=gross_margin,
                            margin_applied=gross_margin is not None)

    variants = {"revenue_lifetime": variant_a, "order_value": variant_b, "subscription": variant_c}
    components = dict(
        variants=variants, lifetime_years=lifetime, lifetime_capped=capped,
        churn_rate=100 * churn_fraction, **common,
        affordable_acquisition_cost=(affordable_acquisition_cost(variant_a.value)
                                     if variant_a.defined else None),
    )
    if not variant_a.defined:
        return undefined(variant_a.reason, "currency", **components)
    return defined(variant_a.value, "currency", **components)
