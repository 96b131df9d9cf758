"""Where MLflow keeps runs and models, and the provenance every run records.

The tracking URI comes from ``MLFLOW_TRACKING_URI``; without it the embedded default is a
SQLite file ``mlflow.db`` in the working folder with artifacts in ``./mlartifacts`` next to
it, so nothing has to be started by hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import mlflow

DEFAULT_EXPERIMENT = "customer-health-churn"
REPO_ROOT = Path(__file__).resolve().parents[1]


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
    uri = uri or tracking_uri()
    parsed = urlparse(uri)
    if parsed.scheme != "sqlite":
        return None
    database = Path(uri[len("sqlite:///"):])
    return (database.parent / "mlartifacts").as_uri()


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


def frame_hash(*frames) -> str:
    """SHA-256 of DataFrames' content (values, columns, index), independent of memory layout.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1, 2]})
    >>> frame_hash(a) == frame_hash(a.copy()) and frame_hash(a) != frame_hash(a + 1)
    True
    """
    import pandas as pd

    digest = hashlib.sha256()
    for frame in frames:
        if frame is None:
            digest.update(b"<none>")
            continue
        digest.update(json.dumps([str(c) for c in frame.columns]).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    return digest.hexdigest()


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
