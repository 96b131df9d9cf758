"""The mapping file: where each table comes from, what its columns are called, survey scales.

Every key is optional (``docs/data-contract.md`` has worked examples)::

    source = "postgresql://cs:${PGPASSWORD}@db:5432/crm"   # read tables from a database
    currency = "EUR"                         # of accounts.mrr and order values; shown with revenue

    [tables.accounts]
    file = "customers.csv"                   # default: accounts.csv or accounts.parquet
    columns = { account_id = "CustomerID", signup_date = "Created" }

    [tables.orders]
    query = "SELECT ... FROM olist_orders_dataset JOIN ..."  # SQL instead of a file
    timezone = "America/Sao_Paulo"           # naive timestamps are local times of this zone

    [tables.surveys]
    table = "crm.survey_answers"             # a database table (needs a source)

    [tables.sessions.values.source]          # your labels -> ours (TRAFFIC_SOURCES)
    google = "organic_search"
    "facebook.com" = "social"

    [surveys.csat]
    low = 1
    high = 10
    satisfied_at = 9                         # default: top 20% of the scale

    [churn]
    definition = "lapse"                     # or "recorded" (accounts.churned_at)
    lapse_days = 180                         # default: derived from the gaps between orders
    activity = "orders"                      # or "any": sessions, tickets, surveys count too

Where a table comes from:

* ``file``: a file of the input folder;
* ``query`` without a source: DuckDB runs it over the files of the input folder, each file
  a view named after its stem (``olist_orders_dataset.csv`` -> ``olist_orders_dataset``);
* ``query`` or ``table`` with a source (the table's own ``source`` or the top-level one):
  the database runs it. With a top-level source, a table listed without ``file``,
  ``query`` or ``table`` reads the database table of its own name;
* a table the mapping does not list: ``<table>.csv`` or ``.parquet`` in the input folder.

``${VAR}`` in a source reads the environment; parsed sources are SQLAlchemy URLs, whose
text hides the password.
"""

from __future__ import annotations

import os
import tomllib
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import URL

from features.contract import (
    ALL_COLUMNS,
    MAPPED_VALUES,
    SURVEY_TYPES,
    TABLE_NAMES,
    SurveyScale,
    SurveyScales,
)
from features.db_url import DatabaseError, parse_url
from features.sql_sources import quote_identifier

TABLE_KEYS = ("file", "query", "table", "source", "timezone", "columns", "values")
SURVEY_KEYS = ("low", "high", "satisfied_at", "higher_is_better")
CHURN_KEYS = ("definition", "lapse_days", "activity")
CHURN_DEFINITIONS = ("recorded", "lapse")
LAPSE_ACTIVITIES = ("orders", "any")


class MappingError(ValueError):
    """The mapping file is malformed; the message names the key and the allowed values."""


@dataclass(frozen=True)
class TableSpec:
    """Where one table's rows come from and what its columns are called.

    At most one of ``file``, ``query`` and ``table`` is set. ``source`` is the database
    that runs ``query`` or holds ``table``; None means the input folder.
    """

    file: str | None = None
    query: str | None = None
    table: str | None = None
    source: URL | None = None
    timezone: str | None = None
    columns: dict[str, str] = field(default_factory=dict)  # canonical -> source name
    values: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {theirs: ours}

    @property
    def from_database(self) -> bool:
        return self.source is not None

    def sql(self) -> str | None:
        """The SQL that reads the table: its query, or every row of its database table."""
        if self.query is not None:
            return self.query
        if self.table is not None:
            return "SELECT * FROM " + ".".join(quote_identifier(p) for p in self.table.split("."))
        return None


@dataclass(frozen=True)
class ChurnSpec:
    """The ``[churn]`` section as written; :mod:`features.churn_definition` resolves it.

    ``definition`` None means "choose from the data"; ``lapse_days`` None means "derive it
    from the gaps between orders".
    """

    definition: str | None = None
    lapse_days: int | None = None
    activity: str = "orders"


@dataclass(frozen=True)
class Mapping:
    """Where each table lives and what its columns are called, plus survey scales."""

    tables: dict[str, TableSpec] = field(default_factory=dict)
    scales: SurveyScales = field(default_factory=SurveyScales)
    source: URL | None = None  # the top-level source, the default database of every table
    churn: ChurnSpec = field(default_factory=ChurnSpec)
    currency: str | None = None  # the currency of money columns (ISO 4217 code, e.g. "EUR")

    @classmethod
    def read(cls, path: str | os.PathLike) -> Mapping:
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
    def from_dict(cls, document: dict, *, source: str = "mapping") -> Mapping:
        unknown = set(document) - {"tables", "surveys", "source", "churn", "currency"}
        if unknown:
            raise MappingError(
                f"{source}: unknown top-level key(s) {sorted(unknown)}; "
                "allowed: source, currency, tables, surveys, churn"
            )
        currency = document.get("currency")
        if currency is not None and not (isinstance(currency, str) and currency.strip()):
            raise MappingError(f'{source}: currency must be a code in quotes, e.g. currency = "EUR"')
        default = _database(document["source"], f"{source}: source") if "source" in document else None
        tables = {
            table: _table_spec(table, spec, default, source)
            for table, spec in document.get("tables", {}).items()
        }
        scales = {
            survey: _survey_scale(survey, spec, source)
            for survey, spec in document.get("surveys", {}).items()
        }
        churn = _churn_spec(document.get("churn", {}), source)
        return cls(tables, SurveyScales(**scales), default, churn, currency and currency.strip())

    def spec(self, table: str) -> TableSpec:
        return self.tables.get(table, TableSpec())

    def source_name(self, table: str, column: str) -> str:
        return self.spec(table).columns.get(column, column)

    def renames(self, table: str) -> dict[str, str]:
        """The table's columns as the source names them -> the contract's names."""
        return {self.source_name(table, c): c for c in ALL_COLUMNS[table]}

    @property
    def time_zones(self) -> dict[str, str]:
        return {name: spec.timezone for name, spec in self.tables.items() if spec.timezone}

    def reads_from_folder(self, table: str) -> bool:
        """Whether ``table`` comes from the input folder (a file or a DuckDB query)."""
        spec = self.tables.get(table)
        if spec is None:
            return self.source is None
        return not spec.from_database


def _database(value: object, what: str) -> URL:
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{what} must be a database URL in quotes, e.g. "
                           '"postgresql://cs:${PGPASSWORD}@db:5432/crm"')
    try:
        return parse_url(value, what)
    except DatabaseError as exc:
        raise MappingError(str(exc)) from None


def _table_spec(table: str, spec: object, default: URL | None, source: str) -> TableSpec:
    where = f"{source}: [tables.{table}]"
    if table not in TABLE_NAMES:
        raise MappingError(f"{where} is not a table; allowed: {', '.join(TABLE_NAMES)}")
    if not isinstance(spec, dict):
        raise MappingError(f"{where} must be a table of keys ({', '.join(TABLE_KEYS)})")
    extra = set(spec) - set(TABLE_KEYS)
    if extra:
        raise MappingError(f"{where} has unknown key(s) {sorted(extra)}; allowed: {', '.join(TABLE_KEYS)}")
    given = [key for key in ("file", "query", "table") if key in spec]
    if len(given) > 1:
        raise MappingError(f"{where} gives {' and '.join(given)}; give one of file, query, table")
    for key in given:
        if not isinstance(spec[key], str) or not spec[key].strip():
            raise MappingError(f"{where} {key} must be non-empty text")
    own = _database(spec["source"], f"{where} source") if "source" in spec else None
    if own is not None and not {"query", "table"} & set(spec):
        raise MappingError(f"{where} has a source but neither query nor table; add "
                           f'table = "{table}" (a database table) or query = "SELECT ..."')
    if own is not None and "file" in spec:
        raise MappingError(f"{where} gives file and source; a file is read from the input folder")
    database = None if "file" in spec else (own or default)
    if "table" in spec and database is None:
        raise MappingError(
            f"{where} table = {spec['table']!r} names a database table, but there is no source; "
            'add source = "postgresql://..." at the top of the mapping or in [tables.'
            f"{table}], or use query = \"SELECT ... FROM <file stem>\" to read the folder's files"
        )
    if database is not None and not given:
        spec = dict(spec, table=table)  # a listed table of a database: the table of its name
    zone = spec.get("timezone")
    if zone is not None:
        _check_zone(zone, f"{where} timezone")
    renames = dict(spec.get("columns", {}))
    bad = set(renames) - set(ALL_COLUMNS[table])
    if bad:
        raise MappingError(
            f"{source}: tables.{table}.columns maps unknown column(s) {sorted(bad)}; "
            f"the {table} columns are: {', '.join(ALL_COLUMNS[table])}"
        )
    return TableSpec(
        file=spec.get("file"), query=spec.get("query"), table=spec.get("table"),
        source=database, timezone=zone, columns={k: str(v) for k, v in renames.items()},
        values=_value_maps(table, spec.get("values", {}), source),
    )


def _value_maps(table: str, spec: object, source: str) -> dict[str, dict[str, str]]:
    """``[tables.<table>.values.<column>]``: the user's labels onto the contract's values."""
    mappable = [column for t, column in MAPPED_VALUES if t == table]
    if not isinstance(spec, dict) or (spec and not mappable):
        raise MappingError(
            f"{source}: tables.{table}.values maps the values of a column; "
            + ("only " + ", ".join(f"[{t}.values.{c}]" for t, c in MAPPED_VALUES) + " can be mapped")
        )
    maps = {}
    for column, pairs in spec.items():
        where = f"{source}: [tables.{table}.values.{column}]"
        if column not in mappable:
            raise MappingError(f"{where}: {table}.{column} has no values to map; "
                               f"allowed: {', '.join(f'values.{c}' for c in mappable)}")
        allowed = MAPPED_VALUES[(table, column)]
        if not isinstance(pairs, dict):
            raise MappingError(f'{where} must be keys of your values, e.g. google = "{allowed[0]}"')
        bad = {theirs: ours for theirs, ours in pairs.items() if ours not in allowed}
        if bad:
            raise MappingError(
                f"{where} maps onto unknown value(s) {sorted(map(str, bad.values()))} "
                f"(from {sorted(bad)}); map each of your values onto one of: {', '.join(allowed)}"
            )
        maps[column] = dict(pairs)
    return maps


def _check_zone(zone: object, what: str) -> None:
    try:
        if not isinstance(zone, str):
            raise ValueError
        zoneinfo.ZoneInfo(zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise MappingError(
            f"{what} {zone!r} is not an IANA time zone; use a name such as "
            "America/Sao_Paulo, Europe/Berlin or UTC"
        ) from None


def _survey_scale(survey: str, spec: dict, source: str) -> SurveyScale:
    if survey not in SURVEY_TYPES:
        raise MappingError(f"{source}: [surveys.{survey}] is not a survey type; allowed: csat, nps, ces")
    default = getattr(SurveyScales(), survey)
    extra = set(spec) - set(SURVEY_KEYS)
    if extra:
        raise MappingError(
            f"{source}: [surveys.{survey}] has unknown key(s) {sorted(extra)}; "
            f"allowed: {', '.join(SURVEY_KEYS)}"
        )
    if survey != "csat" and "satisfied_at" in spec:
        raise MappingError(f"{source}: surveys.{survey}.satisfied_at applies to csat only")
    low, high = spec.get("low", default.low), spec.get("high", default.high)
    satisfied_at = spec.get(
        "satisfied_at", default.satisfied_at if (low, high) == (default.low, default.high) else None
    )
    try:
        return SurveyScale(int(low), int(high), satisfied_at, bool(spec.get("higher_is_better", True)))
    except ValueError as exc:
        raise MappingError(f"{source}: [surveys.{survey}] {exc}") from None


def _churn_spec(spec: object, source: str) -> ChurnSpec:
    where = f"{source}: [churn]"
    if not isinstance(spec, dict):
        raise MappingError(f"{where} must be a table of keys ({', '.join(CHURN_KEYS)})")
    extra = set(spec) - set(CHURN_KEYS)
    if extra:
        raise MappingError(f"{where} has unknown key(s) {sorted(extra)}; allowed: {', '.join(CHURN_KEYS)}")
    definition = spec.get("definition")
    if definition is not None and definition not in CHURN_DEFINITIONS:
        raise MappingError(
            f"{where} definition = {definition!r} is not a churn definition; use \"recorded\" "
            "(accounts.churned_at) or \"lapse\" (no order for lapse_days)"
        )
    lapse_days = spec.get("lapse_days")
    if lapse_days is not None and (isinstance(lapse_days, bool) or not isinstance(lapse_days, int)
                                   or lapse_days <= 0):
        raise MappingError(
            f"{where} lapse_days = {lapse_days!r} must be a whole number of days above 0, "
            "e.g. lapse_days = 180; leave it out to derive it from the gaps between orders"
        )
    if definition == "recorded" and lapse_days is not None:
        raise MappingError(f"{where} lapse_days applies to definition = \"lapse\" only; "
                           "remove it or set definition = \"lapse\"")
    activity = spec.get("activity", "orders")
    if activity not in LAPSE_ACTIVITIES:
        raise MappingError(
            f"{where} activity = {activity!r} must be \"orders\" (only orders keep an account "
            "alive) or \"any\" (sessions, tickets and surveys count too)"
        )
    return ChurnSpec(definition, lapse_days, activity)
