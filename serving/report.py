"""The health report: one self-contained HTML file for customer-success managers.

:func:`build_report` reads a scores file written by the batch job (``customer-health score``),
optionally the validated input tables (for portfolio metrics and trends) and the model that
produced the churn probabilities (for its model card), and writes one HTML file. Plots are
matplotlib figures embedded as base64 PNG and the styles are inline, so the file opens
offline, holds no external script, font or image, and can be mailed as it is.

Sections, in order (``REPORT_SECTIONS``): portfolio headline metrics with their trend
against the previous period, the distribution of health scores, accounts per band by
segment, the at-risk list, the alerts, NPS / CSAT / sentiment over time, and the model card.
A figure that cannot be computed is shown as "n/a (reason)", never as 0.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.contract import Tables
from features.io import write_atomically

#: Section ids, in the order they appear in the report.
REPORT_SECTIONS = ("headline", "distribution", "segments", "at-risk", "alerts", "trends", "model")

#: Columns a scores file must have for a report.
REQUIRED_SCORE_COLUMNS = ("account_id", "health_score", "health_band")

# Band colours when a scores file carries no ``health_color`` column (the scorecard defaults).
_FALLBACK_COLORS = {"red": "#d64545", "yellow": "#e8b100", "green": "#2f9e44"}
_NA_COLOR = "#9aa5b1"


class ReportError(ValueError):
    """The report cannot be built from what was given; the message says what to fix."""


# --- reading inputs --------------------------------------------------------------------


def read_scores(path: str | os.PathLike) -> tuple[pd.DataFrame, dict]:
    """Read a scores file (Parquet or CSV) and its run metadata.

    The metadata is the batch job's sidecar ``<file>.meta.json`` (also looked up as
    ``<stem>.meta.json``); an empty dict when there is none.

    Raises
    ------
    ReportError
        When the file is missing, has an unknown format or lacks a required column.
    """
    path = Path(path)
    if not path.is_file():
        raise ReportError(
            f"scores file {path} does not exist; write one with "
            "`customer-health score DIR --as-of DATE --out FILE` first"
        )
    if path.suffix == ".parquet":
        scores = pd.read_parquet(path)
    elif path.suffix == ".csv":
        scores = pd.read_csv(path)
    else:
        raise ReportError(f"scores file {path}: unknown format {path.suffix!r}; use .parquet or .csv")
    if "account_id" not in scores.columns and scores.index.name == "account_id":
        scores = scores.reset_index()
    missing = [column for column in REQUIRED_SCORE_COLUMNS if column not in scores.columns]
    if missing:
        raise ReportError(
            f"scores file {path} lacks column(s) {missing}; it should be the output of "
            "`customer-health score`, which writes them"
        )
    meta: dict = {}
    for candidate in (path.with_name(path.name + ".meta.json"), path.with_suffix(".meta.json")):
        if candidate.is_file():
            meta = json.loads(candidate.read_text(encoding="utf-8"))
            break
    return scores, meta


def find_alerts(scores_path: str | os.PathLike, meta: dict | None = None) -> Path | None:
    """The alerts file the batch job wrote next to ``scores_path``, or None.

    Looked up in the metadata (key ``alerts``) first, then as ``<stem>.alerts.<ext>``,
    ``<stem>_alerts.<ext>`` and ``alerts.<ext>`` in the same folder.
    """
    scores_path = Path(scores_path)
    meta = meta or {}
    named = meta.get("alerts_file") or meta.get("alerts")
    if isinstance(named, str):
        candidate = Path(named)
        if not candidate.is_absolute():
            candidate = scores_path.parent / candidate
        if candidate.is_file():
            return candidate
    stem = scores_path.stem
    for name in (f"{stem}.alerts", f"{stem}_alerts", "alerts"):
        for ext in (".parquet", ".csv", ".json"):
            candidate = scores_path.with_name(name + ext)
            if candidate.is_file():
                return candidate
    return None


def read_alerts(path: str | os.PathLike | None) -> pd.DataFrame | None:
    """Read an alerts file (Parquet, CSV or JSON records); None when there is no file."""
    if path is None:
        return None
    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    return pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))


# --- formatting ------------------------------------------------------------------------


def is_missing(value: Any) -> bool:
    """True for None and NaN (an undefined figure).

    >>> is_missing(None), is_missing(float("nan")), is_missing(0), is_missing("x")
    (True, True, False, False)
    """
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_value(value: Any, *, unit: str = "", digits: int = 1, reason: str | None = None) -> str:
    """A figure as text; an undefined figure as "n/a (reason)", never 0.

    >>> format_value(42.345, unit="%")
    '42.3%'
    >>> format_value(None, reason="no survey answers in the period")
    'n/a (no survey answers in the period)'
    >>> format_value(1234567, digits=0)
    '1,234,567'
    """
    if is_missing(value):
        return f"n/a ({reason or 'not available'})"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        text = f"{int(value):,}"
    else:
        text = f"{float(value):,.{digits}f}"
    return f"{text}{unit}" if unit in ("%", "") else f"{text} {unit}"


def driver_texts(value: Any) -> list[str]:
    """The sentences of a drivers cell (scorecard or model drivers), whatever its storage.

    A drivers cell is a list of dicts with a ``text`` key in memory, a numpy array of
    dicts after a Parquet round trip, or a JSON string in CSV.

    >>> driver_texts([{"text": "CSAT, last 180 days: 38% (poor ≤ 50%) cost 9.4 points"}])
    ['CSAT, last 180 days: 38% (poor ≤ 50%) cost 9.4 points']
    >>> driver_texts('[{"text": "no logins for 40 days"}]')
    ['no logins for 40 days']
    >>> driver_texts(None)
    []
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return [value] if value else []
    if isinstance(value, dict):
        value = [value]
    texts = []
    for item in list(value):
        if isinstance(item, dict):
            text = item.get("text") or item.get("measure") or item.get("indicator")
        else:
            text = str(item)
        if text:
            texts.append(str(text))
    return texts


def _figure_block(fig, name: str, alt: str, caption: str | None = None) -> dict:
    """Render a matplotlib figure into an inline PNG block and close it."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return _image_block(buffer.getvalue(), name, alt, caption)


def _image_block(png: bytes, name: str, alt: str, caption: str | None = None) -> dict:
    return {
        "kind": "figure",
        "name": name,
        "mime": "image/png",
        "data": base64.b64encode(png).decode("ascii"),
        "alt": alt,
        "caption": caption,
    }


def _text(text: str, css: str = "note") -> dict:
    return {"kind": "text", "text": text, "css": css}


def _table(name: str, frame: pd.DataFrame, *, numeric=(), caption: str | None = None) -> dict:
    rows = frame.to_dict(orient="records")
    return {
        "kind": "table",
        "name": name,
        "columns": list(frame.columns),
        "numeric": list(numeric),
        "rows": rows,
        "caption": caption,
    }


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


# --- the sections ----------------------------------------------------------------------

# (key in period_metrics, label for a CS manager, unit, digits, higher is better)
HEADLINE_METRICS = (
    ("nps", "Net Promoter Score", "points", 0, True),
    ("csat", "Customer satisfaction (CSAT)", "%", 1, True),
    ("ces", "Customer effort (CES, higher = easier)", "", 2, True),
    ("churn_rate", "Churn rate", "%", 1, False),
    ("retention_rate", "Retention rate", "%", 1, True),
    ("resolution_time", "Ticket resolution time", "hours", 1, False),
)


def report_period(as_of: pd.Timestamp, months: int) -> tuple[tuple, tuple]:
    """The current period ``[as_of - months, as_of)`` and the one before it.

    >>> current, previous = report_period(pd.Timestamp("2026-07-01"), 3)
    >>> [str(t.date()) for t in current + previous]
    ['2026-04-01', '2026-07-01', '2026-01-01', '2026-04-01']
    """
    start = as_of - pd.DateOffset(months=months)
    return (start, as_of), (start - pd.DateOffset(months=months), start)


def _metric_entry(metrics: dict, key: str) -> dict:
    entry = metrics.get(key)
    if hasattr(entry, "as_dict"):  # a features.survey_metrics.MetricResult
        entry = entry.as_dict()
    if isinstance(entry, dict):
        return entry
    return {"value": entry, "reason": None if entry is not None else "not computed"}


def _metric_details(key: str, entry: dict) -> list[str]:
    """The components worth showing under a headline figure, in words."""
    details = []
    if key == "nps":
        parts = []
        for name in ("promoter", "passive", "detractor"):
            share, count = entry.get(f"{name}_share"), entry.get(f"{name}s")
            if not is_missing(share) and not is_missing(count):
                parts.append(f"{name}s {float(share):.0f}% ({int(count):,})")
            elif not is_missing(share):
                parts.append(f"{name}s {float(share):.0f}%")
        if parts:
            details.append(", ".join(parts))
        margin = entry.get("margin_of_error")
        if not is_missing(margin):
            details.append(f"margin of error ±{float(margin):.1f} points (95%)")
    responses = entry.get("responses", entry.get("n", entry.get("count")))
    if key in ("nps", "csat", "ces") and not is_missing(responses):
        details.append(f"{int(responses):,} answers")
    if key in ("csat", "ces") and not is_missing(entry.get("mean")):
        details.append(f"mean answer {float(entry['mean']):.2f}")
    if key == "churn_rate":
        lost, start = entry.get("lost"), entry.get("active_at_start")
        if not is_missing(lost) and not is_missing(start):
            details.append(f"{int(lost):,} of {int(start):,} accounts active at the start left")
    if key == "resolution_time":
        median = entry.get("median_hours")
        if not is_missing(median):
            details.append(f"median {float(median):.1f} hours")
        resolved = entry.get("resolved")
        if not is_missing(resolved):
            details.append(f"{int(resolved):,} tickets resolved in the period")
        backlog = entry.get("open_backlog")
        if not is_missing(backlog):
            details.append(f"{int(backlog):,} tickets still open at the end")
    return details


def headline_cards(current: dict, previous: dict) -> list[dict]:
    """One card per headline metric, with the change against the previous period.

    >>> cards = headline_cards({"nps": {"value": 30.0}}, {"nps": {"value": 20.0}})
    >>> cards[0]["value"], cards[0]["trend"], cards[0]["trend_class"]
    ('30 points', '▲ +10 points vs the previous period', 'better')
    >>> cards[1]["value"]
    'n/a (not computed)'
    """
    cards = []
    for key, label, unit, digits, higher_is_better in HEADLINE_METRICS:
        entry, before = _metric_entry(current, key), _metric_entry(previous, key)
        value, earlier = entry.get("value"), before.get("value")
        text = format_value(value, unit=unit, digits=digits, reason=entry.get("reason"))
        if is_missing(value):
            trend, trend_class = "", "na"
        elif is_missing(earlier):
            trend = f"no comparison: previous period {format_value(None, reason=before.get('reason'))}"
            trend_class = "na"
        else:
            delta = float(value) - float(earlier)
            shown = format_value(abs(delta), unit="points" if unit == "%" else unit, digits=digits)
            if round(delta, digits) == 0:
                trend, trend_class = "● unchanged vs the previous period", "same"
            else:
                arrow, sign = ("▲", "+") if delta > 0 else ("▼", "−")
                trend = f"{arrow} {sign}{shown} vs the previous period"
                trend_class = "better" if (delta > 0) == higher_is_better else "worse"
        cards.append(
            {
                "key": key,
                "label": label,
                "value": text,
                "undefined": is_missing(value),
                "trend": trend,
                "trend_class": trend_class,
                "details": _metric_details(key, entry) if not is_missing(value) else [],
            }
        )
    return cards


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


def _distribution_section(scores: pd.DataFrame, palette: dict[str, str]) -> list[dict]:
    plt = _pyplot()
    scored = scores.dropna(subset=["health_score"])
    blocks = []
    if scored.empty:
        return [_text("n/a (no account has enough data for a health score)")]
    fig, ax = plt.subplots(figsize=(9, 3.4))
    bins = np.arange(0, 105, 5)
    values = [scored.loc[scored["health_band"] == band, "health_score"] for band in palette]
    ax.hist(values, bins=bins, stacked=True, color=list(palette.values()), label=list(palette), edgecolor="white")
    ax.set_xlabel("health score (0 = at risk, 100 = healthy)")
    ax.set_ylabel("accounts")
    ax.set_xlim(0, 100)
    ax.legend(title="band", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.spines[["top", "right"]].set_visible(False)
    blocks.append(
        _figure_block(
            fig,
            "score-distribution",
            "Histogram of account health scores coloured by band",
            "How many accounts sit at each health score, coloured by band.",
        )
    )
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
    blocks.append(_table("bands", pd.DataFrame(rows), numeric=("accounts", "share")))
    median = scored["health_score"].median()
    blocks.append(
        _text(
            f"{len(scored):,} of {total:,} accounts have a score; the median score is {median:.0f}."
            + (
                f" {total - len(scored):,} account(s) have too little data for a score."
                if total > len(scored)
                else ""
            )
        )
    )
    return blocks


def _segments_section(scores: pd.DataFrame, palette: dict[str, str]) -> list[dict]:
    if "segment" not in scores.columns or scores["segment"].isna().all():
        return [_text("n/a (the accounts table has no segment column)")]
    plt = _pyplot()
    segments = scores["segment"].fillna("(no segment)")
    counts = pd.crosstab(segments, scores["health_band"])
    bands = [band for band in palette if band in counts.columns] + [
        band for band in counts.columns if band not in palette
    ]
    counts = counts[bands]
    shares = counts.div(counts.sum(axis=1), axis=0) * 100
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.55 * len(counts)))
    left = np.zeros(len(shares))
    for band in bands:
        ax.barh(shares.index.astype(str), shares[band], left=left, color=palette.get(band, _NA_COLOR), label=band)
        left += shares[band].to_numpy()
    ax.set_xlabel("% of the segment's accounts")
    ax.set_xlim(0, 100)
    ax.legend(title="band", frameon=False, ncols=len(bands), loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(counts) < 4 else -0.15))
    ax.spines[["top", "right"]].set_visible(False)
    table = counts.copy()
    table.insert(0, "segment", table.index.astype(str))
    table["accounts"] = counts.sum(axis=1)
    for band in bands:
        table[band] = [f"{n:,} ({s:.0f}%)" for n, s in zip(counts[band], shares[band])]
    if "mrr" in scores.columns:
        red = bands[0]
        at_risk_mrr = scores.loc[scores["health_band"] == red].groupby(segments)["mrr"].sum()
        table[f"monthly revenue in {red}"] = [
            format_value(at_risk_mrr.get(segment, 0.0), digits=0) for segment in counts.index
        ]
    table["accounts"] = table["accounts"].map(lambda n: f"{n:,}")
    return [
        _figure_block(fig, "bands-by-segment", "Share of accounts per band in each segment", "Share of each segment's accounts in each band."),
        _table("bands-by-segment", table.reset_index(drop=True), numeric=tuple(bands) + ("accounts",)),
    ]


def at_risk_accounts(scores: pd.DataFrame, palette: dict[str, str], *, limit: int = 25) -> pd.DataFrame:
    """The accounts to call first: the worst band and the highest churn probabilities.

    Accounts in the worst band (lowest health scores) and the ``limit`` accounts with the
    highest churn probability, riskiest first (by churn probability when there is one,
    else by health score), at most ``2 * limit`` rows.
    """
    worst = next(iter(palette), None)
    chosen = scores.loc[scores["health_band"] == worst]
    if "health_score" in chosen.columns:
        chosen = chosen.nsmallest(limit, "health_score")
    if "churn_probability" in scores.columns and scores["churn_probability"].notna().any():
        top = scores.nlargest(limit, "churn_probability")
        chosen = pd.concat([top, chosen.loc[~chosen["account_id"].isin(top["account_id"])]])
        chosen = chosen.sort_values(["churn_probability", "health_score"], ascending=[False, True], na_position="last")
    else:
        chosen = chosen.sort_values("health_score")
    return chosen.head(2 * limit)


def _at_risk_section(scores: pd.DataFrame, palette: dict[str, str], limit: int) -> list[dict]:
    chosen = at_risk_accounts(scores, palette, limit=limit)
    if chosen.empty:
        return [_text("No account is in the worst band and no churn probability is available.")]
    has_model = "churn_probability" in scores.columns and scores["churn_probability"].notna().any()
    has_trend = "health_trend" in scores.columns and scores["health_trend"].notna().any()
    rows = []
    for record in chosen.to_dict(orient="records"):
        row = {"account": str(record["account_id"])}
        if "segment" in record:
            row["segment"] = "" if is_missing(record["segment"]) else str(record["segment"])
        if "mrr" in record:
            row["monthly revenue"] = format_value(record["mrr"], digits=0, reason="unknown")
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
                record.get("churn_drivers", record.get("top_drivers"))
            )
        rows.append(row)
    frame = pd.DataFrame(rows)
    numeric = ("monthly revenue", "health score", "churn risk")
    worst = next(iter(palette), "worst")
    caption = (
        f"Accounts in the {worst} band and the {limit} highest churn risks, riskiest first."
        if has_model
        else f"Accounts in the {worst} band, lowest score first (no churn model scored these accounts)."
    )
    return [_table("at-risk", frame, numeric=numeric, caption=caption)]


def _alerts_section(alerts: pd.DataFrame | None, reason: str) -> list[dict]:
    if alerts is None:
        return [_text(f"n/a ({reason})")]
    if alerts.empty:
        return [_text("No alerts: no account got worse since the previous run.")]
    frame = alerts.copy()
    for column in frame.columns:
        if frame[column].map(lambda v: isinstance(v, (list, np.ndarray, dict))).any():
            frame[column] = frame[column].map(driver_texts)
    frame.columns = [str(column).replace("_", " ") for column in frame.columns]
    shown = frame.head(200)
    caption = f"{len(frame):,} alert(s)" + (", the first 200 shown." if len(frame) > 200 else ".")
    return [_table("alerts", shown.astype(object).where(shown.notna(), "n/a"), caption=caption)]


def _series(over_time: list[dict], key: str) -> tuple[list, list, list]:
    starts, values, margins = [], [], []
    for period in over_time:
        entry = _metric_entry(period, key)
        starts.append(pd.Timestamp(period["period"]["start"]))
        values.append(np.nan if is_missing(entry.get("value")) else float(entry["value"]))
        margin = entry.get("margin_of_error")
        margins.append(np.nan if is_missing(margin) else float(margin))
    return starts, values, margins


def _trends_section(tables: Tables | None, as_of: pd.Timestamp | None, months: int, no_tables_reason: str) -> list[dict]:
    if tables is None or as_of is None:
        return [_text(f"n/a ({no_tables_reason})")]
    from features.period_metrics import metrics_over_time
    from features.sentiment import sentiment_over_time

    plt = _pyplot()
    from models.training_set import data_span

    first, _ = data_span(tables)
    # A year of months (or two headline periods when longer), from a month's first day.
    earliest = (as_of - pd.DateOffset(months=max(12, 2 * months))).to_period("M").start_time
    start = max(first.to_period("M").start_time, earliest)
    over_time = metrics_over_time(tables, start, as_of, every="month")
    sentiment = sentiment_over_time(tables.surveys, start, as_of)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
    starts, nps, margin = _series(over_time, "nps")
    axes[0].plot(starts, nps, marker="o", color="#334e68")
    low, high = np.array(nps) - np.array(margin), np.array(nps) + np.array(margin)
    axes[0].fill_between(starts, low, high, color="#9fb3c8", alpha=0.4, label="95% margin of error")
    axes[0].set_title("NPS (points)")
    axes[0].axhline(0, color="#bcccdc", linewidth=0.8)
    starts, csat, _ = _series(over_time, "csat")
    axes[1].plot(starts, csat, marker="o", color="#2f9e44")
    axes[1].set_title("CSAT (% satisfied)")
    axes[2].plot(sentiment.index, sentiment["polarity"], marker="o", color="#7c5cbf")
    axes[2].axhline(0, color="#bcccdc", linewidth=0.8)
    axes[2].set_title("Comment tone (−1 negative … +1 positive)")
    from matplotlib.dates import DateFormatter

    for ax in axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.xaxis.set_major_formatter(DateFormatter("%b %Y"))
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    fig.tight_layout()
    blocks = [
        _figure_block(
            fig,
            "trends",
            "NPS, CSAT and comment sentiment per month",
            "Per month. A gap means no answers that month (shown as missing, never as 0).",
        )
    ]
    unread = int(sentiment["unsupported"].sum())
    read = int(sentiment["comments"].sum())
    if read + unread:
        blocks.append(
            _text(
                f"Comment tone is measured on {read:,} comments the analyser can read; "
                f"{unread:,} comment(s) ({100 * unread / (read + unread):.0f}%) are in a language it cannot read "
                "(e.g. Arabic or Persian) and are left out rather than counted as neutral."
            )
        )
    return blocks


# --- the model card --------------------------------------------------------------------


@dataclass
class ModelCard:
    """What the report shows about the churn model, read from its MLflow run."""

    name: str | None = None
    version: str | None = None
    alias: str | None = None
    run_id: str | None = None
    trained_at: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)  # artifact path -> PNG
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)  # artifact path -> table
    reason: str | None = None  # why there is no card


def _parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/name@alias`` or ``models:/name/version`` -> (name, alias, version).

    ``models:/name`` alone means its champion.

    >>> _parse_model_uri("models:/customer-health-churn@champion")
    ('customer-health-churn', 'champion', None)
    >>> _parse_model_uri("models:/customer-health-churn/3")
    ('customer-health-churn', None, '3')
    >>> _parse_model_uri("models:/customer-health-churn")
    ('customer-health-churn', 'champion', None)
    """
    from models.registry import parse_models_uri

    if not uri.startswith("models:/"):
        raise ReportError(f"model URI {uri!r}: use models:/NAME@ALIAS or models:/NAME/VERSION")
    name, version, alias = parse_models_uri(uri)
    if name is None:  # neither an alias nor a version
        return uri[len("models:/"):], "champion", None
    return name, alias, version


# Artifacts worth showing on the card: plots of calibration and of churn by band, and the
# evaluation tables. Matched on the artifact's file name.
_CARD_IMAGE_WORDS = ("reliab", "calibrat", "band")
_CARD_TABLE_WORDS = ("comparison", "churn_rate_by")


def model_card(model: Any, *, tracking_uri: str | None = None) -> ModelCard:
    """Read the model card of ``model`` from MLflow.

    Parameters
    ----------
    model
        A loaded model (anything with ``run_id``, ``name``, ``version`` attributes, such as
        :class:`models.registry.LoadedModel`), a ``models:/NAME@ALIAS`` or
        ``models:/NAME/VERSION`` URI, or None (no card).
    tracking_uri
        MLflow tracking URI; the current one when None.

    Returns
    -------
    ModelCard
        With ``reason`` set and nothing else when the model cannot be found.
    """
    if model is None:
        return ModelCard(reason="no model given: pass --model or score with a registered model")
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from models.tracking import tracking_uri as default_tracking_uri

    uri = tracking_uri or default_tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    card = ModelCard()
    try:
        if isinstance(model, str):
            name, alias, version = _parse_model_uri(model)
            found = (
                client.get_model_version_by_alias(name, alias)
                if alias
                else client.get_model_version(name, version)
            )
            if alias is None:  # a version asked by number: show the alias it holds, if any
                aliases = sorted(client.get_model_version(name, found.version).aliases or [])
                alias = "champion" if "champion" in aliases else (aliases[0] if aliases else None)
            card.name, card.version, card.alias, card.run_id = name, str(found.version), alias, found.run_id
        else:
            card.name = getattr(model, "name", None)
            card.version = None if getattr(model, "version", None) is None else str(model.version)
            card.alias = getattr(model, "alias", None)
            card.run_id = getattr(model, "run_id", None)
        if not card.run_id:
            card.reason = "the model has no MLflow run to read its evaluation from"
            return card
        run = client.get_run(card.run_id)
    except MlflowException as exc:
        message = str(exc).splitlines()[0]
        return ModelCard(reason=f"model {model if isinstance(model, str) else card.name} not found in MLflow: {message}")
    card.metrics = dict(run.data.metrics)
    card.params = dict(run.data.params)
    card.tags = dict(run.data.tags)
    trained_at = getattr(model, "trained_at", None)
    card.trained_at = str(trained_at) if trained_at else datetime.fromtimestamp(
        run.info.start_time / 1000, tz=timezone.utc
    ).strftime("%Y-%m-%d %H:%M UTC")
    card.images, card.tables = _card_artifacts(client, card.run_id)
    return card


def _card_artifacts(client, run_id: str) -> tuple[dict[str, bytes], dict[str, pd.DataFrame]]:
    wanted = []
    stack = [None]
    while stack:
        for item in client.list_artifacts(run_id, stack.pop()):
            if item.is_dir:
                # the logged model itself is large and says nothing a manager needs
                if not item.path.rsplit("/", 1)[-1] in ("model", "python_model", "artifacts"):
                    stack.append(item.path)
                continue
            wanted.append(item.path)
    images, tables = {}, {}
    quiet = {"MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}  # no progress bars in the report's output
    saved = {key: os.environ.get(key) for key in quiet}
    os.environ.update(quiet)
    try:
        _download_card_artifacts(run_id, wanted, images, tables)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return images, tables


def _download_card_artifacts(run_id: str, wanted: list[str], images: dict, tables: dict) -> None:
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(wanted):
            base = path.rsplit("/", 1)[-1].lower()
            is_image = base.endswith(".png") and any(word in base for word in _CARD_IMAGE_WORDS)
            is_table = base.endswith(".csv") and any(word in base for word in _CARD_TABLE_WORDS)
            if not (is_image or is_table):
                continue
            local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=tmp))
            if is_image:
                images[path] = local.read_bytes()
            else:
                tables[path] = pd.read_csv(local)


# The trainer logs the chosen model's out-of-time metrics as ``test_<metric>``.
CARD_METRICS = (
    ("test_roc_auc", "ROC AUC", "how well it ranks churners above the others: 0.5 is chance, 1 is perfect", 3),
    ("test_pr_auc", "PR AUC", "precision across recall levels; compare with the base churn rate", 3),
    ("test_lift_top10", "lift in the riskiest 10%", "how many times the average churn rate the top 10% show", 2),
    ("test_recall_top10", "churners found in the riskiest 10%", "share of all churners a top-10% call list reaches", 3),
    ("test_brier", "Brier score", "mean squared error of the probabilities: lower is better", 4),
    ("test_base_rate", "base churn rate", "share of accounts that churned within the horizon", 3),
    ("test_rows", "accounts × dates tested", "labelled rows of the out-of-time test", 0),
)

_MODEL_NAMES = {
    "lightgbm": "LightGBM (calibrated, the model in use)",
    "lightgbm_uncalibrated": "LightGBM before calibration",
    "logistic": "logistic regression baseline",
    "health_score": "the health score itself (100 − score)",
}


def _card_metric_rows(metrics: dict) -> list[dict]:
    rows = []
    for key, label, meaning, digits in CARD_METRICS:
        value = metrics.get(key)
        rows.append(
            {
                "measure": label,
                "value": format_value(value, digits=digits, reason="not logged by the trainer"),
                "how to read it": meaning,
            }
        )
    return rows


def _card_table(path: str, table: pd.DataFrame) -> dict:
    """An evaluation table of the run, with readable names and rounded numbers."""
    name = Path(path).stem
    frame = table.copy()
    if "model" in frame.columns:
        frame["model"] = frame["model"].map(lambda m: _MODEL_NAMES.get(m, m))
    if "churn_rate" in frame.columns:
        frame["churn_rate"] = [format_value(None if is_missing(v) else 100 * v, unit="%", reason="no account") for v in frame["churn_rate"]]
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    for column in numeric:
        frame[column] = [format_value(v, digits=0 if column in ("rows", "accounts", "churned") else 3, reason="undefined") for v in frame[column]]
    frame.columns = [str(c).replace("_", " ") for c in frame.columns]
    captions = {
        "comparison": "Every model compared on the same out-of-time test.",
        "churn_rate_by_health_band": "Churn rate by health band on the test dates: is red really riskier than green?",
        "churn_rate_by_risk_band": "Churn rate by the model's risk band on the test dates.",
    }
    return _table(f"model-{name}", frame, numeric=[str(c).replace("_", " ") for c in numeric] + ["churn rate"], caption=captions.get(name, path))


def _model_section(card: ModelCard) -> list[dict]:
    if card.reason and not card.run_id:
        return [_text(f"n/a ({card.reason})")]
    alias = f" ({card.alias})" if card.alias else ""
    tested = card.params.get("split.test_dates")
    blocks = [
        _text(
            f"Model {card.name or 'n/a'} version {card.version or 'n/a'}{alias}, trained {card.trained_at or 'n/a'}. "
            "The figures below were measured on the most recent dates the model never saw in training"
            + (f" ({tested})." if tested else "."),
            css="lead",
        )
    ]
    if card.metrics:
        blocks.append(_table("model-metrics", pd.DataFrame(_card_metric_rows(card.metrics)), numeric=("value",)))
    else:
        blocks.append(_text("n/a (the model's run logged no metrics)"))
    contrast = card.tags.get("health_band_contrast")
    if contrast:
        blocks.append(_text(f"Health bands on the test dates: {contrast}."))
    for path, png in card.images.items():
        base = path.rsplit("/", 1)[-1]
        reliability = "reliab" in base or "calibrat" in base
        label = (
            "Reliability: predicted churn risk against the churn that happened (on the diagonal = trustworthy)"
            if reliability
            else "Churn rate by band on the test dates"
        )
        blocks.append(_image_block(png, f"model-{Path(base).stem}", label, label))
    if not card.images:
        blocks.append(_text("n/a (the model's run logged no reliability or churn-by-band plot)"))
    order = ("comparison", "churn_rate_by_health_band", "churn_rate_by_risk_band")
    for path in sorted(card.tables, key=lambda p: order.index(Path(p).stem) if Path(p).stem in order else len(order)):
        blocks.append(_card_table(path, card.tables[path]))
    return blocks


# --- the report ------------------------------------------------------------------------


def _as_of(meta: dict, tables: Tables | None) -> pd.Timestamp | None:
    if meta.get("as_of"):
        stamp = pd.Timestamp(meta["as_of"])
        # the tables are naive UTC; a zoned as-of date is converted to match them
        return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp
    if tables is not None:
        from models.training_set import data_span

        return data_span(tables)[1]
    return None


def render_report(sections: list[dict], *, title: str, subtitle: str, footer: str) -> str:
    """Render sections (dicts of ``id``, ``title``, ``lead``, ``blocks``) to HTML text."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return environment.get_template("report.html.j2").render(
        sections=sections, title=title, subtitle=subtitle, footer=footer
    )


def build_report(
    scores_path: str | os.PathLike,
    *,
    tables: Tables | None = None,
    model: Any = None,
    out: str | os.PathLike,
    alerts_path: str | os.PathLike | None = None,
    months: int = 3,
    at_risk_limit: int = 25,
    tracking_uri: str | None = None,
    title: str = "Customer health report",
) -> Path:
    """Write the self-contained HTML health report.

    Parameters
    ----------
    scores_path
        Scores file from the batch job (Parquet or CSV); its sidecar ``.meta.json`` gives the
        as-of date and the model used.
    tables
        Validated input tables for the portfolio metrics and the trends; without them those
        sections say "n/a" and how to include them.
    model
        The model for the model card: a loaded model, a ``models:/`` URI, or None to use the
        model named in the scores' metadata (no card when there is none).
    out
        HTML file to write, atomically (a failed run leaves no partial file).
    alerts_path
        Alerts file; found next to ``scores_path`` when None.
    months
        Length of the headline period: the last ``months`` months before the as-of date,
        compared with the ``months`` before those.
    at_risk_limit
        How many of the highest churn risks (and of the worst-band accounts) to list.
    tracking_uri
        MLflow tracking URI for the model card; the current one when None.

    Returns
    -------
    Path
        The written report.

    Raises
    ------
    ReportError
        When the scores file is missing or is not a scores file.
    """
    scores, meta = read_scores(scores_path)
    as_of = _as_of(meta, tables)
    if tables is not None and "mrr" not in scores.columns:
        # Monthly revenue tells a manager which red account to call first.
        mrr = tables.accounts.set_index("account_id")["mrr"]
        scores = scores.assign(mrr=scores["account_id"].map(mrr))
    palette = band_palette(scores)
    if model is None:
        model = _model_from_meta(meta)
    no_tables = "portfolio metrics need the input tables: pass --metrics-from DIR"

    sections = []
    if tables is not None and as_of is not None:
        from features.period_metrics import period_metrics

        (start, end), (prev_start, prev_end) = report_period(as_of, months)
        current = period_metrics(tables, start, end)
        previous = period_metrics(tables, prev_start, prev_end)
        label = f"{start:%d %b %Y} – {end - pd.Timedelta(days=1):%d %b %Y}"
        headline = [{"kind": "cards", "cards": headline_cards(current, previous)}]
        lead = f"The last {months} month(s), {label}, compared with the {months} month(s) before."
    else:
        headline, lead = [_text(f"n/a ({no_tables})")], None
    sections.append({"id": "headline", "title": "Portfolio at a glance", "lead": lead, "blocks": headline})
    sections.append(
        {
            "id": "distribution",
            "title": "Health scores across the portfolio",
            "lead": "Each account's health score (0–100) and its band. Red accounts need attention now.",
            "blocks": _distribution_section(scores, palette),
        }
    )
    sections.append(
        {
            "id": "segments",
            "title": "Bands by segment",
            "lead": "Where the at-risk accounts are, by customer segment.",
            "blocks": _segments_section(scores, palette),
        }
    )
    sections.append(
        {
            "id": "at-risk",
            "title": "Accounts at risk",
            "lead": "Who to call this week, and why: the measures pulling the score down and what drives the churn risk.",
            "blocks": _at_risk_section(scores, palette, at_risk_limit),
        }
    )
    alerts_file = Path(alerts_path) if alerts_path else find_alerts(scores_path, meta)
    sections.append(
        {
            "id": "alerts",
            "title": "Alerts since the previous run",
            "lead": (
                "Accounts whose band got worse, that turned red, or whose churn risk rose sharply."
                if meta.get("previous") or not meta
                else "This run had no previous run to compare with (score with --previous), "
                "so every account in red is listed."
            ),
            "blocks": _alerts_section(
                read_alerts(alerts_file), "no alerts file next to the scores: run the batch job to write one"
            ),
        }
    )
    sections.append(
        {
            "id": "trends",
            "title": "NPS, CSAT and comment tone over time",
            "lead": "Monthly survey results and the tone of customers' comments.",
            "blocks": _trends_section(tables, as_of, months, no_tables),
        }
    )
    sections.append(
        {
            "id": "model",
            "title": "About the churn model",
            "lead": None,
            "blocks": _model_section(model_card(model, tracking_uri=tracking_uri)),
        }
    )

    subtitle = f"{len(scores):,} active accounts scored" + (f" as of {as_of:%d %b %Y}" if as_of is not None else "")
    footer = (
        f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by customer-health from {Path(scores_path).name}."
    )
    html = render_report(sections, title=title, subtitle=subtitle, footer=footer)

    def write(tmp: Path) -> None:
        tmp.write_text(html, encoding="utf-8")
        # mkstemp makes the file private; a report is meant to be shared like any other file.
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o666 & ~umask)

    return write_atomically(out, write)


def _model_from_meta(meta: dict) -> str | None:
    """A ``models:/`` URI for the model the scores' metadata names, if any."""
    model = meta.get("model")
    if not isinstance(model, dict):
        return None
    if model.get("name") and model.get("version"):
        return f"models:/{model['name']}/{model['version']}"
    uri = model.get("uri")
    return uri if isinstance(uri, str) and uri.startswith("models:/") else None
