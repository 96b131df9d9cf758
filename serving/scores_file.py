"""The scores file of a batch run: its one format, one writer and one reader.

A run writing to ``<out>`` leaves three files, switched as one unit
(:mod:`serving.output_set`):

* ``<out>``: one row per active account (Parquet or CSV, by suffix); the Parquet schema
  metadata carries the run metadata under ``customer_health``;
* ``<stem>.alerts.<fmt>`` next to it: the call-to-action list;
* ``<out>.meta.json``: the run metadata.

``account_id`` is always text, also when a CSV id looks like a number (``00123``).
Driver columns hold JSON lists (:func:`features.values.json_list`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import ArrowException

from features.io import FORMATS
from features.problems import visible
from serving.output_set import recover, write_set

if TYPE_CHECKING:
    from serving.scores_db import DatabaseSink

METADATA_KEY = b"customer_health"
FORMATS_SUFFIXES = tuple(f".{fmt}" for fmt in FORMATS)
#: The columns every scores file starts with, in this order.
SCORE_COLUMNS = (
    "account_id", "as_of", "segment", "health_score", "health_band", "health_color",
    "health_coverage", "health_trend", "health_delta", "churn_probability", "risk_band",
    "churn_coverage", "health_drivers", "churn_drivers",
)
#: What a reader needs of a scores file (a previous run, a report's input).
REQUIRED_COLUMNS = ("account_id", "health_score", "health_band")
RISKIEST = 20


class ScoresFileError(ValueError):
    """A scores file that cannot be used; the message names the file and the fix."""


@dataclass(frozen=True)
class ScoresFile:
    """A run as read back: the rows, the run metadata and where the alerts are.

    A run read from a database sink (:func:`serving.scores_db.read_run`) has no ``path``
    but its ``database``.
    """

    scores: pd.DataFrame
    metadata: dict[str, Any]
    path: Path | None
    alerts_path: Path | None = None
    database: DatabaseSink | None = None

    def alerts(self) -> pd.DataFrame | None:
        """The run's alerts, or None when no alerts file lies next to the scores."""
        return None if self.alerts_path is None else _read_frame(self.alerts_path)

    @property
    def name(self) -> str:
        """The run as people read its source: the file's name, or the database and table."""
        return str(self.database) if self.database is not None else self.path.name


@dataclass(frozen=True)
class OutputPaths:
    """The format and the three files of a run writing to ``scores``.

    ``dated`` runs live in a folder of their own, ``<runs>/<YYYY-MM-DD>/``, so that every
    night adds to the history instead of replacing the last run.
    """

    fmt: str
    scores: Path
    alerts: Path
    metadata: Path
    dated: bool = False

    def as_dict(self) -> dict[str, Path]:
        return {"scores": self.scores, "alerts": self.alerts, "metadata": self.metadata}

    @property
    def runs(self) -> Path:
        """The folder of all runs: the parent of the dated folders, else the run's own."""
        return self.scores.parent.parent if self.dated else self.scores.parent


#: The scores file's name inside a dated run folder (``runs/2026-06-30/scores.parquet``).
DATED_STEM = "scores"


def is_runs_folder(out: str | os.PathLike) -> bool:
    """Whether ``--out`` names a folder of dated runs rather than one scores file.

    A path with no file suffix, or an existing folder, is a folder of runs.
    """
    out = Path(out)
    return out.is_dir() or not out.suffix


def output_paths(
    out: str | os.PathLike, fmt: str | None = None, as_of: pd.Timestamp | None = None
) -> OutputPaths:
    """The format and the three files of a run writing to ``out``.

    ``out`` is a scores file, or a folder of runs (:func:`is_runs_folder`): then the run
    goes to ``<out>/<as_of YYYY-MM-DD>/scores.<fmt>`` (Parquet unless ``fmt`` says CSV).

    Raises
    ------
    ScoresFileError
        When neither ``fmt`` nor the suffix of ``out`` names parquet or csv, or a folder
        of runs is given without the as-of date.

    Examples
    --------
    >>> paths = output_paths("runs/scores.parquet")
    >>> paths.fmt, paths.alerts.name, paths.metadata.name
    ('parquet', 'scores.alerts.parquet', 'scores.parquet.meta.json')
    >>> str(output_paths("runs", as_of=pd.Timestamp("2026-06-30")).scores)
    'runs/2026-06-30/scores.parquet'
    """
    out = Path(out)
    dated = is_runs_folder(out)
    if dated:
        if as_of is None:
            raise ScoresFileError(f"--out {out} is a folder of runs: it needs the as-of date")
        fmt = fmt or "parquet"
        out = out / f"{as_of:%Y-%m-%d}" / f"{DATED_STEM}.{fmt}"
    fmt = fmt or out.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ScoresFileError(
            f"cannot tell the output format of {out.name}: use a .parquet or .csv name, "
            "a folder for dated runs, or --format parquet|csv"
        )
    return OutputPaths(
        fmt=fmt,
        scores=out,
        alerts=out.with_name(f"{out.stem}.alerts.{fmt}"),
        metadata=out.with_name(out.name + ".meta.json"),
        dated=dated,
    )


# --- writing -------------------------------------------------------------------------


# A spreadsheet runs a cell that starts with one of these as a formula ("=HYPERLINK(...)").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as a formula, prefixed with ``'``.

    Only text columns change: numbers such as -0.5 stay numbers.
    :func:`restore_formulas` undoes it when the file is read back.

    Examples
    --------
    >>> frame = pd.DataFrame({"account_id": ["=1+1", "-7", "A1"], "delta": [-1.5, 2.0, 0.0]})
    >>> neutralise_formulas(frame).values.tolist()
    [["'=1+1", -1.5], ["'-7", 2.0], ['A1', 0.0]]
    """
    text = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
    return frame.assign(**{c: frame[c].map(_quote) for c in text}) if text else frame


def _quote(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def restore_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Undo :func:`neutralise_formulas` on a CSV read back."""
    def unquote(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("'") and value[1:2] and value[1] in "=+-@\t\r":
            return value[1:]
        return value

    text = [c for c in frame.columns if frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c])]
    return frame.assign(**{c: frame[c].map(unquote) for c in text}) if text else frame


def _frame_writer(frame: pd.DataFrame, fmt: str, meta: dict[str, Any]) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        if fmt == "csv":
            neutralise_formulas(frame).to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S")
            return
        table = pa.Table.from_pandas(frame, preserve_index=False)
        schema_meta = dict(table.schema.metadata or {})
        schema_meta[METADATA_KEY] = json.dumps(meta, sort_keys=True).encode()
        pq.write_table(table.replace_schema_metadata(schema_meta), tmp)

    return write


def write_scores(
    scores: pd.DataFrame, alerts: pd.DataFrame, meta: dict[str, Any], paths: OutputPaths
) -> dict[str, Any]:
    """Write scores, alerts and metadata as one unit (:mod:`serving.output_set`).

    The metadata written gains ``format``, ``output`` and ``alerts_file``. CSV text cells
    that a spreadsheet would run as formulas are neutralised; Parquet keeps them as is.
    """
    meta = dict(meta, format=paths.fmt, output=str(paths.scores), alerts_file=str(paths.alerts))

    def write_meta(tmp: Path) -> None:
        tmp.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n", encoding="utf-8")

    write_set([
        (paths.scores, _frame_writer(scores, paths.fmt, meta)),
        (paths.alerts, _frame_writer(alerts, paths.fmt, meta)),
        (paths.metadata, write_meta),
    ])
    return meta


# --- reading -------------------------------------------------------------------------


def _read_frame(path: Path) -> pd.DataFrame:
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        if path.suffix == ".csv":
            return restore_formulas(pd.read_csv(path, dtype={"account_id": str}))
    except (ValueError, OSError, ArrowException) as exc:
        raise ScoresFileError(
            f"{visible(str(path))} cannot be read ({visible(str(exc).splitlines()[0])}): it is "
            "cut off or corrupt; give another run, or score that date again"
        ) from None
    raise ScoresFileError(
        f"{path.name} is neither .parquet nor .csv; give an output of `customer-health score`"
    )


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The run metadata stored in a Parquet scores file's schema metadata."""
    stored = pq.read_schema(path).metadata or {}
    if METADATA_KEY not in stored:
        raise ScoresFileError(f"{path} carries no customer-health run metadata")
    return json.loads(stored[METADATA_KEY])


def _sidecar_metadata(path: Path) -> dict[str, Any]:
    for candidate in (path.with_name(path.name + ".meta.json"), path.with_suffix(".meta.json")):
        if candidate.is_file():
            try:
                return json.loads(candidate.read_text(encoding="utf-8"))
            except ValueError:
                raise ScoresFileError(
                    f"{candidate} is not valid JSON: it is cut off or corrupt; "
                    "score that date again"
                ) from None
    return {}


def _find_alerts(path: Path, meta: dict[str, Any]) -> Path | None:
    """The alerts file next to ``path``: named in the metadata, else ``<stem>.alerts.<ext>``."""
    named = meta.get("alerts_file")
    if isinstance(named, str):
        candidate = Path(named)
        if not candidate.is_absolute() and not candidate.is_file():
            candidate = path.parent / candidate.name
        if candidate.is_file():
            return candidate
    for ext in (".parquet", ".csv"):
        candidate = path.with_name(f"{path.stem}.alerts{ext}")
        if candidate.is_file():
            return candidate
    return None


def read_scores(
    path: str | os.PathLike, *, required: tuple[str, ...] = REQUIRED_COLUMNS, what: str = "scores file"
) -> ScoresFile:
    """Read a scores file written by ``customer-health score``, with its run metadata.

    Parameters
    ----------
    path : path
        The ``.parquet`` or ``.csv`` scores file.
    required : tuple of str
        Columns the caller needs; a file without them is refused.
    what : str
        How the file is named in messages (``"previous scores file"``).

    Raises
    ------
    ScoresFileError
        When the file is missing, of another format, or lacks a required column.
    """
    path = Path(path)
    try:
        recover(path)  # a run killed between its renames is completed, never read half-switched
    except OSError as exc:
        raise ScoresFileError(
            f"{what} {path} belongs to a run that was interrupted while switching its files, "
            f"and it cannot be completed from here ({exc}); run `customer-health score` again"
        ) from None
    if not path.is_file():
        raise ScoresFileError(
            f"{what} {path} does not exist; write one with "
            "`customer-health score DIR --as-of DATE --out FILE` first"
        )
    scores = _read_frame(path)
    if "account_id" not in scores.columns and scores.index.name == "account_id":
        scores = scores.reset_index()
    missing = [column for column in required if column not in scores.columns]
    if missing:
        raise ScoresFileError(
            f"{what} {path} lacks column(s) {missing}; give an output of "
            "`customer-health score`, which writes them"
        )
    meta = _sidecar_metadata(path)
    return ScoresFile(scores, meta, path, _find_alerts(path, meta))


def _meta_files(folder: Path, pattern: str) -> list[Path]:
    """Run metadata files in ``folder`` and in its dated run folders (one level down)."""
    return [*folder.glob(pattern), *folder.glob(f"*/{pattern}")]


def latest_run(folder: Path, *, before: pd.Timestamp, fmt: str) -> Path | None:
    """The scores file of the latest run in ``folder`` scored as of a date before ``before``.

    Runs written straight into ``folder`` and runs in its dated folders both count.

    Runs are recognised by their metadata file (``<scores>.meta.json``); ones that cannot
    be read are passed over (the reader names them when they are given explicitly).
    """
    found = latest_run_as_of(folder, before=before, fmt=fmt)
    return None if found is None else found[1]


def latest_run_as_of(folder: Path, *, before: pd.Timestamp, fmt: str) -> tuple[pd.Timestamp, Path] | None:
    """:func:`latest_run` with its as-of date."""
    best: tuple[pd.Timestamp, Path] | None = None
    for meta_file in _meta_files(Path(folder), f"*.{fmt}.meta.json"):
        scores = meta_file.with_name(meta_file.name.removesuffix(".meta.json"))
        try:
            as_of = pd.Timestamp(json.loads(meta_file.read_text(encoding="utf-8"))["as_of"])
        except (ValueError, KeyError, TypeError, OSError):
            continue
        # A Spark run's scores are a folder of Parquet parts (--engine spark).
        if as_of < before and scores.exists() and (best is None or as_of > best[0]):
            best = (as_of, scores)
    return best


# --- the runs of a folder ------------------------------------------------------------


def is_scores_file(path: Path) -> bool:
    """Whether ``path`` is a scores file of a run (not its alerts, not another table).

    A run's scores file carries its metadata: in the Parquet schema, or in the
    ``.meta.json`` next to a CSV.
    """
    if path.suffix not in FORMATS_SUFFIXES or path.stem.endswith(".alerts"):
        return False
    if path.suffix == ".parquet":
        try:
            return METADATA_KEY in (pq.read_schema(path).metadata or {})
        except (OSError, pa.ArrowInvalid):
            return False
    return bool(_sidecar_metadata(path))


def scores_files(folder: str | os.PathLike) -> list[Path]:
    """The scores files of the runs written into ``folder`` or its dated run folders."""
    folder = Path(folder)
    candidates = [*folder.iterdir(), *(p for sub in folder.iterdir() if sub.is_dir() for p in sub.iterdir())]
    return sorted(p for p in candidates if p.is_file() and is_scores_file(p))


def runs_folder(scores: str | os.PathLike) -> Path:
    """The folder holding every run of the one whose scores file is ``scores``.

    A dated run (``runs/2026-06-30/scores.parquet``) belongs to ``runs``; a scores file
    written straight into a folder (the older layout) belongs to that folder.
    """
    scores = Path(scores)
    parent = scores.parent
    try:
        pd.Timestamp(parent.name)
        dated = len(parent.name) == 10 and scores.stem == DATED_STEM
    except ValueError:
        dated = False
    return parent.parent if dated else parent


def read_account(path: str | os.PathLike, account_id: str) -> pd.DataFrame:
    """The rows of one account in a scores file (Parquet reads only the matching rows)."""
    path = Path(path)
    if path.suffix == ".parquet":
        rows = pq.read_table(path, filters=[("account_id", "=", account_id)]).to_pandas()
    else:
        frame = _read_frame(path)
        rows = frame[frame["account_id"] == account_id]
    if "as_of" in rows:
        rows = rows.assign(as_of=pd.to_datetime(rows["as_of"]))
    return rows.reset_index(drop=True)


# --- selecting and reading rows -------------------------------------------------------


def drivers_text(row: pd.Series) -> str:
    """A row's drivers in words: the churn drivers when a model scored it, else the health's.

    Examples
    --------
    >>> drivers_text(pd.Series({"churn_drivers": None,
    ...                         "health_drivers": '[{"text": "CSAT fell"}]'}))
    'CSAT fell'
    """
    for column in ("churn_drivers", "health_drivers"):
        raw = row.get(column)
        if isinstance(raw, str) and raw:
            texts = [d.get("text", "") for d in json.loads(raw)]
            if texts:
                return "; ".join(texts)
    return ""


def riskiest(scores: pd.DataFrame, n: int = RISKIEST) -> pd.DataFrame:
    """The ``n`` riskiest accounts: highest churn probability, else lowest health score.

    Ties are broken by ``account_id`` so that the list is the same on every run.

    Examples
    --------
    >>> scores = pd.DataFrame({"account_id": ["a", "b", "c"], "health_score": [40.0, 20.0, None],
    ...                        "churn_probability": [None, None, None]})
    >>> riskiest(scores, 2)["account_id"].tolist()
    ['b', 'a']
    """
    has_churn = "churn_probability" in scores.columns and scores["churn_probability"].notna().any()
    if has_churn:
        order = scores.sort_values(
            ["churn_probability", "account_id"], ascending=[False, True], na_position="last"
        )
    else:
        order = scores.sort_values(["health_score", "account_id"], na_position="last")
    return order.head(n)
