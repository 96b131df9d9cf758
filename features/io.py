"""Reading the input tables through the mapping file, and writing files atomically.

A folder holds one CSV or Parquet file per table, named after the table
(``accounts.csv``, ``sessions.parquet``, ...). The mapping file (:mod:`features.mapping`)
can name other files and columns, give a table as SQL over the folder's files (DuckDB) or
read it from a database (:mod:`features.sql_sources`). Whatever the source, the frames go
through the same renaming and the same contract validation (:func:`load_tables`).

With :mod:`features.sql_sources` (which it calls), this is the only module of ``features/``
that reads files or databases.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import re
import tempfile
from pathlib import Path

import pandas as pd
from pyarrow import ArrowException
from sqlalchemy.engine import URL

from features.churn_definition import apply_churn_definition
from features.contract import (
    ID_COLUMNS,
    TABLE_NAMES,
    TEXT_COLUMNS,
    Tables,
    validate_tables,
)
from features.db_url import first_line, mask
from features.mapping import Mapping
from features.problems import DataContractError, Problem, ValidationReport, visible
from features.sql_sources import query_folder, read_database

FORMATS = ("csv", "parquet")


def _find_file(folder: Path, table: str, mapping: Mapping) -> Path | None:
    mapped = mapping.spec(table).file
    if mapped is not None:
        path = folder / mapped
        if not path.exists():
            raise DataContractError([missing_mapped_file(path, table)])
        return path
    # A table is one file, or a folder of Parquet parts as Spark, Hive or a chunked export
    # writes them (``orders.parquet/`` or ``orders/``).
    files = [folder / f"{table}.{ext}" for ext in FORMATS]
    folders = [folder / f"{table}.parquet", folder / table]
    found = [p for p in files if p.is_file()] + [p for p in folders if p.is_dir()]
    if len(found) > 1:
        raise DataContractError([Problem(
            "error", table, None, "ambiguous_file",
            f"both {found[0].name} and {found[1].name} exist", "keep one of them",
        )])
    return found[0] if found else None


def missing_mapped_file(path: str | os.PathLike, table: str) -> Problem:
    """The problem of a file the mapping names that is not there."""
    return Problem("error", table, None, "missing_file", f"mapped file {path} does not exist",
                   f"correct tables.{table}.file in the mapping file")


def read_table(path: Path, table: str, mapping: Mapping | None = None) -> pd.DataFrame:
    """Read one table file as it is (the source's column names).

    Raises
    ------
    DataContractError
        When the file cannot be read (empty, cut off, not UTF-8, a broken quote, not
        Parquet); the problem names the file, the row where it applies and the fix.
    """
    mapping = mapping or Mapping()
    if path.is_dir():
        return _read_parts(path, table)
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
    return frame


def _read_parts(folder: Path, table: str) -> pd.DataFrame:
    """A table written as a folder of Parquet parts, the parts in the order of their paths
    (files named ``_*`` or ``.*``, such as Spark's ``_SUCCESS``, are not parts)."""
    parts = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(("_", ".")))
    if not parts:
        raise DataContractError([Problem(
            "error", table, None, "empty_folder", f"{visible(str(folder))} holds no file",
            f"write the {table} table into it as Parquet parts, or remove the folder",
        )])
    not_parquet = [p for p in parts if p.suffix != ".parquet"]
    if not_parquet:
        shown = ", ".join(visible(p.name) for p in not_parquet[:3])
        raise DataContractError([Problem(
            "error", table, None, "format",
            f"{visible(str(folder))} holds {len(not_parquet)} file(s) that are not Parquet "
            f"parts ({shown})", f"keep only the {table} table's .parquet parts in the folder",
        )])
    try:
        return pd.read_parquet(folder)
    except (ValueError, OSError, ArrowException) as exc:
        raise DataContractError([unreadable_file(folder, table, exc)]) from None


def unreadable_file(path: Path, table: str, exc: BaseException) -> Problem:
    """The problem of a table file that cannot be read, with the row where it applies."""
    name = visible(str(path))
    if path.is_dir():
        return Problem(
            "error", table, None, "unreadable_file",
            f"{name} is a folder of Parquet parts that cannot be read together: "
            f"{visible(first_line(str(exc)))}",
            "write the parts again from their source, all with the same columns and types",
        )
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


def _check_folder(folder: str | os.PathLike | None, mapping: Mapping) -> Path | None:
    """The input folder, checked when some table is read from it."""
    needed = [t for t in TABLE_NAMES if mapping.reads_from_folder(t)]
    if folder is None:
        listed = [t for t in needed if t in mapping.tables]
        if listed or mapping.source is None:
            raise DataContractError([Problem(
                "error", listed[0] if listed else "accounts", None, "missing_folder",
                "no input folder was given",
                "give the folder that holds accounts.csv (or .parquet) and the other tables, "
                'or read every table from a database (source = "postgresql://..." in the '
                "mapping file)",
            )])
        return None
    folder = Path(folder)
    if needed and not folder.is_dir():
        raise DataContractError([Problem(
            "error", "accounts", None, "missing_folder", f"{folder} is not a folder",
            "give the folder that holds accounts.csv (or .parquet) and the other tables",
        )])
    return folder


def read_tables(
    folder: str | os.PathLike | None, mapping: Mapping | None = None
) -> dict[str, pd.DataFrame]:
    """Read every table the folder and the mapping give, canonical column names, unchecked.

    Files are read as they are; queries over the folder run in DuckDB; database tables and
    queries are read over one connection per source.
    """
    mapping = mapping or Mapping()
    folder = _check_folder(folder, mapping)
    raw: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    folder_queries: dict[str, str] = {}
    by_source: dict[URL, list[str]] = {}
    for table in TABLE_NAMES:
        spec = mapping.spec(table)
        if spec.from_database:
            by_source.setdefault(spec.source, []).append(table)
        elif spec.query is not None:
            folder_queries[table] = spec.query
        elif folder is not None and (table in mapping.tables or mapping.source is None):
            try:
                path = _find_file(folder, table, mapping)
                if path is not None:
                    raw[table] = read_table(path, table, mapping)
            except DataContractError as exc:  # every unreadable file is named in one pass
                problems += exc.problems
    if problems:
        raise DataContractError(problems)
    if folder_queries:
        raw.update(query_folder(folder, folder_queries))
    for url, names in by_source.items():
        sql = {t: mapping.spec(t).sql() for t in names}
        by_name = {t: mapping.spec(t).table for t in names if mapping.spec(t).table is not None}
        raw.update(read_database(url, sql, tables=by_name))
    return {
        table: map_values(frame.rename(columns=mapping.renames(table)), mapping.spec(table).values)
        for table, frame in sorted(raw.items(), key=lambda item: TABLE_NAMES.index(item[0]))
    }


def map_values(frame: pd.DataFrame, maps: dict[str, dict[str, str]]) -> pd.DataFrame:
    """The mapping's ``values``: the user's labels replaced by ours; others kept as they are
    (the contract warns about them, and the rows still count)."""
    for column, pairs in maps.items():
        if column in frame:
            frame = frame.assign(**{column: frame[column].replace(pairs)})
    return frame


def load_tables(
    folder: str | os.PathLike | None, mapping: Mapping | str | os.PathLike | None = None
) -> tuple[Tables, ValidationReport]:
    """Read and validate the input tables: a folder, the mapping's queries and databases.

    Parameters
    ----------
    folder : path, optional
        The input folder; may be None when the mapping reads every table from a database.
    mapping : Mapping or path, optional
        The mapping file (:mod:`features.mapping`).

    Raises
    ------
    DataContractError
        With every problem found; nothing downstream runs on invalid data.
    features.churn_definition.ChurnDefinitionError
        When the mapping's ``[churn]`` definition cannot be used with the data. The tables
        come back with it applied (:func:`features.churn_definition.apply_churn_definition`).
    features.db_url.DatabaseError
        When a query fails or a database cannot be read.
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.read(mapping)
    mapping = mapping or Mapping()
    tables, report = validate_tables(
        read_tables(folder, mapping), scales=mapping.scales, time_zones=mapping.time_zones
    )
    return apply_churn_definition(tables, mapping.churn), report


def describe_input(folder: str | os.PathLike | None, mapping: Mapping | None) -> str:
    """Where the input tables come from, for messages and run metadata (passwords masked).

    Examples
    --------
    >>> m = Mapping.from_dict({"source": "postgresql://cs:pw@db/crm", "tables": {"accounts": {}}})
    >>> describe_input(None, m), describe_input("data", None)
    ('postgresql://cs:***@db/crm', 'data')
    """
    parts = [] if folder is None else [str(folder)]
    if mapping is not None:
        for spec in mapping.tables.values():
            if spec.source is not None and mask(spec.source) not in parts:
                parts.append(mask(spec.source))
    return " + ".join(parts) or "(no input)"


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
