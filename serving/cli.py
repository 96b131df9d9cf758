"""The ``customer-health`` command line.

Each group of subcommands lives in its own module under :mod:`serving.commands` and adds
itself to the app through ``register(app)``. This is the only layer (with the trainer) that
reads configuration; library functions take explicit arguments.
"""

from __future__ import annotations

import importlib
import sys
import warnings

import typer

# pandera imports pyspark.pandas whenever pyspark is installed (the [spark] extra), which
# warns about the pandas version on every command; the Spark engine does not use it.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas",
                        category=FutureWarning)

from serving.errors import report_errors  # noqa: E402  (after the filter: it imports pandera)

app = typer.Typer(
    name="customer-health",
    help="Explained customer health scores and churn risk for customer-success teams.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # click's plain help layout: rich's option table shows "<bool>" beside flags, as if
    # they took a value, and cuts long defaults with "…" at 80 columns.
    rich_markup_mode=None,
)

# Order is the order of --help: the data first, then metrics, models, scoring, the report.
COMMAND_MODULES = (
    "data", "metrics", "features", "clv", "sentiment", "scorecard", "training", "scoring", "serve",
    "history", "report",
)

for _name in COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"serving.commands.{_name}")
    except ModuleNotFoundError as exc:  # a command group not built yet in this checkout
        if exc.name != f"serving.commands.{_name}":
            raise
        continue
    _module.register(app)


def _keep_examples_whole(epilog: str) -> str:
    """Mark each indented example so that click prints it as written.

    click rewraps every paragraph of a help text to the terminal's width, and an example
    cut in two can no longer be copied and run; a paragraph led by ``\\b`` is left whole.
    """
    paragraphs = epilog.split("\n\n")
    return "\n\n".join("\b\n" + p if p.startswith("  ") else p for p in paragraphs)


def _whole_examples(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.epilog:
            info.epilog = _keep_examples_whole(info.epilog)
    for group in typer_app.registered_groups:
        _whole_examples(group.typer_instance)


_whole_examples(app)


def main() -> None:
    """Console-script entry point: clear one-line errors, never a traceback."""
    with report_errors():
        app(standalone_mode=True)


if __name__ == "__main__":
    sys.exit(main())
