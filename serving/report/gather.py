"""From data to report: the sections of the health report as plain data.

:func:`gather_report` turns a scores file, its alerts, the input tables and the model card
into a :class:`~serving.report.document.Report`: headline cards, tables of ready-made
cells, and the series the charts are drawn from. It computes and words; it does not draw
(:mod:`serving.report.plots`) or write HTML (:mod:`serving.report.render`). A figure that
cannot be computed reads "n/a (reason)", never 0.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from features.contract import Tables
from features.db_url import mask
from features.values import is_missing
from serving import metric_text
from serving.alerts import TYPICAL_KEY, driver_texts
from serving.metric_text import format_value, metric_entry
from serving.report.calls import (
    RunHistory,
    bands_over_time,
    call_list_blocks,
    money,
    past_outcomes,
)
from serving.report.card import ModelCard, model_section
from serving.report.document import (
    BandShares,
    Block,
    Card,
    Cards,
    Figure,
    MonthlyTrends,
    Report,
    ScoreHistogram,
    Section,
    Series,
    Table,
    Text,
)
from serving.scores_file import ScoresFile, riskiest

# Band colours when a scores file carries no ``health_color`` column (the scorecard defaults).
_FALLBACK_COLORS = {"red": "#d64545", "yellow": "#e8b100", "green": "#2f9e44"}
_NA_COLOR = "#9aa5b1"

#: The metrics on the report's headline cards, in order.
HEADLINE_METRICS = ("nps", "csat", "ces", "churn_rate", "retention_rate", "resolution_time")
#: The headline of a shop (churn is a lapse in ordering: features.churn_definition).
TRANSACTIONAL_HEADLINE = ("repeat_purchase_rate", "average_order_value", "clv", "churn_rate",
                          "csat", "conversion_rate")

NO_TABLES = "portfolio metrics need the input tables: pass --metrics-from DIR"


def _scorecard_note(meta: dict) -> str:
    """Which scorecard scored, under which churn definition, and its measures without data.

    >>> _scorecard_note({"scorecard": "features/scorecard_transactional.toml",
    ...     "churn_definition": "lapse", "churn_lapse_days": 90,
    ...     "churn_definition_source": "the mapping file",
    ...     "measures_without_data": {"returns": ["return_rate"]}})
    ' Scorecard: features/scorecard_transactional.toml (churn = a lapse: no order for 90 days (the mapping file)). No data at all for return_rate (returns).'
    """
    if not meta.get("scorecard"):
        return ""
    from features.churn_definition import ChurnDefinition

    note = f" Scorecard: {meta['scorecard']} ({ChurnDefinition.from_metadata(meta).describe()})."
    empty = meta.get("measures_without_data") or {}
    if empty:
        note += " No data at all for " + "; ".join(
            f"{', '.join(names)} ({table})" for table, names in empty.items()) + "."
    return note


def _as_of(meta: dict, tables: Tables | None) -> pd.Timestamp | None:
    if meta.get("as_of"):
        stamp = pd.Timestamp(meta["as_of"])
        # the tables are naive UTC; a zoned as-of date is converted to match them
        return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
    if tables is not None:
        from models.training_set import data_span

        return data_span(tables)[1]
    return None


# --- words -----------------------------------------------------------------------------


# --- headline --------------------------------------------------------------------------


def _card_warnings(card: ModelCard, meta: dict, tables: Tables | None, as_of: pd.Timestamp | None) -> list[str]:
    """Why the card's model may not fit the data scored (:func:`models.model_check.model_warnings`)."""
    from models.model_check import model_warnings

    if not card.run_id or as_of is None:
        return []
    return model_warnings(card.params, as_of=as_of, tables=tables, data_sha256=meta.get("data_fingerprint"))


def report_period(as_of: pd.Timestamp, months: int) -> tuple[tuple, tuple]:
    """The current period ``[as_of - months, as_of)`` and the one before it.

    >>> current, previous = report_period(pd.Timestamp("2026-07-01"), 3)
    >>> [str(t.date()) for t in current + previous]
    ['2026-04-01', '2026-07-01', '2026-01-01', '2026-04-01']
    """
    start = as_of - pd.DateOffset(months=months)
    return (start, as_of), (start - pd.DateOffset(months=months), start)


def headline_cards(current: dict, previous: dict,
                   keys: tuple[str, ...] = HEADLINE_METRICS) -> list[dict]:
    """One card per headline metric, with the change against the previous period.

    Each card is a dict of the fields of :class:`~serving.report.document.Card`.

    >>> cards = headline_cards({"nps": {"value": 30.0}}, {"nps": {"value": 20.0}})
    >>> cards[0]["value"], cards[0]["trend"], cards[0]["trend_class"]
    ('30 points', '▲ +10 points vs the previous period', 'better')
    >>> cards[1]["value"]
    'n/a (not computed)'
    """
    cards = []
    for key in keys:
        entry, before = metric_entry(current, key), metric_entry(previous, key)
        value, earlier = entry.get("value"), before.get("value")
        if is_missing(value):
            trend, trend_class = "", "na"
        elif is_missing(earlier):
            trend = f"no comparison: previous period {format_value(None, reason=before.get('reason'))}"
            trend_class = "na"
        else:
            delta = float(value) - float(earlier)
            if metric_text.is_unchanged(key, delta):
                trend, trend_class = "● unchanged vs the previous period", "same"
            else:
                arrow, sign = ("▲", "+") if delta > 0 else ("▼", "−")
                trend = f"{arrow} {sign}{metric_text.change_text(key, delta)} vs the previous period"
                better = (delta > 0) == metric_text.METRICS[key].higher_is_better
                trend_class = "better" if better else "worse"
        cards.append(
            {
                "key": key,
                "label": metric_text.title(key),
                "value": metric_text.card_value(key, entry),
                "undefined": is_missing(value),
                "trend": trend,
                "trend_class": trend_class,
                "details": metric_text.card_details(key, entry) if not is_missing(value) else [],
            }
        )
    return cards


def _headline(tables: Tables | None, as_of: pd.Timestamp | None, months: int) -> Section:
    title = "Portfolio at a glance"
    if tables is None or as_of is None:
        return Section("headline", title, None, [Text(f"n/a ({NO_TABLES})")])
    from features.period_metrics import period_metrics

    (start, end), (prev_start, prev_end) = report_period(as_of, months)
    current = period_metrics(tables, start, end)
    previous = period_metrics(tables, prev_start, prev_end)
    label = f"{start:%d %b %Y} – {end - pd.Timedelta(days=1):%d %b %Y}"
    lead = f"The last {months} month(s), {label}, compared with the {months} month(s) before."
    keys = TRANSACTIONAL_HEADLINE if getattr(tables.churn, "is_lapse", False) else HEADLINE_METRICS
    cards = headline_cards(current, previous, keys)
    return Section("headline", title, lead, [Cards([Card(**card) for card in cards])])


# --- bands -----------------------------------------------------------------------------


def band_palette(scores: pd.DataFrame) -> dict[str, str]:
    """Band label -> colour, ordered from the worst band to the best.

    >>> frame = pd.DataFrame({"health_score": [20, 90, 60], "health_band": ["red", "green", "yellow"]})
    >>> band_palette(frame)
    {'red': '#d64545', 'yellow': '#e8b100', 'green': '#2f9e44'}
    """
    scored = scores.dropna(subset=["health_score"])
    order = scored.groupby("health_band")["health_score"].median().sort_values().index.tolist()
    palette = {}
    for band in order:
        color = None
        if "health_color" in scored.columns:
            colors = scored.loc[scored["health_band"] == band, "health_color"].dropna()
            color = colors.iloc[0] if len(colors) else None
        palette[band] = color or _FALLBACK_COLORS.get(str(band).lower(), _NA_COLOR)
    return palette


def _distribution(scores: pd.DataFrame, palette: dict[str, str]) -> list[Block]:
    scored = scores.dropna(subset=["health_score"])
    if scored.empty:
        return [Text("n/a (no account has enough data for a health score)")]
    histogram = ScoreHistogram(
        {band: scored.loc[scored["health_band"] == band, "health_score"].astype(float).tolist() for band in palette},
        dict(palette),
    )
    blocks: list[Block] = [
        Figure(
            "score-distribution",
            "Histogram of account health scores coloured by band",
            "How many accounts sit at each health score, coloured by band.",
            histogram,
        )
    ]
    counts = scores["health_band"].value_counts()
    rows = []
    total = len(scores)
    for band in list(palette) + [b for b in counts.index if b not in palette]:
        n = int(counts.get(band, 0))
        rows.append(
            {
                "band": {"band": band, "color": palette.get(band, _NA_COLOR)},
                "accounts": f"{n:,}",
                "share": format_value(100 * n / total, unit="%"),
            }
        )
    blocks.append(Table.from_frame("bands", pd.DataFrame(rows), numeric=("accounts", "share")))
    median = scored["health_score"].median()
    unscored = total - len(scored)
    blocks.append(
        Text(
            f"{len(scored):,} of {total:,} accounts have a score; the median score is {median:.0f}."
            + (f" {unscored:,} account(s) have too little data for a score." if unscored else "")
        )
    )
    return blocks


def _split_column(scores: pd.DataFrame, tables: Tables | None, by: str) -> pd.Series | None:
    """The accounts' ``by`` column beside each score: from the scores, else the accounts."""
    if by in scores.columns:
        return scores[by]
    if tables is not None and by in tables.accounts.columns:
        return scores["account_id"].map(tables.accounts.set_index("account_id")[by])
    return None


def _segments(scores: pd.DataFrame, palette: dict[str, str], currency: str | None,
              tables: Tables | None = None, by: str = "segment") -> list[Block]:
    column = _split_column(scores, tables, by)
    if column is None or column.isna().all():
        where = "" if by in _SCORES_SPLITS or tables is not None else (
            "; give the tables with --metrics-from to split by a column of accounts")
        return [Text(f"n/a (no account has a {by}{where})")]
    segments = column.fillna(f"(no {by})").astype(str).rename(by)
    counts = pd.crosstab(segments, scores["health_band"])
    bands = [band for band in palette if band in counts.columns] + [
        band for band in counts.columns if band not in palette
    ]
    counts = counts[bands]
    shares = counts.div(counts.sum(axis=1), axis=0) * 100
    chart = BandShares(
        [str(segment) for segment in shares.index],
        {band: shares[band].astype(float).tolist() for band in bands},
        {band: palette.get(band, _NA_COLOR) for band in bands},
    )
    table = counts.copy()
    table.insert(0, by, table.index.astype(str))
    table["accounts"] = counts.sum(axis=1)
    for band in bands:
        table[band] = [f"{n:,} ({s:.0f}%)" for n, s in zip(counts[band], shares[band])]
    if "mrr" in scores.columns:
        red = bands[0]
        at_risk_mrr = scores.loc[scores["health_band"] == red].groupby(segments)["mrr"].sum()
        table[f"monthly revenue in {red}"] = [
            money(at_risk_mrr.get(segment, 0.0), currency) for segment in counts.index
        ]
    table["accounts"] = table["accounts"].map(lambda n: f"{n:,}")
    return [
        Figure("bands-by-segment", f"Share of accounts per band in each {by}",
               f"Share of each {by}'s accounts in each band.", chart),
        Table.from_frame("bands-by-segment", table.reset_index(drop=True),
                         numeric=tuple(bands) + ("accounts", f"monthly revenue in {bands[0]}"),
                         caption=None if currency else _NO_CURRENCY),
    ]


# The split columns every scores file carries (the others come from the accounts table).
_SCORES_SPLITS = ("segment",)

_NO_CURRENCY = ("Revenue is shown without a currency: set `currency` in the mapping file "
                "or score with --currency.")


# --- accounts at risk -------------------------------------------------------


def _has(scores: pd.DataFrame, column: str) -> bool:
    return column in scores.columns and scores[column].notna().any()


def at_risk_accounts(scores: pd.DataFrame, palette: dict[str, str], *, limit: int = 25) -> pd.DataFrame:
    """The accounts to call first: the worst band and the highest churn probabilities.

    Accounts in the worst band (lowest health scores) and the ``limit`` accounts with the
    highest churn probability (:func:`serving.scores_file.riskiest`), riskiest first (by
    churn probability when there is one, else by health score), at most ``2 * limit`` rows.
    """
    worst = next(iter(palette), None)
    chosen = scores.loc[scores["health_band"] == worst].nsmallest(limit, "health_score")
    if not _has(scores, "churn_probability"):
        return chosen.sort_values("health_score").head(2 * limit)
    top = riskiest(scores.dropna(subset=["churn_probability"]), limit)
    chosen = pd.concat([top, chosen.loc[~chosen["account_id"].isin(top["account_id"])]])
    chosen = chosen.sort_values(["churn_probability", "health_score"], ascending=[False, True], na_position="last")
    return chosen.head(2 * limit)


def _at_risk(scores: pd.DataFrame, palette: dict[str, str], limit: int, currency: str | None,
             typical: dict) -> list[Block]:
    chosen = at_risk_accounts(scores, palette, limit=limit)
    if chosen.empty:
        return [Text("No account is in the worst band and no churn probability is available.")]
    has_model, has_trend = _has(scores, "churn_probability"), _has(scores, "health_trend")
    rows = []
    for record in chosen.to_dict(orient="records"):
        row = {"account": str(record["account_id"])}
        if "segment" in record:
            row["segment"] = "" if is_missing(record["segment"]) else str(record["segment"])
        if "mrr" in record:
            row["monthly revenue"] = money(record["mrr"], currency)
        row["health score"] = format_value(record["health_score"], digits=0, reason="too little data")
        row["band"] = {"band": record["health_band"], "color": palette.get(record["health_band"], _NA_COLOR)}
        if has_trend:
            delta = record.get("health_delta")
            trend = record["health_trend"]
            row["trend"] = (
                "n/a (no previous score)"
                if is_missing(trend)
                else f"{trend} ({float(delta):+.0f})" if not is_missing(delta) else str(trend)
            )
        if has_model:
            row["churn risk"] = format_value(
                None if is_missing(record["churn_probability"]) else 100 * record["churn_probability"],
                unit="%",
                digits=0,
                reason="no model score",
            )
        row["what pulls the score down"] = driver_texts(record.get("health_drivers"))
        if has_model:
            row["what drives the churn risk"] = driver_texts(
                record.get("churn_drivers", record.get("top_drivers")), typical)
        rows.append(row)
    worst = next(iter(palette), "worst")
    in_worst = int((chosen["health_band"] == worst).sum())
    caption = (
        f"{len(chosen)} accounts: the {limit} highest churn risks and the {worst} accounts with the "
        f"lowest scores (up to {limit}; {in_worst} of the rows are {worst}), riskiest first."
        if has_model
        else f"The {len(chosen)} {worst} accounts with the lowest scores (up to {2 * limit}); no churn "
        "model scored these accounts."
    )
    numeric = ("monthly revenue", "health score", "churn risk")
    return [Table.from_frame("at-risk", pd.DataFrame(rows), numeric=numeric, caption=caption)]


# --- over time -------------------------------------------------------------------------


def _series(over_time: list[dict], key: str) -> Series:
    starts, values, margins = [], [], []
    for period in over_time:
        entry = metric_entry(period, key)
        starts.append(pd.Timestamp(period["period"]["start"]))
        values.append(np.nan if is_missing(entry.get("value")) else float(entry["value"]))
        margin = entry.get("margin_of_error")
        margins.append(np.nan if is_missing(margin) else float(margin))
    return Series(starts, values, margins)


def _trends(tables: Tables | None, as_of: pd.Timestamp | None, months: int) -> list[Block]:
    if tables is None or as_of is None:
        return [Text(f"n/a ({NO_TABLES})")]
    from features.period_metrics import metrics_over_time
    from features.sentiment import sentiment_over_time
    from models.training_set import data_span

    first, _ = data_span(tables)
    # A year of months (or two headline periods when longer), from a month's first day.
    earliest = (as_of - pd.DateOffset(months=max(12, 2 * months))).to_period("M").start_time
    start = max(first.to_period("M").start_time, earliest)
    over_time = metrics_over_time(tables, start, as_of, every="month")
    from features.sentiment import describe_languages, language_report
    from features.survey_polarity import score_survey_comments

    comments, polarity_models = (score_survey_comments(tables, as_of)
                                 if tables.surveys is not None else (None, None))
    tone = sentiment_over_time(tables.surveys, start, as_of, scores=comments)
    chart = MonthlyTrends(
        nps=_series(over_time, "nps"),
        csat=_series(over_time, "csat"),
        tone=Series(list(tone.index), tone["polarity"].astype(float).tolist()),
    )
    if not any(np.isfinite(np.asarray(series.values, dtype=float)).any()
               for series in (chart.nps, chart.csat, chart.tone)):
        return [Text(f"n/a (no survey answers or comments since {start:%b %Y}: the surveys "
                     "table is empty for these months)")]
    blocks: list[Block] = [
        Figure(
            "trends",
            "NPS, CSAT and comment sentiment per month",
            "Per month. A gap means no answers that month (shown as missing, never as 0).",
            chart,
        )
    ]
    unread, read = int(tone["unsupported"].sum()), int(tone["comments"].sum())
    if read + unread:
        shown = comments.loc[comments.index.intersection(
            tables.surveys.index[tables.surveys["responded_at"] >= start])]
        blocks.append(
            Text(
                f"Comment tone is measured on {read:,} comments; {unread:,} comment(s) "
                f"({100 * unread / (read + unread):.0f}%) could not be read and are left out rather "
                "than counted as neutral. By language: "
                f"{describe_languages(language_report(shown, polarity_models))}."
            )
        )
    return blocks


def _past_lists(history: RunHistory, tables: Tables | None, as_of: pd.Timestamp | None,
                card: ModelCard) -> list[Block]:
    if tables is None or as_of is None:
        return [Text(f"How past call lists did: n/a ({NO_TABLES}, for who churned)")]
    from models.training_config import setting_default

    # The model's label window: what "churned after the list" means for its probabilities.
    horizon = int(float(card.params.get("data.horizon", setting_default("horizon"))))
    return past_outcomes(history, tables.accounts.set_index("account_id")["churned_at"], as_of, horizon)


# --- the report ------------------------------------------------------------------------


def _calls_table(run: ScoresFile) -> str | None:
    """Where a run read from a database keeps its whole call list."""
    if run.database is None or not run.metadata.get("as_of"):
        return None
    return (f"the rows as of {pd.Timestamp(run.metadata['as_of']):%Y-%m-%d} of the table "
            f"{run.database.names['alerts']} in {mask(run.database.url)}")


def gather_report(
    scores_file: ScoresFile,
    *,
    alerts: pd.DataFrame | None,
    card: ModelCard,
    tables: Tables | None = None,
    months: int = 3,
    at_risk_limit: int = 25,
    title: str = "Customer health report",
    history: RunHistory | None = None,
    alerts_href: str | None = None,
    split_by: str = "segment",
) -> Report:
    """Every section of the report, as plain data (:data:`~serving.report.document.REPORT_SECTIONS`).

    Parameters
    ----------
    scores_file : ScoresFile
        The scores and their run metadata (as-of date, previous run).
    alerts : DataFrame or None
        The run's alerts; None when there is no alerts file.
    card : ModelCard
        The churn model's card (:func:`serving.report.card.model_card`).
    tables : Tables, optional
        Validated input tables, for the headline metrics, the trends and monthly revenue.
    months : int
        Length of the headline period, compared with the ``months`` before it.
    at_risk_limit : int
        How many of the highest churn risks (and of the worst-band accounts) to list.
    title : str
        The report's title.
    history : RunHistory, optional
        The recent runs (:func:`serving.report.calls.read_run_history`): sparklines, bands
        over time and how past call lists did; none when omitted.
    alerts_href : str, optional
        The call list file as a link relative to the report.
    split_by : str
        The accounts' column the bands are split by (default ``segment``).
    """
    scores, meta = scores_file.scores, scores_file.metadata
    history = history if history is not None else RunHistory(pd.DataFrame(
        columns=["as_of", "account_id", "health_score", "health_band", "churn_probability"]), {})
    currency = meta.get("currency")
    as_of = _as_of(meta, tables)
    if tables is not None and "mrr" not in scores.columns:
        # Monthly revenue tells a manager which red account to call first.
        mrr = tables.accounts.set_index("account_id")["mrr"]
        scores = scores.assign(mrr=scores["account_id"].map(mrr))
    palette = band_palette(scores)
    calls_lead = (
        "Who to call, most revenue at stake first: accounts whose band got worse, that turned "
        "red, whose churn risk jumped or that fell silent, with every reason in words."
        if meta.get("previous") or not meta
        else "This run had no previous run to compare with (score with --previous), "
        "so every account in red is listed."
    )
    sections = [
        _headline(tables, as_of, months),
        Section("call-list", "Call list", calls_lead,
                call_list_blocks(alerts, history, palette, currency=currency, alerts_href=alerts_href,
                                 alerts_where=_calls_table(scores_file))),
        Section("distribution", "Health scores across the portfolio",
                "Each account's health score (0–100) and its band. Red accounts need attention now."
                + _scorecard_note(meta), _distribution(scores, palette)),
        Section("segments", f"Bands by {split_by}", f"Where the at-risk accounts are, by {split_by}.",
                _segments(scores, palette, currency, tables, split_by)),
        Section("at-risk", "Accounts at risk",
                "Who to call this week, and why: the measures pulling the score down and what drives the churn risk.",
                _at_risk(scores, palette, at_risk_limit, currency, meta.get(TYPICAL_KEY) or {})),
        Section("history", "Over the runs", "How the portfolio's bands moved from run to run, and how "
                "earlier call lists did once their outcome was known.",
                bands_over_time(history, palette) + _past_lists(history, tables, as_of, card)),
        Section("trends", "NPS, CSAT and comment tone over time",
                "Monthly survey results and the tone of customers' comments.", _trends(tables, as_of, months)),
        Section("model", "About the churn model", None, model_section(card, _card_warnings(card, meta, tables, as_of))),
    ]
    subtitle = f"{len(scores):,} active accounts scored" + (f" as of {as_of:%d %b %Y}" if as_of is not None else "")
    footer = (
        f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC by customer-health from {scores_file.name}."
    )
    return Report(title, subtitle, footer, sections)
