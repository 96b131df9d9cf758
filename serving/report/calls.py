"""The report's call list: who to call and why, each account's recent scores, how past
lists did, and the portfolio's bands over the runs.

The runs are the scores files of the run folder (:func:`serving.scores_file.runs_folder`):
dated run folders, or files written side by side in the older layout; or, for a run read
from a database sink, the runs stored in it (:func:`serving.scores_db.read_recent`). Only
the last :data:`HISTORY_RUNS` runs are read, and only the columns the section shows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.values import is_missing
from serving import scores_db
from serving.alerts import as_call_list
from serving.metric_text import format_value
from serving.report.document import Block, Figure, Link, Table, Text
from serving.scores_file import ScoresFile, ScoresFileError, runs_folder, scores_files

#: How many runs the sparklines and the bands over time go back (18 weekly runs: a quarter
#: and a half, what customer-success tools show).
HISTORY_RUNS = 18
#: How many accounts of the call list the report shows; the file holds them all.
SHOWN_CALLS = 25
_RUN_COLUMNS = ("account_id", "health_score", "health_band", "churn_probability")


@dataclass(frozen=True)
class RunHistory:
    """The recent runs of a run folder.

    Attributes
    ----------
    scores : DataFrame
        ``as_of`` and :data:`_RUN_COLUMNS`, one row per account and run, oldest run first.
    listed : dict
        As-of date -> the account ids on that run's call list (runs with an alerts file).
    """

    scores: pd.DataFrame
    listed: dict[pd.Timestamp, set]

    @property
    def dates(self) -> list[pd.Timestamp]:
        return sorted(self.scores["as_of"].unique())


def _read_columns(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        present = [c for c in columns if c in pq.read_schema(path).names]
        return pd.read_parquet(path, columns=present)
    return pd.read_csv(path, usecols=lambda c: c in columns, dtype={"account_id": str})


def _as_of(path: Path) -> pd.Timestamp | None:
    meta = path.with_name(path.name + ".meta.json")
    try:
        return pd.Timestamp(json.loads(meta.read_text(encoding="utf-8"))["as_of"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def read_run_history(scores: ScoresFile, *, runs: int = HISTORY_RUNS) -> RunHistory:
    """The last ``runs`` runs up to this one, from the folder of its run.

    A run whose files cannot be read is left out (the history shows the others); a date
    scored twice keeps the file written last. A run read from a database sink has its
    history in the same database.
    """
    if scores.database is not None:
        rows, listed = scores_db.read_recent(scores.database, pd.Timestamp(scores.metadata["as_of"]),
                                             runs=runs, columns=_RUN_COLUMNS)
        return RunHistory(rows.assign(account_id=rows["account_id"].astype(str)), listed)
    found: dict[pd.Timestamp, Path] = {}
    this = _as_of(scores.path) or pd.Timestamp(scores.metadata.get("as_of", pd.Timestamp.max))
    for path in sorted(scores_files(runs_folder(scores.path)), key=lambda p: p.stat().st_mtime_ns):
        when = _as_of(path)
        if when is not None and when <= this:
            found[when] = path
    frames, listed = [], {}
    for when in sorted(found)[-runs:]:
        path = found[when]
        try:
            rows = _read_columns(path, _RUN_COLUMNS)
            calls = ScoresFile(rows, {}, path, _alerts_next_to(path)).alerts()
        except (OSError, ValueError, ScoresFileError):
            continue
        frames.append(rows.assign(as_of=when))
        if calls is not None:
            listed[when] = set(calls["account_id"].astype(str))
    columns = ["as_of", *_RUN_COLUMNS]
    history = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    history["account_id"] = history["account_id"].astype(str)
    return RunHistory(history.reindex(columns=columns), listed)


def _alerts_next_to(path: Path) -> Path | None:
    for ext in (".parquet", ".csv"):
        candidate = path.with_name(f"{path.stem}.alerts{ext}")
        if candidate.is_file():
            return candidate
    return None


# --- words and cells -----------------------------------------------------------------


def money(value, currency: str | None) -> str:
    """An amount of money with its currency, or n/a.

    >>> money(1234.5, "EUR"), money(None, "EUR"), money(80.0, None)
    ('1,234 EUR', 'n/a (unknown)', '80')
    """
    shown = format_value(value, digits=0, reason="unknown")
    return f"{shown} {currency}" if currency and not is_missing(value) else shown


def sparkline(scores: list[float], dates: list[pd.Timestamp]) -> dict:
    """A sparkline cell: the points of a 100 x 24 polyline (score 0-100, up is healthier).

    Missing scores are gaps between segments, never 0; the latest score is also a dot, so
    a score with no neighbour still shows.

    >>> cell = sparkline([40.0, None, 60.0], [pd.Timestamp("2026-01-01")] * 3)
    >>> cell["segments"], cell["runs"], cell["last"]
    (['0.0,14.4', '100.0,9.6'], 3, ('100.0', '9.6'))
    """
    n = len(scores)
    segments, current, last = [], [], None
    for i, value in enumerate(scores):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            if current:
                segments.append(" ".join(current))
            current = []
            continue
        x = 100 * i / (n - 1) if n > 1 else 50
        current.append(f"{x:.1f},{24 * (1 - float(value) / 100):.1f}")
        last = tuple(current[-1].split(","))
    if current:
        segments.append(" ".join(current))
    shown = [f"{v:.0f}" if not is_missing(v) else "n/a" for v in scores]
    span = f"{dates[0]:%d %b %Y} to {dates[-1]:%d %b %Y}" if dates else ""
    return {"segments": segments, "runs": n, "last": last,
            "title": f"health score over {n} run(s), {span}: " + " → ".join(shown)}


def _sparklines(history: RunHistory, accounts: list[str]) -> dict[str, dict]:
    if history.scores.empty:
        return {}
    wide = history.scores.pivot_table(index="account_id", columns="as_of", values="health_score",
                                      aggfunc="last", dropna=False)
    wide = wide.reindex(columns=history.dates)
    dates = list(wide.columns)
    return {account: sparkline([None if np.isnan(v) else float(v) for v in wide.loc[account]], dates)
            for account in accounts if account in wide.index}


# --- blocks --------------------------------------------------------------------------


def call_list_blocks(
    alerts: pd.DataFrame | None, history: RunHistory, palette: dict[str, str], *,
    currency: str | None, alerts_href: str | None, shown: int = SHOWN_CALLS,
    alerts_where: str | None = None,
) -> list[Block]:
    """The call list section: the most urgent accounts, their reasons and their recent scores.

    The whole list is linked (``alerts_href``, a file) or named (``alerts_where``, a
    database table, which a page cannot link to).
    """
    if alerts is None:
        return [Text("n/a (no call list next to the scores: run `customer-health score` to write one)")]
    calls = as_call_list(alerts)
    if calls.empty:
        return [Text("Nobody to call: no account got worse since the previous run.")]
    top = calls.head(shown)
    sparks = _sparklines(history, top["account_id"].astype(str).tolist())
    rows = []
    for record in top.to_dict(orient="records"):
        account = str(record["account_id"])
        owner = record.get("owner")
        band = record.get("health_band")
        rows.append({
            "#": str(record["rank"]),
            "account": account + ("" if is_missing(owner) else f" · {owner}"),
            "segment": "" if is_missing(record.get("segment")) else str(record["segment"]),
            "at stake / month": money(record.get("revenue_at_stake"), currency),
            "churn risk": format_value(None if is_missing(record.get("churn_probability"))
                                       else 100 * record["churn_probability"], unit="%", digits=0,
                                       reason="no model score"),
            "health": {"band": f"{format_value(record['health_score'], digits=0, reason='too little data')}"
                               f" {band}", "color": palette.get(band, "#9aa5b1")},
            "last runs": sparks.get(account, {"segments": [], "runs": 0, "last": None,
                                              "title": "no earlier run"}),
            "why call": str(record["reasons"]).split("; "),
            "top drivers": [t for t in str(record.get("top_drivers") or "").split("; ") if t],
        })
    counted = ", ".join(f"{n:,} {_RULE_WORDS.get(rule, rule)}" for rule, n in _rule_counts(calls).items())
    caption = (f"The {len(top)} most urgent of {len(calls):,} accounts to call ({counted}), by "
               "monthly revenue at stake (churn risk × monthly revenue), then churn risk, then "
               "the lowest health score.")
    blocks: list[Block] = [Table.from_frame("call-list", pd.DataFrame(rows),
                                            numeric=("#", "at stake / month", "churn risk"),
                                            caption=caption)]
    if alerts_href:
        blocks.append(Link(alerts_href, f"The whole call list ({len(calls):,} accounts, every "
                                        "reason and driver): " + Path(alerts_href).name))
    elif alerts_where:
        blocks.append(Text(f"The whole call list ({len(calls):,} accounts, every reason and "
                           f"driver): {alerts_where}."))
    return blocks


_RULE_WORDS = {"entered_red": "into red", "band_worse": "band worse", "risk_rose": "risk jumped",
               "lost_score": "fell to too little data"}


def _rule_counts(calls: pd.DataFrame) -> dict[str, int]:
    codes = calls["rules"].astype(str).str.split().explode()
    return {rule: int(n) for rule, n in codes.value_counts().items()}


def past_outcomes(history: RunHistory, churned_at: pd.Series, as_of: pd.Timestamp,
                  horizon_days: int) -> list[Block]:
    """How earlier call lists did: the churn rate of the accounts listed, against the others.

    Only runs whose horizon has passed (``run + horizon <= as_of``) count; an account
    churned when ``churned_at`` falls in ``[run, run + horizon)``. The accounts a list left
    out are split in two: those already red (listed on an earlier run, when they turned red)
    and the rest. Lumped together they mislead: where churn is a lapse in ordering, the
    accounts long red are the ones whose lapse completes within the horizon, while an account
    that has just turned red cannot have lapsed yet.
    """
    horizon = pd.Timedelta(days=horizon_days)
    done = [when for when in history.dates if when in history.listed and when + horizon <= as_of]
    if not done:
        waiting = [when for when in history.dates if when in history.listed and when < as_of]
        first = f"; the first is known on {min(waiting) + horizon:%d %b %Y}" if waiting else ""
        return [Text(f"n/a (no earlier call list is {horizon_days} days old yet, so no outcome is "
                     f"known{first})")]
    rows, groups = [], {name: [] for name in _OUTCOME_GROUPS}
    for when in done:
        run = history.scores.loc[history.scores["as_of"] == when]
        ends = churned_at.reindex(run["account_id"].to_numpy())
        churned = ((ends >= when) & (ends < when + horizon)).to_numpy()
        on_list = run["account_id"].isin(history.listed[when]).to_numpy()
        red = (run["health_band"] == "red").to_numpy() & ~on_list
        split = dict(zip(_OUTCOME_GROUPS, (churned[on_list], churned[red], churned[~on_list & ~red]),
                         strict=True))
        for name, values in split.items():
            groups[name].append(values)
        rows.append(_outcome_row(f"{when:%d %b %Y}", split))
    if len(rows) > 1:  # one list is a small sample: all of them together say more
        rows.append(_outcome_row(f"all {len(rows)} lists",
                                 {name: np.concatenate(values) for name, values in groups.items()}))
    caption = (f"Churn within {horizon_days} days of each earlier list: among the accounts it "
               "listed, among the accounts already red that day (listed when they turned red), "
               "and among the other accounts scored that day.")
    return [Table.from_frame("past-lists", pd.DataFrame(rows), numeric=tuple(rows[0])[1:],
                             caption=caption)]


#: The groups of accounts scored on an earlier list's day, as the past-lists table heads them.
_OUTCOME_GROUPS = ("listed: churned", "already red: churned", "the rest: churned")


def _outcome_row(label: str, groups: dict[str, np.ndarray]) -> dict:
    return {"list of": label} | {name: _rate(churned) for name, churned in groups.items()}


def _rate(churned: np.ndarray) -> str:
    if len(churned) == 0:
        return "n/a (no account)"
    return f"{100 * churned.mean():.0f}% ({int(churned.sum()):,} of {len(churned):,})"


def bands_over_time(history: RunHistory, palette: dict[str, str]) -> list[Block]:
    """The share of accounts in each band at each run, or n/a with fewer than two runs."""
    from serving.report.document import BandsOverTime

    dates = history.dates
    if len(dates) < 2:
        return [Text(f"n/a (the band shares over time need two runs or more in the run folder; "
                     f"found {len(dates)}: score into a folder, --out runs/)")]
    counts = pd.crosstab(history.scores["as_of"], history.scores["health_band"])
    shares = counts.div(counts.sum(axis=1), axis=0) * 100
    bands = [b for b in palette if b in shares.columns] + [b for b in shares.columns if b not in palette]
    chart = BandsOverTime(list(shares.index), {b: shares[b].astype(float).tolist() for b in bands},
                          {b: palette.get(b, "#9aa5b1") for b in bands})
    return [Figure("bands-over-time", "Share of accounts in each band at each run",
                   f"Share of the accounts in each band at each of the last {len(dates)} runs.", chart)]


def relative_href(target: str | os.PathLike | None, page: str | os.PathLike) -> str | None:
    """``target`` as a link relative to the folder of ``page`` (None when no target)."""
    if target is None:
        return None
    return Path(os.path.relpath(Path(target).resolve(), Path(page).resolve().parent)).as_posix()
