"""Tests of serving/http_balance.py: busy workers send keep-alive clients elsewhere."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn

from serving.http_balance import ConnectionSpreader


class HeldApp:
    """An ASGI app that answers only once released, so requests pile up in flight."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, scope, receive, send) -> None:
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})


async def _answers(spreader: ConnectionSpreader, paths: list[str], release) -> list[bool]:
    """Send ``paths`` concurrently; whether each answer asked to close its connection."""
    closes: list[bool] = []

    async def request(path: str) -> None:
        async def receive():
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message):
            if message["type"] == "http.response.start":
                closes.append((b"connection", b"close") in message["headers"])

        await spreader({"type": "http", "path": path, "method": "POST"}, receive, send)

    tasks = [asyncio.create_task(request(path)) for path in paths]
    await asyncio.sleep(0)  # every request is now in flight, held by the app
    release.set()
    await asyncio.gather(*tasks)
    return closes


def test_a_worker_over_its_share_closes_connections_until_it_is_back_under():
    app = HeldApp()
    spreader = ConnectionSpreader(app, routes=("/score",), most_in_flight=2, close_one_in=1)
    closes = asyncio.run(_answers(spreader, ["/score"] * 5, app.release))
    # Answered one by one: at 5, 4 and 3 in flight the worker is over 2, then it is not.
    assert closes == [True, True, True, False, False]
    assert spreader.in_flight == 0


def test_only_one_answer_in_a_few_closes_so_busy_balanced_workers_keep_most_connections():
    app = HeldApp()
    spreader = ConnectionSpreader(app, routes=("/score",), most_in_flight=0, close_one_in=2)
    closes = asyncio.run(_answers(spreader, ["/score"] * 5, app.release))
    assert closes == [False, True, False, True, False]


def test_a_worker_under_its_share_keeps_every_connection():
    app = HeldApp()
    spreader = ConnectionSpreader(app, routes=("/score",), most_in_flight=16)
    assert asyncio.run(_answers(spreader, ["/score"] * 5, app.release)) == [False] * 5


def test_probes_and_metrics_neither_count_nor_close():
    app = HeldApp()
    spreader = ConnectionSpreader(app, routes=("/score",), most_in_flight=0)
    assert asyncio.run(_answers(spreader, ["/livez", "/metrics"], app.release)) == [False, False]


def test_the_real_server_closes_the_connection_after_an_answer_over_the_share():
    async def answer(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    spreader = ConnectionSpreader(answer, routes=("/score",), most_in_flight=0, close_one_in=1)
    config = uvicorn.Config(spreader,
                            host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)

        def exchange(path: str) -> tuple[bytes, bytes]:
            """The answer to one keep-alive request, then what follows it on the connection."""
            with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                client.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                               "\r\nContent-Length: 2\r\n\r\n{}".encode())
                answer = client.recv(4096)
                client.settimeout(0.5)
                try:
                    after = client.recv(4096)  # b"" once the server has closed its side
                except TimeoutError:
                    after = b"still open"
                return answer, after

        answer, after = exchange("/score")
        assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" in answer.lower()
        assert after == b""
        answer, after = exchange("/livez")
        assert answer.startswith(b"HTTP/1.1 200") and after == b"still open"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
