"""Database URLs: ``${VAR}`` from the environment, and never a password in a message.

A source or sink is any SQLAlchemy URL (``postgresql://user:pw@host:5432/db``). Secrets
stay out of files and command lines through ``${VAR}``, read from the environment when the
URL is parsed (libpq's own ``PGPASSWORD`` works too). Parsed URLs are SQLAlchemy ``URL``
objects, whose ``str()`` already hides the password; :func:`mask` and :func:`redact` do
the same for text that did not come from one (a URL that failed to parse, a driver's error
message that quotes its connection string).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# user:password@ in any URL-like text; the user part is kept, the password replaced.
_CREDENTIALS = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@\s]*)@")
HIDDEN = "***"


class DatabaseError(ValueError):
    """A database or query that cannot be used.

    The message names the source (password masked), the table and query when there is one,
    the database's own message and the fix.
    """


def is_database_url(text: object) -> bool:
    """Whether ``text`` is a URL (``scheme://...``) rather than a file path.

    Examples
    --------
    >>> is_database_url("postgresql://db/crm"), is_database_url("runs/2026-01-01.parquet")
    (True, False)
    """
    return isinstance(text, str) and bool(_SCHEME.match(text.strip()))


def expand_variables(text: str, what: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every ``${VAR}`` replaced by the environment's value.

    Raises
    ------
    DatabaseError
        When a variable is not set, naming it and ``what`` holds it.

    Examples
    --------
    >>> expand_variables("postgresql://cs:${PW}@db/crm", "source", {"PW": "x"})
    'postgresql://cs:x@db/crm'
    >>> expand_variables("postgresql://cs:${PW}@db/crm", "source", {})
    Traceback (most recent call last):
    ...
    features.db_url.DatabaseError: source uses ${PW}, which is not set in the environment; fix: export PW before running
    """
    environ = os.environ if environ is None else environ
    missing = [name for name in _VARIABLE.findall(text) if name not in environ]
    if missing:
        names = ", ".join(f"${{{name}}}" for name in dict.fromkeys(missing))
        raise DatabaseError(
            f"{what} uses {names}, which is not set in the environment; "
            f"fix: export {' and '.join(dict.fromkeys(missing))} before running"
        )
    return _VARIABLE.sub(lambda match: environ[match.group(1)], text)


def mask(text: str | URL) -> str:
    """A URL (or any text holding URLs) with each password replaced by ``***``.

    Examples
    --------
    >>> mask("postgresql://cs:hunter2@db:5432/crm")
    'postgresql://cs:***@db:5432/crm'
    >>> mask("sqlite:///scores.db")
    'sqlite:///scores.db'
    """
    if isinstance(text, URL):
        return text.render_as_string(hide_password=True)
    return _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:{HIDDEN}@", str(text))


def redact(message: str, url: URL | None) -> str:
    """``message`` with the password of ``url`` (plain or URL-quoted) and any URL's hidden.

    Examples
    --------
    >>> url = make_url("postgresql://cs:p%40ss@db/crm")
    >>> redact("auth failed (p@ss) for postgresql://cs:p%40ss@db/crm", url)
    'auth failed (***) for postgresql://cs:***@db/crm'
    """
    text = str(message)
    password = url.password if url is not None else None
    if password:
        forms = {str(password), quote(str(password), safe=""), quote_plus(str(password))}
        for form in sorted(forms, key=len, reverse=True):
            text = text.replace(form, HIDDEN)
    return mask(text)


def parse_url(text: str, what: str) -> URL:
    """Read a database URL, ``${VAR}`` expanded.

    Raises
    ------
    DatabaseError
        When a variable is not set or the text is not a SQLAlchemy URL.
    """
    expanded = expand_variables(text.strip(), what)
    try:
        return make_url(expanded)
    except (ArgumentError, ValueError):
        raise DatabaseError(
            f"{what}: {mask(text)} is not a database URL; fix: write it as "
            "dialect://user:password@host:port/database, e.g. "
            "postgresql://cs:${PGPASSWORD}@db.internal:5432/crm"
        ) from None


def is_postgresql(url: URL) -> bool:
    return url.get_backend_name() == "postgresql"


def libpq_uri(url: URL) -> str:
    """The connection string libpq (and so ADBC) reads: the URL without the SQLAlchemy driver.

    It carries the password: pass it to a driver, never to a message.

    Examples
    --------
    >>> libpq_uri(make_url("postgresql+psycopg://cs:pw@db:5432/crm?sslmode=require"))
    'postgresql://cs:pw@db:5432/crm?sslmode=require'
    """
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def first_line(message: str) -> str:
    """A driver's message on one line: its lines joined, whitespace collapsed.

    Examples
    --------
    >>> first_line('connection refused\\n\\tIs the server running?\\n')
    'connection refused Is the server running?'
    """
    return " ".join(str(message).split())


def cannot_connect(url: URL, message: str) -> DatabaseError:
    """The one-line error of a database that cannot be reached or refuses the credentials."""
    return DatabaseError(
        f"cannot connect to {mask(url)}: {redact(first_line(message), url)}; fix: check the "
        "host, port, database name and credentials (a password can come from ${VAR} in the "
        "URL or the mapping file, or from PGPASSWORD)"
    )
