"""Spreading client connections over the service's worker processes.

The workers share one listening socket, and a worker that wakes up accepts every connection
waiting at that moment. Fifty keep-alive clients connecting at once all landed on one of two
workers: it ran its core flat out with 50 requests queued while the other sat idle, half
the capacity and twice the wait. :class:`ConnectionSpreader` answers with
``Connection: close`` while its worker has more requests in flight than
:func:`fair_share` of the clients it can expect; the client's next connection goes to
whichever worker accepts first, which is the idle one (the busy one is still computing).
Balanced workers stay under their share and keep their connections.
"""

from __future__ import annotations

from typing import Any

# Requests in flight one worker may hold before it sends clients elsewhere. A worker with
# 16 one-account requests queued (4 ms of CPU each) answers the last one about 64 ms later;
# past that, a reconnection (well under a millisecond on a LAN) is the cheaper wait.
DEFAULT_MOST_IN_FLIGHT = 16


class ConnectionSpreader:
    """Close the connection after an answer while this worker is over its share of requests.

    Parameters
    ----------
    app
        The ASGI app behind.
    routes : tuple of str
        The routes whose requests count (the API's; probes and ``/metrics`` pass untouched).
    most_in_flight : int
        Requests in flight in this worker above which answers close their connection.
    """

    def __init__(self, app: Any, *, routes: tuple[str, ...],
                 most_in_flight: int = DEFAULT_MOST_IN_FLIGHT) -> None:
        self.app = app
        self.routes = routes
        self.most_in_flight = most_in_flight
        self.in_flight = 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.routes:
            await self.app(scope, receive, send)
            return

        async def spread(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and self.in_flight > self.most_in_flight:
                # uvicorn reads this header and closes the connection after the answer.
                message = {**message, "headers": [*message.get("headers", ()),
                                                  (b"connection", b"close")]}
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, receive, spread)
        finally:
            self.in_flight -= 1
