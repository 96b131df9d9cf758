"""The real server: ``customer-health serve`` (``bentoml serve``) on a free port.

The model comes from a real MLflow registry (a copy of the session's SQLite store) found by
its ``champion`` alias. The server is restarted once, after a new version became champion,
to show that the new champion is picked up. Schemathesis fuzzes the OpenAPI document
against the running server: no 5xx and no answer that breaks the document's schemas.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from serving.schemas import request_bodies

pytestmark = pytest.mark.slow  # starts the real `bentoml serve`

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120
# Per operation and mode: 3 POST operations x (valid + invalid) + 5 GET routes, x 45 ~ 500 cases.
FUZZ_EXAMPLES = 45


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``customer-health serve`` on a free port, which runs ``bentoml serve``; its URL."""

    def __init__(self, env: dict[str, str], log: Path, *options: str,
                 command: tuple[str, ...] = ("serving.cli", "serve", "--host", "127.0.0.1")) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", *command, "--port", str(self.port), *options]
        with open(log, "ab") as sink:
            # A session of its own, so that stopping it stops BentoML's workers too.
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdout=sink,
                                            stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_until_alive()

    def _wait_until_alive(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bentoml serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/livez", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"bentoml serve did not start in {START_TIMEOUT} s: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture(scope="module")
def server_store(store, tmp_path_factory):
    """A copy of the session's registry that this module may change (new champion)."""
    root = tmp_path_factory.mktemp("server_store")
    shutil.copyfile(store.root / "mlflow.db", root / "mlflow.db")
    return f"sqlite:///{root / 'mlflow.db'}", store


@pytest.fixture(scope="module")
def server_env(server_store, tmp_path_factory):
    uri, _ = server_store
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUSTOMER_HEALTH_")}
    env.update(MLFLOW_TRACKING_URI=uri, BENTOML_DO_NOT_TRACK="true",
               BENTOML_HOME=str(tmp_path_factory.mktemp("bentoml_home")))
    return env


@pytest.fixture(scope="module")
def server(server_env, tmp_path_factory):
    running = Server(server_env, tmp_path_factory.mktemp("server_log") / "bentoml.log",
                     "--model", "models:/customer-health-churn@champion")
    yield running
    running.stop()


def test_the_served_model_is_the_registry_champion_and_the_server_is_ready(server, server_store):
    from mlflow import MlflowClient

    uri, _ = server_store
    champion = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias(
        "customer-health-churn", "champion")
    info = httpx.get(f"{server.url}/model", timeout=10).json()
    assert info["version"] == str(champion.version) and info["alias"] == "champion"
    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200


def test_the_server_scores_real_accounts_and_counts_requests(server, serving_indicators):
    accounts = request_bodies(serving_indicators.head(20))
    response = httpx.post(f"{server.url}/score", json={"accounts": accounts}, timeout=30)
    assert response.status_code == 200
    body = response.json()
    assert len(body["accounts"]) == 20 and body["model"]["alias"] == "champion"
    assert all(0 <= a["churn_probability"] <= 1 for a in body["accounts"])
    bad = httpx.post(f"{server.url}/score", json={"accounts": [{"account_id": "x", "csat_90d": 101}]})
    assert bad.status_code == 400 and "accounts[0].csat_90d" in bad.json()["error"]
    metrics = httpx.get(f"{server.url}/metrics", timeout=10)
    assert metrics.status_code == 200 and 'endpoint="/score"' in metrics.text


def test_fuzzing_the_openapi_document_finds_no_server_error_and_no_schema_violation(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json")
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    cases, operations = 0, set()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.add(f"{operation.method.upper()} {operation.path}")
        modes = [schemathesis.GenerationMode.POSITIVE]
        if operation.method.upper() == "POST":  # the GET routes have no input to make invalid
            modes.append(schemathesis.GenerationMode.NEGATIVE)
        for mode in modes:

            @settings(max_examples=FUZZ_EXAMPLES, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                nonlocal cases
                cases += 1
                case.call_and_validate(base_url=server.url, checks=checks, timeout=30)

            fuzz()
    assert cases >= 200 and operations == {
        "POST /health_score", "POST /churn_risk", "POST /score", "GET /model", "GET /livez",
        "GET /readyz", "GET /healthz", "GET /metrics"}


def test_a_new_champion_is_picked_up_after_a_restart(server, server_env, server_store, tmp_path_factory):
    import mlflow
    from mlflow import MlflowClient

    uri, store = server_store
    before = httpx.get(f"{server.url}/model", timeout=10).json()["version"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow.set_registry_uri(uri)
    new = mlflow.register_model(store.model_uri, "customer-health-churn").version
    client.set_registered_model_alias("customer-health-churn", "champion", new)
    assert httpx.get(f"{server.url}/model", timeout=10).json()["version"] == before  # loaded once

    server.stop()
    restarted = Server(server_env, tmp_path_factory.mktemp("restart_log") / "bentoml.log")
    try:
        info = httpx.get(f"{restarted.url}/model", timeout=10).json()
        assert info["version"] == str(new) != before
    finally:
        restarted.stop()


def port_is_free(port: int) -> bool:
    """True when a new server could listen on ``port`` (what a restart needs)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP],
                         ids=["SIGTERM", "SIGINT", "SIGHUP"])
def test_a_termination_signal_stops_the_server_and_its_workers_and_frees_the_port(
        signum, server_env, tmp_path):
    running = Server(server_env, tmp_path / "bentoml.log")
    try:
        family = psutil.Process(running.process.pid).children(recursive=True)
        assert family, "bentoml serve and its workers run as children of the command"
        # To the command alone, as systemd, docker and Kubernetes send it.
        running.process.send_signal(signum)
        assert running.process.wait(timeout=60) == 0, running.log.read_text()[-2000:]
        _, survivors = psutil.wait_procs(family, timeout=5)
        assert survivors == []
        assert port_is_free(running.port)
        assert "stopping the service" in running.log.read_text()
    finally:
        running.stop()


# --- `bentoml serve` run directly, and what reaches the service --------------------------


def read_answer(conn: socket.socket) -> str:
    """The whole answer on a raw connection: the server closes it after a refusal."""
    parts = []
    while chunk := conn.recv(65536):
        parts.append(chunk)
    return b"".join(parts).decode()

BODY_TIMEOUT = 2  # seconds, so that the stalled-body test is quick


@pytest.fixture(scope="module")
def direct_server(server_env, tmp_path_factory):
    """``bentoml serve serving.service:CustomerHealth`` as docs/service.md offers: no --host."""
    env = dict(server_env, CUSTOMER_HEALTH_BODY_TIMEOUT=str(BODY_TIMEOUT))
    running = Server(env, tmp_path_factory.mktemp("direct_log") / "bentoml.log",
                     command=("bentoml", "serve", "serving.service:CustomerHealth"))
    yield running
    running.stop()


def test_bentoml_serve_run_directly_listens_on_loopback_only(direct_server):
    family = [psutil.Process(direct_server.process.pid),
              *psutil.Process(direct_server.process.pid).children(recursive=True)]
    listening = {c.laddr.ip for p in family for c in p.net_connections("tcp")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == direct_server.port}
    assert listening == {"127.0.0.1"}


def test_a_huge_streamed_body_is_refused_with_413_without_being_read(direct_server):
    sent = 0
    total = 300 * 2**20

    def body():  # chunked: no Content-Length to judge by, the limit applies while reading
        nonlocal sent
        chunk = b" " * 2**20
        while sent < total:
            sent += len(chunk)
            yield chunk

    start = time.perf_counter()
    try:
        response = httpx.post(f"{direct_server.url}/score", content=body(), timeout=60,
                              headers={"content-type": "application/json"})
        status, answer = response.status_code, response.json()["error"]
    except httpx.WriteError:  # the server answered and closed before the upload ended
        status, answer = 413, None
    seconds = time.perf_counter() - start
    assert status == 413 and (answer is None or "over this service's limit" in answer)
    assert sent < total / 4, f"{sent:,} of {total:,} bytes were sent before the 413"
    # Before the limit, reading 300 MB took 40 s; a generous bound for a loaded machine.
    assert seconds < 10, f"the 413 took {seconds:.1f} s"


def test_a_declared_huge_body_is_refused_by_its_content_length_at_once(direct_server):
    with socket.create_connection(("127.0.0.1", direct_server.port), timeout=10) as conn:
        conn.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 300000000\r\n\r\n{\"accounts\": [")
        answer = read_answer(conn)
    assert answer.startswith("HTTP/1.1 413") and "300,000,000 bytes is over" in answer


def test_a_client_that_stops_sending_its_body_gets_408(direct_server):
    with socket.create_connection(("127.0.0.1", direct_server.port), timeout=BODY_TIMEOUT + 20) as conn:
        start = time.perf_counter()
        conn.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"accounts\": [")
        answer = read_answer(conn)
        waited = time.perf_counter() - start
    assert answer.startswith("HTTP/1.1 408"), answer[:200]
    assert "not received within 2 s" in answer and waited >= BODY_TIMEOUT


def test_the_server_log_has_one_line_and_no_values_for_a_bad_request(direct_server):
    secret = "hunter2-not-for-logs"
    response = httpx.post(f"{direct_server.url}/score", timeout=30,
                          json={"accounts": [{"account_id": "A", "comment": secret}]})
    assert response.status_code == 400
    time.sleep(1)  # the workers' log lines reach the file
    log = direct_server.log.read_text()
    assert secret not in log and "Traceback" not in log
    assert "refused POST /score: 400 Bad Request at accounts[0].comment" in log
