"""Tables read with SQL: DuckDB over the files of the input folder, and databases.

:func:`query_folder` runs the mapping's queries with DuckDB (embedded, no server) over the
raw files of the input folder, each CSV or Parquet file a view named after its stem, so
joins, filters, casts, constants and de-duplication are plain SQL.

:func:`read_database` reads tables and queries from a database. PostgreSQL is read through
ADBC (``adbc-driver-postgresql``: libpq's binary COPY straight into Arrow, several times
faster than ``pandas.read_sql``; ``benchmarks/bench_sql_read.py``); any other SQLAlchemy URL
through SQLAlchemy and ``pandas.read_sql``.

Both return DataFrames with the source's column names; renaming and validation happen in
:mod:`features.io` and :mod:`features.contract`, the same path as files. Every failure is a
:class:`features.db_url.DatabaseError` naming the table, the source (password masked), the
query and the database's message.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
from sqlalchemy.engine import URL

from features.db_url import (
    DatabaseError,
    cannot_connect,
    first_line,
    is_postgresql,
    libpq_uri,
    mask,
    redact,
)

FILE_SUFFIXES = (".csv", ".parquet")
# SQLSTATE of "relation does not exist" (PostgreSQL) and of a failed login or connection.
_UNDEFINED_TABLE = "42P01"
_QUERY_SHOWN = 600  # characters of a query quoted in an error message


# --- Arrow to pandas -----------------------------------------------------------------


def _plain_type(kind: pa.DataType) -> pa.DataType | None:
    """The type a column of ``kind`` is cast to before pandas, or None to keep it."""
    if isinstance(kind, pa.BaseExtensionType):
        return kind.storage_type  # e.g. PostgreSQL numeric, which ADBC hands over as text
    if pa.types.is_decimal(kind):
        return pa.float64()
    if pa.types.is_date(kind):
        return pa.timestamp("ms")
    return None


_NULLABLE = {
    **{kind: pd.Int64Dtype() for kind in (pa.int8(), pa.int16(), pa.int32(), pa.int64(),
                                         pa.uint8(), pa.uint16(), pa.uint32())},
    pa.bool_(): pd.BooleanDtype(),
}


def arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """A query result as pandas: integers and booleans nullable, dates as timestamps.

    Nullable integers keep an id ``123`` as ``123`` (not ``123.0``) when the column has
    gaps, so that it reads as the same text as in a file.

    Examples
    --------
    >>> arrow_to_frame(pa.table({"id": [1, None], "ok": [True, None]})).dtypes.astype(str).tolist()
    ['Int64', 'boolean']
    """
    for index, column in enumerate(table.schema):
        target = _plain_type(column.type)
        if target is not None:
            values = table.column(index)
            if isinstance(column.type, pa.BaseExtensionType):
                values = pa.chunked_array([chunk.storage for chunk in values.chunks],
                                          type=column.type.storage_type)
            else:
                values = values.cast(target)
            table = table.set_column(index, column.name, values)
    return table.to_pandas(types_mapper=_NULLABLE.get)


# --- DuckDB over the input folder ----------------------------------------------------


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def quote_identifier(text: str) -> str:
    """A SQL identifier quoted as written, so ``Orders`` and ``orders`` stay different.

    Examples
    --------
    >>> print(quote_identifier("my export"), quote_identifier('a"b'))
    "my export" "a""b"
    """
    return '"' + text.replace('"', '""') + '"'


def folder_files(folder: Path) -> dict[str, Path]:
    """The CSV and Parquet files of ``folder`` by stem (the view names of the queries).

    Raises
    ------
    DatabaseError
        When two files share a stem (``orders.csv`` and ``orders.parquet``).
    """
    files: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in FILE_SUFFIXES:
            if path.stem in files:
                raise DatabaseError(
                    f"{folder}: both {files[path.stem].name} and {path.name} would be the view "
                    f"{path.stem!r} of the mapping's queries; fix: keep one of them"
                )
            files[path.stem] = path
    return files


def query_folder(folder: str | Path, queries: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Run each table's query with DuckDB over the files of ``folder``.

    Parameters
    ----------
    folder : path
        The input folder; each ``.csv`` and ``.parquet`` file in it is a view named after
        its stem, with DuckDB's type detection. Relative paths in a query's own
        ``read_csv(...)`` or ``read_parquet(...)`` are relative to the folder.
    queries : dict of str to str
        SQL by table name.

    Returns
    -------
    dict of str to DataFrame
        The result of each query, columns as the query names them.

    Raises
    ------
    DatabaseError
        When a query fails: the table, the query and DuckDB's message.
    """
    import duckdb

    folder = Path(folder)
    where = f"the files of {folder} (DuckDB)"
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(f"SET file_search_path = {_literal(str(folder.resolve()))}")
        unreadable = {}
        for stem, path in folder_files(folder).items():
            reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv"
            try:
                connection.execute(
                    f"CREATE VIEW {quote_identifier(stem)} AS "
                    f"SELECT * FROM {reader}({_literal(str(path.resolve()))})"
                )
            except duckdb.Error as exc:
                unreadable[path.name] = first_line(str(exc))
        frames = {}
        for table, query in queries.items():
            try:
                result = connection.sql(query)
                if result is None:
                    raise DatabaseError(_query_failed(
                        table, query, where, "the query returned no rows: it is not a SELECT",
                    ))
                frames[table] = arrow_to_frame(result.to_arrow_table())
            except duckdb.Error as exc:
                message = first_line(str(exc))
                if unreadable:
                    message += " (files DuckDB could not read: " + "; ".join(
                        f"{name}: {why}" for name, why in unreadable.items()) + ")"
                raise DatabaseError(_query_failed(table, query, where, message)) from None
        return frames
    finally:
        connection.close()


def _query_failed(table: str, query: str, where: str, message: str) -> str:
    shown = " ".join(query.split())
    if len(shown) > _QUERY_SHOWN:
        shown = shown[: _QUERY_SHOWN - 3] + "..."
    return (
        f"{table}: the query of tables.{table} failed on {where}: {message}\n"
        f"    query: {shown}\n"
        f"    fix: correct tables.{table}.query in the mapping file"
    )


# --- databases -----------------------------------------------------------------------


def read_database(url: URL, sql: dict[str, str], *, tables: dict[str, str] | None = None
                  ) -> dict[str, pd.DataFrame]:
    """Read each table's SQL from the database at ``url``, over one connection.

    Parameters
    ----------
    url : sqlalchemy.engine.URL
        The source; PostgreSQL is read through ADBC, anything else through SQLAlchemy.
    sql : dict of str to str
        The SQL of each contract table (``TableSpec.sql()``).
    tables : dict of str to str, optional
        For tables given by name (``table = ...``), that name: a missing one is reported
        as a missing table rather than as a failed query.

    Raises
    ------
    DatabaseError
        Unreachable database, refused credentials, missing table or failed query: the
        source (password masked), the table, the query and the database's message.
    """
    if not sql:
        return {}
    if is_postgresql(url):
        return _read_postgresql(url, sql, tables or {})
    return _read_sqlalchemy(url, sql, tables or {})


def _failed(url: URL, table: str, sql: str, message: str, missing: str | None) -> DatabaseError:
    message = redact(message, url)
    if missing is not None:
        return DatabaseError(
            f"{table}: table {missing!r} does not exist in {mask(url)} ({message}); fix: "
            f"correct tables.{table}.table in the mapping file (the name as the database "
            "spells it, schema.table)"
        )
    return DatabaseError(_query_failed(table, sql, mask(url), message))


def _postgres_message(exc: Exception) -> str:
    """The server's own words from an ADBC error, without the driver's prefixes."""
    text = str(exc)
    for marker in ("ERROR:  ", "FATAL:  "):
        if marker in text:
            text = text.split(marker, 1)[1]
            break
    text = text.split("\nQuery was:", 1)[0].split("\nLINE ", 1)[0]
    for prefix in ("IO: [libpq] Failed to connect: ", "IO: [libpq] "):
        text = text.removeprefix(prefix)
    return first_line(text)


def _read_postgresql(url: URL, sql: dict[str, str], tables: dict[str, str]) -> dict[str, pd.DataFrame]:
    import adbc_driver_manager
    import adbc_driver_postgresql.dbapi as adbc

    try:
        connection = adbc.connect(libpq_uri(url))
    except adbc_driver_manager.Error as exc:
        raise cannot_connect(url, _postgres_message(exc)) from None
    frames = {}
    try:
        for table, statement in sql.items():
            try:
                with connection.cursor() as cursor:
                    cursor.execute(statement)
                    result = cursor.fetch_arrow_table()
            except adbc_driver_manager.Error as exc:
                undefined = getattr(exc, "sqlstate", None) == _UNDEFINED_TABLE or (
                    _UNDEFINED_TABLE in str(exc))
                missing = tables.get(table) if undefined else None
                raise _failed(url, table, statement, _postgres_message(exc), missing) from None
            frames[table] = arrow_to_frame(result)
    finally:
        connection.close()
    return frames


def _read_sqlalchemy(url: URL, sql: dict[str, str], tables: dict[str, str]) -> dict[str, pd.DataFrame]:
    import sqlalchemy
    from sqlalchemy.exc import DBAPIError, NoSuchModuleError, SQLAlchemyError

    try:
        engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
        connection = engine.connect()
    except (NoSuchModuleError, ImportError) as exc:
        raise DatabaseError(f"cannot read {mask(url)}: {first_line(str(exc))}; fix: install "
                            "the database's SQLAlchemy driver") from None
    except SQLAlchemyError as exc:
        message = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        raise cannot_connect(url, message) from None
    frames = {}
    try:
        inspector = sqlalchemy.inspect(connection)
        for table, statement in sql.items():
            name = tables.get(table)
            if name is not None:
                schema, _, bare = name.rpartition(".")
                if not inspector.has_table(bare, schema=schema or None):
                    raise _failed(url, table, statement, "no such table", name)
            try:
                frames[table] = pd.read_sql(sqlalchemy.text(statement), connection)
            except SQLAlchemyError as exc:
                message = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
                raise _failed(url, table, statement, first_line(message), None) from None
    finally:
        connection.close()
        engine.dispose()
    return frames
