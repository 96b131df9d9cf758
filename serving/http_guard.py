"""What the HTTP service checks before a request body is parsed, and how it logs refusals.

:class:`RequestGuard` is an ASGI middleware in front of the API routes. It answers, without
parsing anything:

* **415** when a ``POST`` is not ``Content-Type: application/json`` (a browser page can
  POST a form to any origin without asking first; it cannot send JSON that way);
* **413** when the body is over :func:`body_limit` bytes, by ``Content-Length`` before
  reading, and while reading a chunked body, as soon as it passes the limit;
* **408** when the client stops sending its body for :data:`DEFAULT_BODY_TIMEOUT` seconds
  (``CUSTOMER_HEALTH_BODY_TIMEOUT``): a client error, not the 504 of a slow service.

Otherwise the body, read whole (it is small by then), goes on to the service. Every 4xx of
the API routes is logged as one line naming the status, the route and where the problem is
(field paths, never values); BentoML's own error log with a traceback and the offending
input is dropped for them (:class:`ClientErrorTracebacks`).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from http import HTTPStatus
from typing import Any

# An account at its largest: 81 fields with long numbers and four 200-character labels,
# every character escaped (\\uXXXX) is about 7.5 KB of JSON.
ACCOUNT_BYTES = 8 * 1024
ENVELOPE_BYTES = 64 * 1024  # {"accounts": [...]} plus whitespace and indentation
DEFAULT_BODY_TIMEOUT = 15.0
BODY_TIMEOUT_ENV = "CUSTOMER_HEALTH_BODY_TIMEOUT"
JSON_TYPE = "application/json"

log = logging.getLogger("bentoml.customer_health")


def body_limit(max_batch: int) -> int:
    """Most bytes a request body may have: ``max_batch`` accounts at their largest.

    Examples
    --------
    >>> body_limit(1000)
    8257536
    """
    return max_batch * ACCOUNT_BYTES + ENVELOPE_BYTES


def read_body_timeout(value: str | None) -> float:
    """Seconds a client may take to send its body, from ``CUSTOMER_HEALTH_BODY_TIMEOUT``.

    Examples
    --------
    >>> read_body_timeout(None), read_body_timeout("2.5")
    (15.0, 2.5)
    """
    if value is None or not value.strip():
        return DEFAULT_BODY_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise ValueError(f"{BODY_TIMEOUT_ENV} must be a number of seconds > 0, got {value!r}")
    return seconds


def problem_places(body: bytes) -> str:
    """Where an error answer says the problems are (``accounts[0].csat_90d``), no values.

    Examples
    --------
    >>> problem_places(b'{"error": "x", "detail": "accounts[0].foo: Extra inputs\\\\nbody: Invalid JSON"}')
    'accounts[0].foo, body'
    >>> problem_places(b'{"error": "accounts: account_id \\'A1\\' appears more than once"}')
    'accounts'
    """
    try:
        answer = json.loads(body)
        text = answer.get("detail") or answer.get("error") or ""
    except (ValueError, AttributeError):
        return "-"
    places = []
    for line in str(text).splitlines():
        place = line.split(":", 1)[0].strip()
        if place and " " not in place and place not in places:
            places.append(place)
    return ", ".join(places[:10]) or "-"


class ClientErrorTracebacks(logging.Filter):
    """Drop BentoML's ERROR-with-traceback record for a request the client got wrong.

    BentoML logs every refused request with its traceback, whose pydantic error repeats the
    offending input (a survey comment with a secret in it, 2 KB per bad request). The 4xx is
    logged as one line by :class:`RequestGuard` instead; a real server error keeps it.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info or record.exc_info[1] is None:
            return True
        from bentoml.exceptions import BentoMLException
        from pydantic import ValidationError

        error = record.exc_info[1]
        if isinstance(error, ValidationError):
            return False
        if isinstance(error, BentoMLException):
            return int(error.error_code) >= 500
        return True


async def _answer(send: Any, status: HTTPStatus, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": int(status),
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class _Refused(Exception):
    def __init__(self, status: HTTPStatus, message: str) -> None:
        super().__init__(message)
        self.status = status


class RequestGuard:
    """Refuse bodies that are too big, too slow or not JSON before anything parses them.

    Parameters
    ----------
    app
        The ASGI app behind (BentoML's).
    routes : tuple of str
        The API routes to guard; others (``/livez``, ``/metrics``...) pass untouched.
    max_bytes : int
        Body limit (:func:`body_limit` of the batch limit).
    timeout : float
        Seconds the whole body may take to arrive.
    """

    def __init__(self, app: Any, *, routes: tuple[str, ...], max_bytes: int, timeout: float) -> None:
        self.app = app
        self.routes = routes
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.routes:
            await self.app(scope, receive, send)
            return
        status: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def watch(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            elif message["type"] == "http.response.body" and 400 <= status.get("code", 0) < 500:
                chunks.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._log_refusal(scope, status["code"], b"".join(chunks))
            await send(message)

        if scope.get("method") != "POST":
            await self.app(scope, receive, watch)
            return
        try:
            self._check_headers(scope)
            body = await self._read_body(receive)
        except _Refused as refused:
            await _answer(watch, refused.status, str(refused))
            return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # then wait for the disconnect, as the app expects

        await self.app(scope, replay, watch)

    def _check_headers(self, scope: dict) -> None:
        headers = dict(scope.get("headers") or [])
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media != JSON_TYPE.encode():
            shown = media.decode("latin-1")[:60] or "none"
            raise _Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                           f"Content-Type: this API reads {JSON_TYPE} only, got {shown}; "
                           f"send the body as JSON with the header Content-Type: {JSON_TYPE}")
        length = headers.get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                raise _Refused(HTTPStatus.BAD_REQUEST, "Content-Length: not a whole number of bytes")
            if int(length) > self.max_bytes:
                raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._too_large(int(length)))

    def _too_large(self, size: int | None) -> str:
        sent = f"{size:,} bytes" if size is not None else "the body read so far"
        return (f"body: {sent} is over this service's limit of {self.max_bytes:,} bytes per "
                "request (its batch limit of accounts at their largest); split it into "
                "smaller batches")

    async def _read_body(self, receive: Any) -> bytes:
        deadline = time.monotonic() + self.timeout
        chunks, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                raise _Refused(HTTPStatus.REQUEST_TIMEOUT,
                               f"body: not received within {self.timeout:g} s; send the whole "
                               "request at once") from None
            if message["type"] == "http.disconnect":
                raise _Refused(HTTPStatus.BAD_REQUEST, "body: the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, self._too_large(None))
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    @staticmethod
    def _log_refusal(scope: dict, status: int, body: bytes) -> None:
        log.info("refused %s %s: %d %s at %s", scope.get("method"), scope.get("path"), status,
                 HTTPStatus(status).phrase, problem_places(body))
