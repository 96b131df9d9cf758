"""The database sink of a batch run: its tables, one writer and its readers.

``customer-health score ... --out postgresql://user@host:5432/crm/scores`` (any SQLAlchemy
URL; the last path segment names the scores table, default ``scores``) writes three tables:

* ``scores``: one row per account and as-of date, keyed by ``(account_id, as_of)``: the
  columns of the scores file (:data:`serving.scores_file.SCORE_COLUMNS` plus the group
  and measure columns) and the ``run_id`` that wrote it;
* ``scores_alerts``: the call list of each as-of date (:data:`serving.alerts.CALL_LIST_COLUMNS`,
  ``as_of``, ``run_id``);
* ``scores_runs``: one row per run: ``run_id``, ``as_of``, ``written_at``, counts, model,
  package version, seconds and the whole run metadata as JSON. Runs are never deleted.

A run writes in one transaction: it deletes the scores and alerts of its as-of date and
inserts its own, so a re-run for a date replaces that date's rows, other dates are kept,
and a failure anywhere leaves the previous rows as they were. Tables are created on the
first run; a column the scorecard adds later is added to the table.

The same tables are the score history (:func:`read_account`) and the previous run of
``--previous`` (:func:`read_previous`).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from features.db_url import (
    DatabaseError,
    cannot_connect,
    first_line,
    mask,
    parse_url,
    redact,
)
from serving.alerts import ALERT_COLUMNS

DEFAULT_TABLE = "scores"
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,50}$")
KEYS = {"scores": ("account_id", "as_of"), "alerts": ("as_of", "account_id"),
        "runs": ("run_id",)}


@dataclass(frozen=True)
class DatabaseSink:
    """Where a run's rows go: a database and the name of its scores table."""

    url: URL
    table: str = DEFAULT_TABLE

    @property
    def names(self) -> dict[str, str]:
        """The three tables by role: scores, alerts, runs."""
        return {"scores": self.table, "alerts": f"{self.table}_alerts", "runs": f"{self.table}_runs"}

    def __str__(self) -> str:
        return f"{mask(self.url)} (table {self.table})"


def parse_sink(text: str, what: str = "--out") -> DatabaseSink:
    """A sink from a URL whose last path segment may name the scores table.

    ``postgresql://host/crm/scores`` is the table ``scores`` of the database ``crm``;
    ``postgresql://host/crm`` uses the default name. SQLite paths name a file, so a SQLite
    sink always uses the default name. ``${VAR}`` reads the environment.

    Raises
    ------
    DatabaseError
        When the URL cannot be read or the table name is not a plain SQL name.

    Examples
    --------
    >>> sink = parse_sink("postgresql://cs:pw@db:5432/crm/health")
    >>> str(sink), sink.url.database, sink.names["runs"]
    ('postgresql://cs:***@db:5432/crm (table health)', 'crm', 'health_runs')
    """
    url = parse_url(text, what)
    table = DEFAULT_TABLE
    if url.get_backend_name() != "sqlite" and url.database and "/" in url.database:
        database, table = url.database.rsplit("/", 1)
        url = url.set(database=database)
    if not _NAME.match(table):
        raise DatabaseError(
            f"{what}: {table!r} is not a table name; fix: end the URL with /<name> made of "
            "letters, digits and _ (default: scores)"
        )
    return DatabaseSink(url, table)


# --- connecting ----------------------------------------------------------------------


def _connect(sink: DatabaseSink) -> tuple[sqlalchemy.Engine, Connection]:
    try:
        engine = sqlalchemy.create_engine(sink.url, poolclass=sqlalchemy.pool.NullPool)
        return engine, engine.connect()
    except (ImportError, sqlalchemy.exc.NoSuchModuleError) as exc:
        raise DatabaseError(f"cannot write to {sink}: {first_line(str(exc))}; fix: install the "
                            "database's SQLAlchemy driver") from None
    except SQLAlchemyError as exc:
        raise cannot_connect(sink.url, _message(exc)) from None


def _message(exc: SQLAlchemyError) -> str:
    """The database's own words, without the SQL and parameters SQLAlchemy appends."""
    return first_line(str(exc.orig) if isinstance(exc, DBAPIError) and exc.orig else str(exc))


def check_sink(sink: DatabaseSink) -> None:
    """Connect once, so that an unreachable sink stops a run before the work, not after."""
    engine, connection = _connect(sink)
    connection.close()
    engine.dispose()


# --- tables --------------------------------------------------------------------------


# Columns whose type must not depend on one run's values (all empty when no model scored).
_TEXT = {"account_id", "segment", "health_band", "health_color", "health_trend", "risk_band",
         "health_drivers", "churn_drivers", "rule", "reason", "previous_health_band", "run_id",
         "model", "package_version", "metadata"}
_TIMES = {"as_of", "written_at"}


def _sql_type(name: str, values: pd.Series) -> sqlalchemy.types.TypeEngine:
    if name in _TEXT:
        return sqlalchemy.Text()
    if name in _TIMES:
        return sqlalchemy.DateTime()
    if values.isna().all() or pd.api.types.is_float_dtype(values):
        return sqlalchemy.Double()  # scores, probabilities, group and measure columns
    if pd.api.types.is_bool_dtype(values):
        return sqlalchemy.Boolean()
    if pd.api.types.is_integer_dtype(values):
        return sqlalchemy.BigInteger()
    if pd.api.types.is_datetime64_any_dtype(values):
        return sqlalchemy.DateTime()
    return sqlalchemy.Text()


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _table(connection: Connection, name: str, frame: pd.DataFrame, key: tuple[str, ...]) -> sqlalchemy.Table:
    """The table ``name`` with every column of ``frame``: created, or completed, or as is."""
    inspector = sqlalchemy.inspect(connection)
    if not inspector.has_table(name):
        table = sqlalchemy.Table(name, sqlalchemy.MetaData(), *[
            sqlalchemy.Column(column, _sql_type(column, frame[column]), primary_key=column in key,
                              nullable=column not in key)
            for column in frame.columns
        ])
        table.create(connection)
        return table
    existing = {column["name"] for column in inspector.get_columns(name)}
    lacking = [column for column in key if column not in existing]
    if lacking:
        raise DatabaseError(
            f"table {name} exists but lacks {', '.join(lacking)}: it is not a customer-health "
            "table; fix: end the --out URL with another table name"
        )
    for column in frame.columns:
        if column not in existing:
            kind = _sql_type(column, frame[column]).compile(dialect=connection.dialect)
            connection.execute(sqlalchemy.text(
                f"ALTER TABLE {_quote(connection, name)} ADD COLUMN {_quote(connection, column)} {kind}"
            ))
    return sqlalchemy.Table(name, sqlalchemy.MetaData(), autoload_with=connection)


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain Python values, missing values as NULL (never NaN)."""
    plain = frame.astype(object).where(frame.notna(), None)
    return plain.to_dict("records")


# --- writing -------------------------------------------------------------------------


def write_run(
    scores: pd.DataFrame, alerts: pd.DataFrame, meta: dict[str, Any], sink: DatabaseSink
) -> dict[str, Any]:
    """Write a run's scores, alerts and metadata in one transaction; return the metadata.

    The metadata gains ``run_id`` and ``output`` (the sink, password masked).

    Raises
    ------
    DatabaseError
        When the database cannot be reached or refuses the write; nothing was changed.
    """
    run_id = uuid.uuid4().hex
    as_of = pd.Timestamp(meta["as_of"])
    meta = dict(meta, run_id=run_id, output=str(sink))
    model = meta.get("model") or {}
    run = pd.DataFrame([{
        "run_id": run_id, "as_of": as_of,
        "written_at": pd.Timestamp.now(tz="UTC").tz_localize(None),
        "accounts": int(meta.get("accounts", len(scores))), "alerts": int(meta.get("alerts", len(alerts))),
        "model": f"{model['name']} v{model['version']}" if model else None,
        "package_version": meta.get("package_version"), "seconds": meta.get("seconds"),
        "metadata": json.dumps(meta, sort_keys=True, default=str),
    }]).astype({"accounts": "int64", "alerts": "int64", "seconds": "float64"})
    frames = {
        "scores": scores.assign(as_of=as_of, run_id=run_id),
        "alerts": alerts[list(ALERT_COLUMNS)].assign(as_of=as_of, run_id=run_id),
        "runs": run,
    }
    engine, connection = _connect(sink)
    try:
        with connection.begin():
            tables = {role: _table(connection, sink.names[role], frames[role], KEYS[role])
                      for role in ("runs", "scores", "alerts")}
            for role in ("scores", "alerts"):
                connection.execute(sqlalchemy.delete(tables[role]).where(tables[role].c.as_of == as_of))
            for role in ("runs", "scores", "alerts"):
                if len(frames[role]):
                    connection.execute(sqlalchemy.insert(tables[role]), _records(frames[role]))
    except SQLAlchemyError as exc:
        raise DatabaseError(
            f"could not write the run to {sink}: {redact(_message(exc), sink.url)}; nothing was "
            "changed (the rows of earlier runs are as they were)"
        ) from None
    finally:
        connection.close()
        engine.dispose()
    return meta


# --- reading -------------------------------------------------------------------------


def _read(sink: DatabaseSink, build, *, missing_ok: bool = False) -> pd.DataFrame | None:
    """Run the select ``build(scores_table)`` against the sink's scores table.

    A sink without its table yet is an error, or None with ``missing_ok``.
    """
    engine, connection = _connect(sink)
    try:
        if not sqlalchemy.inspect(connection).has_table(sink.table):
            if missing_ok:
                return None
            raise DatabaseError(
                f"there is no scores table in {sink}; fix: write one with `customer-health "
                f"score DIR --as-of DATE --out URL` first, or name the table at the end of the URL"
            )
        table = sqlalchemy.Table(sink.table, sqlalchemy.MetaData(), autoload_with=connection)
        return pd.read_sql(build(table), connection)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"could not read {sink}: {redact(_message(exc), sink.url)}") from None
    finally:
        connection.close()
        engine.dispose()


def read_account(
    sink: DatabaseSink, account_id: str, *, start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """Every stored score of one account, oldest first, within ``[start, end)`` when given."""
    def build(table):
        query = sqlalchemy.select(table).where(table.c.account_id == account_id)
        if start is not None:
            query = query.where(table.c.as_of >= start.to_pydatetime())
        if end is not None:
            query = query.where(table.c.as_of < end.to_pydatetime())
        return query.order_by(table.c.as_of)

    return _read(sink, build)


def read_previous(sink: DatabaseSink, as_of: pd.Timestamp) -> pd.DataFrame | None:
    """The scores of the latest date before ``as_of``; None when there is none (no earlier
    date, or no table yet: the first run)."""
    def build(table):
        latest = (sqlalchemy.select(sqlalchemy.func.max(table.c.as_of))
                  .where(table.c.as_of < as_of.to_pydatetime()).scalar_subquery())
        return sqlalchemy.select(table).where(table.c.as_of == latest).order_by(table.c.account_id)

    rows = _read(sink, build, missing_ok=True)
    return rows if rows is not None and len(rows) else None


def run_dates(sink: DatabaseSink) -> list[pd.Timestamp]:
    """The as-of dates with scores in the sink, oldest first."""
    rows = _read(sink, lambda table: sqlalchemy.select(table.c.as_of).distinct().order_by(table.c.as_of))
    return [pd.Timestamp(value) for value in rows["as_of"]]
