"""Reading and writing table folders, and the mapping file.

A folder holds one CSV or Parquet file per table, named after the table
(``accounts.csv``, ``sessions.parquet``, ...). The optional mapping file (TOML) lets users
keep their own file and column names and declare survey scales::

    [tables.accounts]
    file = "customers.csv"                   # default: accounts.csv or accounts.parquet
    columns = { account_id = "CustomerID", signup_date = "Created" }

    [surveys.csat]
    low = 1
    high = 10
    satisfied_at = 9                         # default: top 20% of the scale

    [surveys.ces]
    higher_is_better = false                 # the source asks 1 = very easy

This is the only module of ``features/`` that touches files.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from pyarrow import ArrowException

from features.contract import (
    ALL_COLUMNS,
    ID_COLUMNS,
    SURVEY_TYPES,
    TABLE_NAMES,
    TEXT_COLUMNS,
    SurveyScale,
    SurveyScales,
    Tables,
    validate_tables,
)
from features.problems import DataContractError, Problem, ValidationReport, visible

FORMATS = ("csv", "parquet")


class MappingError(ValueError):
    """The mapping file is malformed; the message names the key and the allowed values."""


@dataclass(frozen=True)
class Mapping:
    """Where each table lives and what its columns are called, plus survey scales."""

    files: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)  # table -> canonical -> source
    scales: SurveyScales = field(default_factory=SurveyScales)

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Mapping":
        """Read and check a mapping file."""
        path = Path(path)
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MappingError(f"mapping file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise MappingError(f"mapping file {path} is not valid TOML: {exc}") from None
        return cls.from_dict(document, source=str(path))

    @classmethod
    def from_dict(cls, document: dict, *, source: str = "mapping") -> "Mapping":
        unknown = set(document) - {"tables", "surveys"}
        if unknown:
            raise MappingError(
                f"{source}: unknown top-level key(s) {sorted(unknown)}; allowed: tables, surveys"
            )
        files, columns = {}, {}
        for table, spec in document.get("tables", {}).items():
            if table not in TABLE_NAMES:
                raise MappingError(
                    f"{source}: [tables.{table}] is not a table; allowed: {', '.join(TABLE_NAMES)}"
                )
            extra = set(spec) - {"file", "columns"}
            if extra:
                raise MappingError(
                    f"{source}: [tables.{table}] has unknown key(s) {sorted(extra)}; allowed: file, columns"
                )
            if "file" in spec:
                files[table] = str(spec["file"])
            renames = dict(spec.get("columns", {}))
            bad = set(renames) - set(ALL_COLUMNS[table])
            if bad:
                raise MappingError(
                    f"{source}: tables.{table}.columns maps unknown column(s) {sorted(bad)}; "
                    f"the {table} columns are: {', '.join(ALL_COLUMNS[table])}"
                )
            columns[table] = {k: str(v) for k, v in renames.items()}
        scales = {}
        for survey, spec in document.get("surveys", {}).items():
            if survey not in SURVEY_TYPES:
                raise MappingError(
                    f"{source}: [surveys.{survey}] is not a survey type; allowed: csat, nps, ces"
                )
            default = getattr(SurveyScales(), survey)
            extra = set(spec) - {"low", "high", "satisfied_at", "higher_is_better"}
            if extra:
                raise MappingError(
                    f"{source}: [surveys.{survey}] has unknown key(s) {sorted(extra)}; "
                    "allowed: low, high, satisfied_at, higher_is_better"
                )
            if survey != "csat" and "satisfied_at" in spec:
                raise MappingError(f"{source}: surveys.{survey}.satisfied_at applies to csat only")
            low, high = spec.get("low", default.low), spec.get("high", default.high)
            satisfied_at = spec.get(
                "satisfied_at", default.satisfied_at if (low, high) == (default.low, default.high) else None
            )
            try:
                scales[survey] = SurveyScale(
                    int(low), int(high), satisfied_at, bool(spec.get("higher_is_better", True))
                )
            except ValueError as exc:
                raise MappingError(f"{source}: [surveys.{survey}] {exc}") from None
        return cls(files, columns, SurveyScales(**scales))

    def source_name(self, table: str, column: str) -> str:
        return self.columns.get(table, {}).get(column, column)


def _find_file(folder: Path, table: str, mapping: Mapping) -> Path | None:
    if table in mapping.files:
        path = folder / mapping.files[table]
        if not path.exists():
            raise DataContractError([Problem(
                "error", table, None, "missing_file", f"mapped file {path} does not exist",
                "correct tables.{table}.file in the mapping file".format(table=table),
            )])
        return path
    found = [folder / f"{table}.{ext}" for ext in FORMATS if (folder / f"{table}.{ext}").exists()]
    if len(found) > 1:
        raise DataContractError([Problem(
            "error", table, None, "ambiguous_file",
            f"both {found[0].name} and {found[1].name} exist", "keep one of them",
        )])
    return found[0] if found else None


def read_table(path: Path, table: str, mapping: Mapping | None = None) -> pd.DataFrame:
    """Read one table file and rename its columns to the canonical names.

    Raises
    ------
    DataContractError
        When the file cannot be read (empty, cut off, not UTF-8, a broken quote, not
        Parquet); the problem names the file, the row where it applies and the fix.
    """
    mapping = mapping or Mapping()
    renames = {mapping.source_name(table, c): c for c in ALL_COLUMNS[table]}
    if path.suffix not in (".parquet", ".csv"):
        raise DataContractError([Problem(
            "error", table, None, "format", f"{visible(path.name)} is neither CSV nor Parquet",
            "save the table as .csv or .parquet",
        )])
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            # Keys and text stay text: "00123" is an id, not the number 123.
            as_text = [mapping.source_name(table, c)
                       for c in ID_COLUMNS[table] + TEXT_COLUMNS.get(table, ())]
            frame = pd.read_csv(path, dtype={c: str for c in as_text}, keep_default_na=True)
    except (ValueError, OSError, ArrowException) as exc:
        raise DataContractError([unreadable_file(path, table, exc)]) from None
    return frame.rename(columns=renames)


def unreadable_file(path: Path, table: str, exc: BaseException) -> Problem:
    """The problem of a table file that cannot be read, with the row where it applies."""
    name = visible(str(path))
    if path.suffix == ".parquet":
        return Problem(
            "error", table, None, "unreadable_file",
            f"{name} is not a readable Parquet file: it is cut off or corrupt",
            "write the file again from its source; a copy or download may have been interrupted",
        )
    if isinstance(exc, pd.errors.EmptyDataError):
        return Problem(
            "error", table, None, "empty_file", f"{name} is empty: not even a header row",
            f"write the header row of the {table} columns (and the data), or remove the file",
        )
    if isinstance(exc, UnicodeDecodeError):
        return _not_utf8(path, table)
    detail = str(exc).removeprefix("Error tokenizing data. C error: ")
    unterminated = re.search(r"EOF inside string starting at row (\d+)", detail)
    if unterminated:
        # pandas counts lines from 0 with the header as line 0, i.e. data rows from 1.
        row = int(unterminated.group(1))
        return Problem(
            "error", table, None, "unterminated_quote",
            f"{name}: a quoted value opened at row {row} (line {row + 1}) is never closed, "
            "so the rest of the file would be read as one value",
            'close the quote, or double a quote that belongs to the value ("")',
        )
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", detail)
    if fields:
        expected, line, saw = (int(g) for g in fields.groups())
        return Problem(
            "error", table, None, "csv_fields",
            f"{name}: row {line - 1} (line {line}) has {saw} fields, the header {expected}",
            "quote values that contain commas, or remove the extra separators",
        )
    return Problem(
        "error", table, None, "unreadable_file", f"{name} cannot be read as CSV: {visible(detail)}",
        "save the table as comma-separated UTF-8 CSV with one header row",
    )


def _not_utf8(path: Path, table: str) -> Problem:
    data = path.read_bytes()
    name = visible(str(path))
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return Problem(
            "error", table, None, "encoding", f"{name} is UTF-16 encoded, not UTF-8",
            "save it as CSV UTF-8 (in Excel: Save As > CSV UTF-8), or convert it: "
            f"iconv -f UTF-16 -t UTF-8 {path.name} > converted.csv",
        )
    try:
        data.decode("utf-8")
        position = len(data)
    except UnicodeDecodeError as exc:
        position = exc.start
    line = data.count(b"\n", 0, position) + 1
    where = "the header (line 1)" if line == 1 else f"row {line - 1} (line {line})"
    return Problem(
        "error", table, None, "encoding",
        f"{name} is not UTF-8: byte 0x{data[position:position + 1].hex() or '??'} in {where}",
        "save it as CSV UTF-8, or convert it, e.g. from Windows-1252: "
        f"iconv -f WINDOWS-1252 -t UTF-8 {path.name} > converted.csv",
    )


def read_folder(folder: str | os.PathLike, mapping: Mapping | None = None) -> dict[str, pd.DataFrame]:
    """Read every table file of a folder, canonical column names, no validation yet."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataContractError([Problem(
            "error", "accounts", None, "missing_folder", f"{folder} is not a folder",
            "give the folder that holds accounts.csv (or .parquet) and the other tables",
        )])
    mapping = mapping or Mapping()
    raw, problems = {}, []
    for table in TABLE_NAMES:
        try:
            path = _find_file(folder, table, mapping)
            if path is not None:
                raw[table] = read_table(path, table, mapping)
        except DataContractError as exc:  # every unreadable file is named in one pass
            problems += exc.problems
    if problems:
        raise DataContractError(problems)
    return raw


def load_tables(
    folder: str | os.PathLike, mapping: Mapping | str | os.PathLike | None = None
) -> tuple[Tables, ValidationReport]:
    """Read and validate a folder of tables.

    Raises
    ------
    DataContractError
        With every problem found; nothing downstream runs on invalid data.
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.read(mapping)
    mapping = mapping or Mapping()
    return validate_tables(read_folder(folder, mapping), scales=mapping.scales)


def file_mode() -> int:
    """The permissions a new file gets under the process umask (0o644 under umask 022).

    Read from ``/proc/self/status`` where the system has it, so the umask is never changed,
    even for an instant.
    """
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomically(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` and move the result into place only when it succeeded.

    A failure or interruption leaves no partial file at ``path``. The file gets the
    permissions the umask allows, like any other new file (a temporary file starts private).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_frame(frame: pd.DataFrame, path: str | os.PathLike, fmt: str | None = None) -> Path:
    """Write one table as CSV or Parquet (by ``fmt`` or the file suffix), atomically."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")

    def write(tmp: Path) -> None:
        if fmt == "csv":
            frame.to_csv(tmp, index=False, date_format="%Y-%m-%dT%H:%M:%S")
        else:
            frame.to_parquet(tmp, index=False)

    return write_atomically(path, write)


def write_tables(frames: dict[str, pd.DataFrame], folder: str | os.PathLike, fmt: str = "csv") -> list[Path]:
    """Write tables as ``<folder>/<table>.<fmt>``, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return [write_frame(frame, folder / f"{name}.{fmt}", fmt) for name, frame in frames.items()]
