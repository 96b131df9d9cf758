"""``serve``: run the HTTP service (``bentoml serve``) until a termination signal.

The server runs as a child process in a process group of its own. Every termination signal
this command receives (SIGTERM from systemd, docker or Kubernetes, SIGINT from Ctrl-C,
SIGHUP from a closed terminal) is passed on to that whole group as SIGTERM, so BentoML and
its workers stop and free the port; past :data:`STOP_GRACE_SECONDS` they are killed. A
stop asked for this way exits 0.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import typer
from rich.console import Console

from features.scorecard import ScorecardConfigError
from features.scorecard_config import load_scorecard
from serving.errors import UserError, report_errors

SERVE_HELP = (
    "Start the HTTP service (BentoML): /health_score, /churn_risk, /score, /model, plus "
    "/livez, /readyz and /metrics.\n\n"
    "The service loads the model once at start-up: restart it to pick up a new champion. "
    "It starts and answers /health_score even when no model is registered yet. It listens "
    "on 127.0.0.1 unless --host says otherwise, and stops cleanly on SIGTERM, SIGINT or SIGHUP."
)
SERVE_EPILOG = (
    "Examples:\n\n"
    "  customer-health serve\n\n"
    "  customer-health serve --port 8080 --host 0.0.0.0 --model models:/customer-health-churn@champion\n\n"
    "  customer-health serve --workers 2 --max-batch 500\n\n"
    "  MLFLOW_TRACKING_URI=http://mlflow:5000 customer-health serve --scorecard my_scorecard.toml\n\n"
    "Then: curl -s localhost:3000/health_score -H 'content-type: application/json' "
    "-d '{\"accounts\": [{\"account_id\": \"A1\", \"csat_90d\": 62.5}]}'. "
    "The model store is MLFLOW_TRACKING_URI (default ./mlflow.db in the current folder). "
    "docs/service.md lists every endpoint, the limits and how to expose the service safely."
)

# What systemd, docker, Kubernetes, a terminal's Ctrl-C and a closed terminal send.
TERMINATION_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
# How long BentoML gets to finish requests in flight and stop its workers before a SIGKILL.
STOP_GRACE_SECONDS = 20.0


def _signal_group(group: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signum)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of the group still exists
        return True
    return True


def _stop_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM the server's process group, wait for all of it, SIGKILL what is left."""
    _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=grace)
    # Workers may outlive the arbiter by a moment: wait for the whole group.
    while _group_alive(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _group_alive(process.pid):
        _signal_group(process.pid, signal.SIGKILL)
    process.wait()


def run_until_stopped(command: list[str], env: dict[str, str], *,
                      grace: float = STOP_GRACE_SECONDS, console: Console | None = None) -> int:
    """Run ``command`` in its own process group until it exits or a signal stops it.

    Parameters
    ----------
    command, env
        The server's command line and environment.
    grace : float
        Seconds the server gets to stop after a termination signal before it is killed.
    console : Console, optional
        Where to say which signal stopped the server.

    Returns
    -------
    int
        0 when a termination signal stopped the server, else the server's own exit code.
    """
    received: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in TERMINATION_SIGNALS}

    def note(signum: int, frame: object) -> None:
        received.append(signum)

    # Handlers first: a signal that arrives while the child starts is not lost.
    for signum in TERMINATION_SIGNALS:
        signal.signal(signum, note)
    try:
        process = subprocess.Popen(command, env=env, start_new_session=True)
        while process.poll() is None and not received:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=0.2)
        if received:
            if console is not None:
                console.print(f"{signal.Signals(received[0]).name}: stopping the service ...")
            # Further signals while stopping are noted and ignored: the stop is under way.
            _stop_group(process, grace)
            if console is not None:
                console.print("the service stopped; the port is free")
            return 0
        _stop_group(process, grace)  # the arbiter exited on its own: no orphaned worker
        return process.returncode
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve(
    port: int = typer.Option(3000, "--port", "-p", help="Port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Interface to bind; 0.0.0.0 for every one (see docs/service.md first)."),
    model: str | None = typer.Option(
        None, "--model", help="MLflow model URI; default models:/customer-health-churn@champion."
    ),
    scorecard: Path | None = typer.Option(
        None, "--scorecard",
        help="Scorecard TOML; default the shipped one that fits the model's churn definition "
             "(the transactional one for a model trained on a lapse).",
    ),
    max_batch: int | None = typer.Option(
        None, "--max-batch", min=1, help="Most accounts per request (default 1000)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Worker processes (default one per CPU core); each loads the model."
    ),
) -> None:
    """Start the HTTP service until stopped by a signal."""
    from models.tracking import missing_store, tracking_uri

    console = Console(stderr=True, highlight=False)
    with report_errors():
        if scorecard is not None:
            try:
                load_scorecard(scorecard)  # fail here, not in a worker's start-up log
            except (ScorecardConfigError, FileNotFoundError) as exc:
                raise UserError(str(exc)) from None
        store = tracking_uri()
        absent = missing_store(store)
        if absent and not (model or "models:/").startswith("models:/"):
            absent = None  # a model given by path or run needs no registry
        if absent:
            console.print(f"[yellow]no churn model[/]: {absent}. Serving health scores only.",
                          markup=True, soft_wrap=True)
        else:
            console.print(f"model store: {store}", soft_wrap=True)
        env = dict(os.environ, BENTOML_DO_NOT_TRACK="true")
        if model:
            env["CUSTOMER_HEALTH_MODEL_URI"] = model
        if scorecard is not None:
            env["CUSTOMER_HEALTH_SCORECARD"] = str(scorecard.resolve())
        if max_batch is not None:
            env["CUSTOMER_HEALTH_MAX_BATCH"] = str(max_batch)
        if workers is not None:
            env["CUSTOMER_HEALTH_WORKERS"] = str(workers)
        command = [sys.executable, "-m", "bentoml", "serve", "serving.service:CustomerHealth",
                   "--port", str(port), "--host", host]
        code = run_until_stopped(command, env, console=console)
        if code != 0:
            raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the CLI."""
    app.command("serve", help=SERVE_HELP, epilog=SERVE_EPILOG)(serve)
