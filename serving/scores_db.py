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

An alerts table written before the call list (one row per account and rule, with ``rule``
and ``reason``) is migrated by the next run, inside its transaction: it is renamed to
``<name>_before_<YYYYMMDD>`` and kept, the new table is created, and its rows become one
call list row per account and date (every rule's reason kept). A failed run leaves the old
table as it was. On SQLite too, the tables are created in the run's transaction.

The same tables are the score history (:func:`read_account`) and the previous run of
``--previous`` (:func:`read_previous`).
"""

from __future__ import annotations

import json
import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
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
from serving.alerts import ALERT_COLUMNS, as_call_list

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
        if engine.dialect.name == "sqlite":
            _transactional_ddl(engine)
        return engine, engine.connect()
    except (ImportError, sqlalchemy.exc.NoSuchModuleError) as exc:
        raise DatabaseError(f"cannot write to {sink}: {first_line(str(exc))}; fix: install the "
                            "database's SQLAlchemy driver") from None
    except SQLAlchemyError as exc:
        raise cannot_connect(sink.url, _message(exc)) from None


def _transactional_ddl(engine: sqlalchemy.Engine) -> None:
    """Make SQLite's transaction begin with the first statement, also a CREATE or ALTER.

    Python's sqlite3 opens a transaction only before an INSERT, UPDATE or DELETE, so a table
    created or renamed before them would stay even when the run then fails; with this, a
    run's migration, new tables and rows are kept or dropped together (SQLAlchemy's recipe
    for pysqlite).
    """
    @sqlalchemy.event.listens_for(engine, "connect")
    def no_implicit_transactions(dbapi_connection, _record):
        dbapi_connection.isolation_level = None

    @sqlalchemy.event.listens_for(engine, "begin")
    def begin(connection):
        connection.exec_driver_sql("BEGIN")


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
         "model", "package_version", "metadata", "owner", "reasons", "rules", "currency",
         "top_drivers"}
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
        _index_dates(connection, table, key)
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
    table = sqlalchemy.Table(name, sqlalchemy.MetaData(), autoload_with=connection)
    _index_dates(connection, table, key)
    return table


def _index_dates(connection: Connection, table: sqlalchemy.Table, key: tuple[str, ...]) -> None:
    """An index on ``as_of`` where the key does not start with it (the scores table).

    Every run deletes its date's rows and reads the latest earlier date; keyed by
    ``(account_id, as_of)`` alone, both would scan every row of every night. Tables of
    earlier versions get the index on their next run.
    """
    if "as_of" in key and key[0] != "as_of":
        sqlalchemy.Index(f"ix_{table.name}_as_of", table.c.as_of).create(connection, checkfirst=True)


# --- the alerts table of older versions -----------------------------------------------

#: What marks an alerts table written before the call list: one row per account and rule,
#: keyed by ``(as_of, account_id, rule)``, without the call list's columns.
OLD_ALERT_COLUMNS = ("as_of", "account_id", "rule", "reason")


def _is_old_alerts(connection: Connection, name: str) -> bool:
    inspector = sqlalchemy.inspect(connection)
    if not inspector.has_table(name):
        return False
    columns = {column["name"] for column in inspector.get_columns(name)}
    return set(OLD_ALERT_COLUMNS) <= columns and "reasons" not in columns


def _backup_name(connection: Connection, name: str) -> str:
    """``<name>_before_<YYYYMMDD>``, numbered when a backup of that day exists already."""
    inspector = sqlalchemy.inspect(connection)
    base = f"{name}_before_{pd.Timestamp.now(tz='UTC'):%Y%m%d}"
    candidate, n = base, 1
    while inspector.has_table(candidate):
        n += 1
        candidate = f"{base}_{n}"
    return candidate


def _set_old_alerts_aside(connection: Connection, name: str) -> tuple[str, pd.DataFrame]:
    """Rename an old-shape alerts table to a dated backup; return its name and its rows.

    Runs inside the run's transaction: if the run fails, the rename is undone with it.
    """
    backup = _backup_name(connection, name)
    pk = sqlalchemy.inspect(connection).get_pk_constraint(name).get("name")
    connection.execute(sqlalchemy.text(f"ALTER TABLE {_quote(connection, name)} RENAME TO {_quote(connection, backup)}"))
    if pk and connection.dialect.name == "postgresql":
        # The key's index keeps its name (scores_alerts_pkey) through the rename, and the
        # new table's key needs that name.
        connection.execute(sqlalchemy.text(
            f"ALTER TABLE {_quote(connection, backup)} RENAME CONSTRAINT {_quote(connection, pk)} "
            f"TO {_quote(connection, backup + '_pkey')}"))
    old = pd.read_sql(sqlalchemy.select(sqlalchemy.Table(backup, sqlalchemy.MetaData(),
                                                         autoload_with=connection)), connection)
    return backup, old


def old_alerts_as_call_lists(old: pd.DataFrame) -> pd.DataFrame:
    """The rows of an old alerts table as call lists: one row per account and as-of date,
    every rule's reason kept (``reasons``, ``rules``), ranked within each date."""
    if old.empty:
        return pd.DataFrame(columns=[*ALERT_COLUMNS, "as_of", "run_id"])
    old = old.assign(account_id=old["account_id"].astype(str),
                     reason=old["reason"].fillna(old["rule"]).astype(str))
    lists = [as_call_list(rows).assign(as_of=as_of)
             for as_of, rows in old.groupby("as_of", sort=True)]
    columns = [*ALERT_COLUMNS, "as_of", "run_id"]
    return pd.concat(lists, ignore_index=True).reindex(columns=columns)


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
            migrated = None
            if _is_old_alerts(connection, sink.names["alerts"]):
                migrated = _set_old_alerts_aside(connection, sink.names["alerts"])
            tables = {role: _table(connection, sink.names[role], frames[role], KEYS[role])
                      for role in ("runs", "scores", "alerts")}
            for role in ("scores", "alerts"):
                connection.execute(sqlalchemy.delete(tables[role]).where(tables[role].c.as_of == as_of))
            if migrated is not None:
                earlier = old_alerts_as_call_lists(migrated[1])
                earlier = earlier[pd.to_datetime(earlier["as_of"]) != as_of]
                if len(earlier):
                    connection.execute(sqlalchemy.insert(tables["alerts"]), _records(earlier))
                meta["migrated_alerts"] = {"table": sink.names["alerts"], "backup": migrated[0],
                                           "rows": len(migrated[1]), "call_list_rows": len(earlier)}
                frames["runs"] = frames["runs"].assign(
                    metadata=json.dumps(meta, sort_keys=True, default=str))
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


def _no_file(sink: DatabaseSink) -> bool:
    """Whether the sink is a SQLite file that does not exist (yet).

    Reading must not create it: SQLite would leave an empty database behind.
    """
    database = sink.url.database
    return (sink.url.get_backend_name() == "sqlite" and bool(database) and database != ":memory:"
            and not database.startswith("file:") and not Path(database).exists())


def _read(sink: DatabaseSink, build, *, missing_ok: bool = False) -> pd.DataFrame | None:
    """Run the select ``build(scores_table)`` against the sink's scores table.

    A sink without its table yet is an error, or None with ``missing_ok``.
    """
    missing = DatabaseError(
        f"there is no scores table in {sink}; fix: write one with `customer-health "
        f"score DIR --as-of DATE --out URL` first, or name the table at the end of the URL"
    )
    if _no_file(sink):
        if missing_ok:
            return None
        raise missing
    engine, connection = _connect(sink)
    try:
        if not sqlalchemy.inspect(connection).has_table(sink.table):
            if missing_ok:
                return None
            raise missing
        table = sqlalchemy.Table(sink.table, sqlalchemy.MetaData(), autoload_with=connection)
        return pd.read_sql(build(table), connection)
    except SQLAlchemyError as exc:
        raise DatabaseError(f"could not read {sink}: {redact(_message(exc), sink.url)}") from None
    finally:
        connection.close()
        engine.dispose()


def _typed(frame: pd.DataFrame, table: sqlalchemy.Table) -> pd.DataFrame:
    """Float columns as float64: a column that is NULL in every row read comes back as
    None objects, where a scores file has NaN."""
    floats = [c.name for c in table.columns if isinstance(c.type, sqlalchemy.Float) and c.name in frame]
    return frame.astype(dict.fromkeys(floats, "float64")) if floats else frame


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


def _no_date(sink: DatabaseSink, as_of: pd.Timestamp, dates: list[pd.Timestamp]) -> DatabaseError:
    shown = ", ".join(f"{d:%Y-%m-%d}" for d in dates[-5:])
    return DatabaseError(
        f"{sink} has no run as of {as_of:%Y-%m-%d} (its {len(dates)} as-of date(s) end with "
        f"{shown}); fix: give one of them to --as-of, or leave --as-of out for the latest"
    )


def read_run(sink: DatabaseSink, as_of: pd.Timestamp | None = None) -> tuple[pd.DataFrame, dict]:
    """One stored run as the report reads it: its scores and its metadata.

    Parameters
    ----------
    sink : DatabaseSink
    as_of : Timestamp, optional
        The run's as-of date; the latest one in the sink when None.

    Returns
    -------
    (scores, metadata)
        The scores without the sink's own ``run_id``, and the run metadata the batch job
        wrote (its ``as_of`` at least).

    Raises
    ------
    DatabaseError
        When the sink cannot be read, holds no scores table, or no run of ``as_of``.
    """
    dates = run_dates(sink)
    if not dates:
        raise DatabaseError(f"{sink} holds no scores yet; fix: write a run with `customer-health "
                            "score DIR --as-of DATE --out URL` first")
    as_of = dates[-1] if as_of is None else pd.Timestamp(as_of)
    if as_of not in dates:
        raise _no_date(sink, as_of, dates)
    when = as_of.to_pydatetime()
    meta = {}
    with _reading(sink) as (connection, tables):
        table = tables["scores"]
        scores = _typed(pd.read_sql(sqlalchemy.select(table).where(table.c.as_of == when)
                                    .order_by(table.c.account_id), connection), table)
        if "runs" in tables:
            runs = tables["runs"]
            found = connection.execute(sqlalchemy.select(runs.c.metadata)
                                       .where(runs.c.run_id == scores["run_id"].iloc[0])).scalar()
            meta = json.loads(found) if found else {}
    return scores.drop(columns="run_id"), meta or {"as_of": f"{as_of:%Y-%m-%dT%H:%M:%S}"}


def read_calls(sink: DatabaseSink, as_of: pd.Timestamp) -> pd.DataFrame | None:
    """The call list of the run of ``as_of`` in rank order (empty when nobody was listed);
    None when the sink has no alerts table. An alerts table of an older version, which the
    next run will migrate, is read as call lists already."""
    with _reading(sink) as (connection, tables):
        if "alerts" not in tables:
            return None
        alerts = tables["alerts"]
        calls = _typed(pd.read_sql(sqlalchemy.select(alerts).where(alerts.c.as_of == as_of.to_pydatetime()),
                                   connection), alerts)
    if "reasons" not in calls.columns:  # written by an older version, not migrated yet
        calls = old_alerts_as_call_lists(calls)
    calls = calls.reindex(columns=list(ALERT_COLUMNS))
    if len(calls):  # a column created while no run had listed anyone is a float column
        calls["rank"] = calls["rank"].astype("int64")
    return calls.sort_values("rank", kind="stable").reset_index(drop=True)


def read_recent(
    sink: DatabaseSink, as_of: pd.Timestamp, *, runs: int, columns: tuple[str, ...]
) -> tuple[pd.DataFrame, dict[pd.Timestamp, set]]:
    """The last ``runs`` runs up to ``as_of``: their ``columns`` of the scores (with
    ``as_of``), and each run's listed account ids (the report's sparklines, band shares and
    how past call lists did)."""
    dates = [d for d in run_dates(sink) if d <= as_of][-runs:]
    if not dates:
        return pd.DataFrame(columns=["as_of", *columns]), {}
    first = dates[0].to_pydatetime()
    with _reading(sink) as (connection, tables):
        table = tables["scores"]
        wanted = [table.c[c] for c in ("as_of", *columns) if c in table.c]
        scores = _typed(pd.read_sql(sqlalchemy.select(*wanted).where(
            table.c.as_of >= first, table.c.as_of <= as_of.to_pydatetime()), connection), table)
        listed: dict[pd.Timestamp, set] = {}
        if "alerts" in tables:
            alerts = tables["alerts"]
            calls = pd.read_sql(sqlalchemy.select(alerts.c.as_of, alerts.c.account_id).where(
                alerts.c.as_of >= first, alerts.c.as_of <= as_of.to_pydatetime()), connection)
            # Every stored run wrote its call list, also an empty one.
            listed = {d: set() for d in dates}
            for when, ids in calls.groupby("as_of")["account_id"]:
                listed[pd.Timestamp(when)] = set(ids.astype(str))
    scores["as_of"] = pd.to_datetime(scores["as_of"]).astype("datetime64[ns]")
    return scores.reindex(columns=["as_of", *columns]), listed


@contextmanager
def _reading(sink: DatabaseSink):
    """A connection and the sink's tables that exist (by role), closed after reading."""
    engine, connection = _connect(sink)
    try:
        inspector = sqlalchemy.inspect(connection)
        tables = {role: sqlalchemy.Table(name, sqlalchemy.MetaData(), autoload_with=connection)
                  for role, name in sink.names.items() if inspector.has_table(name)}
        yield connection, tables
    except SQLAlchemyError as exc:
        raise DatabaseError(f"could not read {sink}: {redact(_message(exc), sink.url)}") from None
    finally:
        connection.close()
        engine.dispose()
