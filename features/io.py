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

import os
import tempfile
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import URL

from features.contract import (
    ALL_COLUMNS,
    ID_COLUMNS,
    TABLE_NAMES,
    TEXT_COLUMNS,
    DataContractError,
    Problem,
    Tables,
    ValidationReport,
    validate_tables,
)
from features.db_url import mask
from features.mapping import Mapping
from features.sql_sources import query_folder, read_database

FORMATS = ("csv", "parquet")


def _find_file(folder: Path, table: str, mapping: Mapping) -> Path | None:
    mapped = mapping.spec(table).file
    if mapped is not None:
        path = folder / mapped
        if not path.exists():
            raise DataContractError([Problem(
                "error", table, None, "missing_file", f"mapped file {path} does not exist",
                f"correct tables.{table}.file in the mapping file",
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
    """Read one table file as it is (the source's column names)."""
    mapping = mapping or Mapping()
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        # Keys and text stay text: "00123" is an id, not the number 123.
        as_text = [mapping.source_name(table, c) for c in ID_COLUMNS[table] + TEXT_COLUMNS.get(table, ())]
        return pd.read_csv(path, dtype={c: str for c in as_text}, keep_default_na=True)
    raise DataContractError([Problem(
        "error", table, None, "format", f"{path.name} is neither CSV nor Parquet",
        "save the table as .csv or .parquet",
    )])


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
    folder_queries: dict[str, str] = {}
    by_source: dict[URL, list[str]] = {}
    for table in TABLE_NAMES:
        spec = mapping.spec(table)
        if spec.from_database:
            by_source.setdefault(spec.source, []).append(table)
        elif spec.query is not None:
            folder_queries[table] = spec.query
        elif folder is not None and (table in mapping.tables or mapping.source is None):
            path = _find_file(folder, table, mapping)
            if path is not None:
                raw[table] = read_table(path, table, mapping)
    if folder_queries:
        raw.update(query_folder(folder, folder_queries))
    for url, names in by_source.items():
        sql = {t: mapping.spec(t).sql() for t in names}
        by_name = {t: mapping.spec(t).table for t in names if mapping.spec(t).table is not None}
        raw.update(read_database(url, sql, tables=by_name))
    return {
        table: frame.rename(columns={mapping.source_name(table, c): c for c in ALL_COLUMNS[table]})
        for table, frame in sorted(raw.items(), key=lambda item: TABLE_NAMES.index(item[0]))
    }


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
    features.db_url.DatabaseError
        When a query fails or a database cannot be read.
    """
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.read(mapping)
    mapping = mapping or Mapping()
    return validate_tables(
        read_tables(folder, mapping), scales=mapping.scales, time_zones=mapping.time_zones
    )


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


def write_atomically(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` and move the result into place only when it succeeded.

    A failure or interruption leaves no partial file at ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
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
