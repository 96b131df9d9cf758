"""Turning library errors into one clear line (plus detail) and an exit code."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console

from features.db_url import DatabaseError
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
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]: nothing was half-written")
        sys.exit(130)
