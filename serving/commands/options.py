"""Reading the options several commands share, with errors that name the option."""

from __future__ import annotations

import shlex
from enum import Enum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from features.mapping import Mapping
from features.timestamps import EARLIEST, LATEST, naive_utc
from serving.errors import UserError

# The folder argument and --mapping option of every command that reads the input tables.
# The folder may be left out when the mapping file reads every table from a database.
TablesFolder = Annotated[
    Path | None,
    typer.Argument(help="Folder with accounts.csv (or .parquet) and the other tables; omit it "
                        "when the --mapping file reads every table from a database."),
]
MappingOption = Annotated[
    Path | None,
    typer.Option(
        "--mapping", "-m",
        help="TOML mapping file: your file and column names, SQL queries, a database source, "
             "time zones, survey scales (docs/data-contract.md). With --engine spark: everything "
             "but SQL (query, table, source), the files being Parquet (docs/scale.md).",
    ),
]


def read_mapping(path: Path | None) -> Mapping | None:
    """The --mapping file, read once at the edge (a MappingError names what is wrong)."""
    return None if path is None else Mapping.read(path)


def date_option(text: str, option: str) -> pd.Timestamp:
    """The date given to ``option`` (``--as-of``, ``--start``, ...) as a naive-UTC timestamp.

    A zoned date is converted to UTC, as the tables hold naive UTC.

    Raises
    ------
    UserError
        When ``text`` is not a date, naming the option, the text and the fix.

    Examples
    --------
    >>> date_option("2026-06-01", "--as-of")
    Timestamp('2026-06-01 00:00:00')
    >>> date_option("someday", "--as-of")
    Traceback (most recent call last):
    ...
    serving.errors.UserError: --as-of: could not read 'someday' as a date; fix: use ISO 8601 between 1677-09-22 and 2262-04-11, e.g. 2026-06-01
    """
    stamp = naive_utc(text)
    if stamp is None:
        raise UserError(
            f"{option}: could not read {text!r} as a date; "
            f"fix: use ISO 8601 between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}, e.g. 2026-06-01"
        )
    return stamp


def validate_hint(folder: Path | None, mapping: Path | None) -> str:
    """The ``validate`` command for the same folder and mapping file the user gave.

    Examples
    --------
    >>> validate_hint(Path("../data"), Path("my map.toml"))
    "customer-health validate ../data --mapping 'my map.toml'"
    >>> validate_hint(None, Path("warehouse.toml"))  # every table from a database
    'customer-health validate --mapping warehouse.toml'
    """
    command = ["customer-health", "validate"] + ([str(folder)] if folder is not None else [])
    if mapping is not None:
        command += ["--mapping", str(mapping)]
    return shlex.join(command)


class Engine(str, Enum):
    pandas = "pandas"
    spark = "spark"


# --engine, --spark-master and --buckets of the commands that also run on Spark (docs/scale.md).
EngineOption = Annotated[
    Engine,
    typer.Option("--engine", help="pandas (one process) or spark (Parquet tables at any path "
                                  "Spark reads; docs/scale.md)."),
]
SparkMasterOption = Annotated[
    str | None,
    typer.Option("--spark-master", help="Spark master URL for --engine spark; default the "
                                        "spark-submit session, else local[*]."),
]
BucketsOption = Annotated[
    int,
    typer.Option("--buckets", min=1, help="Account buckets for --engine spark: more buckets, "
                                          "less memory per task."),
]
