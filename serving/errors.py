"""Turning library errors into one clear line (plus detail) and an exit code."""

from __future__ import annotations

import contextlib
import os
import sys

from rich.console import Console
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError

from features.db_url import DatabaseError, first_line, mask, redact
from features.mapping import MappingError
from features.problems import DataContractError

# Exit codes: 1 for a failure of the run, 2 for invalid input (as `validate` documents).
EXIT_FAILURE = 1
EXIT_INVALID_INPUT = 2

# soft_wrap: long problem lines stay whole so they can be searched and copied.
err_console = Console(stderr=True, soft_wrap=True)


class UserError(Exception):
    """A problem the user can fix (bad option, missing file); printed without traceback."""

    exit_code = EXIT_FAILURE


class InvalidInput(UserError):
    """Input that cannot be used (an option, a source); exit code 2 like invalid data."""

    exit_code = EXIT_INVALID_INPUT


def print_contract_error(exc: DataContractError) -> None:
    errors = [p for p in exc.problems if p.severity == "error"]
    err_console.print(f"[bold red]error:[/] the input data breaks the contract ({len(errors)} problem(s))")
    for problem in errors:
        err_console.print(problem.describe(), markup=False, highlight=False)


@contextlib.contextmanager
def report_errors():
    """Print known errors as one line plus detail and exit non-zero."""
    try:
        yield
    except DataContractError as exc:
        print_contract_error(exc)
        sys.exit(EXIT_INVALID_INPUT)
    except (MappingError, DatabaseError, UserError) as exc:
        # markup=False: a query or a database's message may hold [brackets].
        err_console.print("[bold red]error:[/] ", end="", highlight=False)
        err_console.print(str(exc), markup=False, highlight=False)
        sys.exit(getattr(exc, "exit_code", EXIT_INVALID_INPUT))
    except OperationalError as exc:
        # Our own sources and sinks report theirs as DatabaseError: this is MLflow's store.
        err_console.print(f"[bold red]error:[/] {_store_unreachable(exc)}", markup=True,
                          highlight=False)
        sys.exit(EXIT_INVALID_INPUT)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: nothing was half-written")
        sys.exit(130)


def _store_unreachable(exc: OperationalError) -> str:
    """One line for an MLflow store that cannot be reached, its password masked."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    try:
        url = make_url(uri) if uri else None
    except ArgumentError:
        url = None
    message = str(exc.orig) if isinstance(exc, DBAPIError) and exc.orig else str(exc)
    return (
        f"cannot reach the MLflow store {mask(uri) or '(default)'}: "
        f"{redact(first_line(message), url)}; fix: check MLFLOW_TRACKING_URI (host, port, "
        "database name and credentials)"
    ).replace("[", r"\[")
