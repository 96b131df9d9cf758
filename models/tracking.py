"""Where MLflow keeps runs and models, and the provenance every run records.

The tracking URI comes from ``MLFLOW_TRACKING_URI``; without it the embedded default is a
SQLite file ``mlflow.db`` in the working folder with artifacts in ``./mlartifacts`` next to
it, so nothing has to be started by hand.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import mlflow

from features.db_url import mask

DEFAULT_EXPERIMENT = "customer-health-churn"
REPO_ROOT = Path(__file__).resolve().parents[1]

# Routine MLflow log lines a training run would otherwise print, by logger: (level, start of
# the message). Each is silenced on purpose, and only that exact message:
# - creating and migrating the SQLite store is what the first run in a folder always does;
# - the CloudPickle warning is about pickled models in general: ours is pickled, as every
#   fitted scikit-learn/LightGBM pipeline is, and is only loaded from our own registry;
#   "models from code" would still pickle the pipeline as an artifact;
# - validating the input example against the signature is a check MLflow passes silently
#   when it succeeds (a failure is still reported as a warning).
_ROUTINE_MESSAGES = {
    "mlflow.store.db.utils": (
        (logging.INFO, "Creating initial MLflow database tables"),
        (logging.INFO, "Updating database tables"),
    ),
    "mlflow.pyfunc": (
        (logging.WARNING, "Passing a Python object as `python_model` causes it to be serialized"),
        (logging.INFO, "Validating input example against model signature"),
    ),
    # On PostgreSQL (psycopg 3): MLflow's SQL store inserts a batch of metrics, and when one
    # is already there (same key, step, time and value) it catches the IntegrityError and
    # inserts the others one by one, by design. psycopg then reports, as a warning, that
    # the aborted pipeline's error was ignored when it ended: MLflow had handled it.
    "psycopg": ((logging.WARNING, "error ignored terminating <psycopg.Pipeline"),),
}


class _DropRoutineMessages(logging.Filter):
    """Drops the records of one logger whose level and message start match a routine line."""

    def __init__(self, routine: tuple[tuple[int, str], ...]):
        super().__init__()
        self.routine = routine

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(record.levelno == level and message.startswith(start)
                       for level, start in self.routine)


def quiet_mlflow_logs() -> None:
    """Silence MLflow's routine log lines (:data:`_ROUTINE_MESSAGES`); other lines still show.

    Idempotent: calling it again adds no second filter.

    Examples
    --------
    >>> quiet_mlflow_logs(); quiet_mlflow_logs()
    >>> sum(isinstance(f, _DropRoutineMessages) for f in logging.getLogger("mlflow.pyfunc").filters)
    1
    """
    for name, routine in _ROUTINE_MESSAGES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropRoutineMessages) for f in logger.filters):
            logger.addFilter(_DropRoutineMessages(routine))


# What ``mlflow.register_model`` prints (to stderr, not through a logger) on every
# registration; the trainer reports the version and its alias itself, with the reason.
_REGISTRATION_LINES = (
    "Successfully registered model ",
    "Registered model ",  # "... already exists. Creating a new version of this model..."
    "Created version ",
)


class _DropLines:
    """A text stream forwarding every line to ``target`` except those starting with ``starts``."""

    def __init__(self, target, starts: tuple[str, ...]):
        self.target = target
        self.starts = starts
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if not line.startswith(self.starts):
                self.target.write(line + "\n")
        return len(text)

    def flush(self) -> None:
        self.target.flush()

    def close_pending(self) -> None:
        if self.pending and not self.pending.startswith(self.starts):
            self.target.write(self.pending)
        self.pending = ""

    def __getattr__(self, name):
        # isatty, encoding, fileno ...: whatever the wrapped stream answers.
        return getattr(self.target, name)


@contextlib.contextmanager
def quiet_registration_messages() -> Iterator[None]:
    """Within the block, drop MLflow's "Successfully registered model ..." / "Created version
    ..." lines from stderr; everything else written to stderr passes through unchanged.

    Examples
    --------
    >>> import io, sys
    >>> saved, sys.stderr = sys.stderr, io.StringIO()
    >>> with quiet_registration_messages():
    ...     print("Created version '3' of model 'm'.", file=sys.stderr)
    ...     print("a real warning", file=sys.stderr)
    >>> captured, sys.stderr = sys.stderr.getvalue(), saved
    >>> captured
    'a real warning\\n'
    """
    original = sys.stderr
    filtered = _DropLines(original, _REGISTRATION_LINES)
    sys.stderr = filtered
    try:
        yield
    finally:
        filtered.close_pending()
        sys.stderr = original


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///<cwd>/mlflow.db``.

    Examples
    --------
    >>> import os
    >>> saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    >>> tracking_uri().endswith("/mlflow.db") and tracking_uri().startswith("sqlite:///")
    True
    >>> if saved is not None: os.environ["MLFLOW_TRACKING_URI"] = saved
    """
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    return uri or f"sqlite:///{Path.cwd() / 'mlflow.db'}"


def sqlite_store(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` tracking URI; None for any other store.

    Examples
    --------
    >>> sqlite_store("sqlite:////data/mlflow.db")
    PosixPath('/data/mlflow.db')
    >>> sqlite_store("http://localhost:5000") is None
    True
    """
    if urlparse(uri).scheme != "sqlite":
        return None
    return Path(uri[len("sqlite:///"):])


def missing_store(uri: str) -> str | None:
    """Why ``uri`` holds no model when it names a SQLite file that does not exist, else None.

    Reading a SQLite store that is not there would create an empty one (and an empty
    ``mlflow.db`` in whatever folder a service was started from): callers check first.

    Examples
    --------
    >>> missing_store("http://localhost:5000") is None
    True
    >>> print(missing_store("sqlite:////nowhere/mlflow.db"))  # doctest: +ELLIPSIS
    there is no model store at /nowhere/mlflow.db ...
    """
    database = sqlite_store(uri)
    if database is None or database.exists():
        return None
    where = ("MLFLOW_TRACKING_URI names it" if os.environ.get("MLFLOW_TRACKING_URI", "").strip()
             else "MLFLOW_TRACKING_URI is not set, so the store is looked for in the current folder")
    return (
        f"there is no model store at {database} ({where}); point at the store that "
        "`customer-health train` wrote with MLFLOW_TRACKING_URI=sqlite:////absolute/path/to/mlflow.db "
        "(or http://host:5000 for a tracking server), or run from the folder you trained in"
    )


def shown_tracking_uri() -> str:
    """:func:`tracking_uri` for messages: a password in it is masked.

    Examples
    --------
    >>> import os
    >>> saved = os.environ.get("MLFLOW_TRACKING_URI")
    >>> os.environ["MLFLOW_TRACKING_URI"] = "postgresql://ml:secret@db/mlflow"
    >>> shown_tracking_uri()
    'postgresql://ml:***@db/mlflow'
    >>> if saved is None: del os.environ["MLFLOW_TRACKING_URI"]
    ... else: os.environ["MLFLOW_TRACKING_URI"] = saved
    """
    return mask(tracking_uri())


def artifact_root(uri: str | None = None) -> str | None:
    """The artifact location for new experiments: ``mlartifacts`` next to a SQLite file.

    None for other stores (a tracking server chooses its own artifact root).

    Examples
    --------
    >>> artifact_root("sqlite:////data/mlflow.db")
    'file:///data/mlartifacts'
    >>> artifact_root("http://localhost:5000") is None
    True
    """
    database = sqlite_store(uri or tracking_uri())
    return None if database is None else (database.parent / "mlartifacts").as_uri()


def configure_mlflow(experiment: str | None = None) -> str:
    """Point MLflow at :func:`tracking_uri` and select (creating if needed) the experiment.

    Parameters
    ----------
    experiment : str, optional
        Experiment name; default ``customer-health-churn``.

    Returns
    -------
    str
        The experiment id.
    """
    quiet_mlflow_logs()
    uri = tracking_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = experiment or DEFAULT_EXPERIMENT
    found = mlflow.get_experiment_by_name(name)
    if found is None:
        experiment_id = mlflow.create_experiment(name, artifact_location=artifact_root(uri))
    else:
        experiment_id = found.experiment_id
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def git_commit() -> dict:
    """The commit of the code that runs, and whether the working tree had local changes.

    Returns ``{"commit": None, "dirty": None}`` outside a git checkout (an installed package).
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True,
            check=True, timeout=10,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO_ROOT,
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status)}


def flatten(prefix: str, values: dict) -> dict:
    """Nested dict as flat ``prefix.key.sub`` keys, for MLflow params and tags.

    Examples
    --------
    >>> flatten("data", {"rows": {"train": 3}, "hash": "ab"})
    {'data.rows.train': 3, 'data.hash': 'ab'}
    """
    flat = {}
    for key, value in values.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(flatten(name, value))
        else:
            flat[name] = value
    return flat


def log_provenance(*, seed: int, fingerprint: dict, params: dict) -> None:
    """Log the seed, git commit, every parameter and the data fingerprint in the active run."""
    commit = git_commit()
    mlflow.set_tags({
        "git.commit": commit["commit"] or "unknown (not a git checkout)",
        "git.dirty": str(commit["dirty"]),
    })
    logged = {"seed": seed, "git_commit": commit["commit"] or "unknown",
              **flatten("", params), **flatten("data", fingerprint)}
    # MLflow caps a param value at 6000 characters; longer ones (column lists) go to the
    # JSON artifact below in full.
    mlflow.log_params({k: _short(v) for k, v in logged.items()})
    mlflow.log_dict({"seed": seed, "git": commit, "params": params, "data": fingerprint},
                    "provenance.json")


def _short(value, limit: int = 500) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextlib.contextmanager
def quiet_artifact_downloads() -> Iterator[None]:
    """Within the block, MLflow draws no progress bar while it downloads artifacts.

    For commands whose output is their own, such as the report's: MLflow reads
    ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` at each download and has no other switch, so the
    variable is set for the block and restored after it. The command line calls this around
    a command; library functions leave the process environment alone.

    Examples
    --------
    >>> import os
    >>> saved = os.environ.pop("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", None)
    >>> with quiet_artifact_downloads():
    ...     os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"]
    'false'
    >>> "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR" in os.environ
    False
    >>> if saved is not None: os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = saved
    """
    name = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    saved = os.environ.get(name)
    os.environ[name] = "false"
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved
