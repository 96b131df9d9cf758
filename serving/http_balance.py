"""Spreading client connections over the service's worker processes.

The workers share one listening socket, and a worker that wakes up accepts every connection
waiting at that moment. Fifty keep-alive clients connecting at once can nearly all land on
one of two workers (measured: 35% of a core busy in one worker, 3% in the other): half the
capacity, and every request queued behind 50. :class:`ConnectionSpreader` answers one request in
:data:`DEFAULT_CLOSE_ONE_IN` with ``Connection: close`` while its worker has more than
:data:`DEFAULT_MOST_IN_FLIGHT` requests in flight; that client's next connection goes to
whichever worker accepts first, which is the idle one (the busy one is still computing).
Only one answer in a few closes its connection, so workers that are busy because every
worker is busy reconnect a fraction of their clients, not all of them on every request.
"""

from __future__ import annotations

from typing import Any

# Requests in flight one worker may hold before it sends clients elsewhere. A worker with
# 16 one-account requests queued (4 ms of CPU each) answers the last one about 64 ms later;
# past that, a reconnection (well under a millisecond on a LAN) is the cheaper wait.
DEFAULT_MOST_IN_FLIGHT = 16
# A 50-to-0 split is undone in about a second at 200 answers/s, and balanced workers that
# are both over the mark reconnect a quarter of their requests' connections, not all.
DEFAULT_CLOSE_ONE_IN = 4


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
    close_one_in : int
        Of the answers given while over ``most_in_flight``, which share close (1 in this).
    """

    def __init__(self, app: Any, *, routes: tuple[str, ...],
                 most_in_flight: int = DEFAULT_MOST_IN_FLIGHT,
                 close_one_in: int = DEFAULT_CLOSE_ONE_IN) -> None:
        self.app = app
        self.routes = routes
        self.most_in_flight = most_in_flight
        self.close_one_in = close_one_in
        self.in_flight = 0
        self.answered_over = 0  # answers given while over the mark

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") not in self.routes:
            await self.app(scope, receive, send)
            return

        async def spread(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and self.in_flight > self.most_in_flight:
                self.answered_over += 1
                if self.answered_over % self.close_one_in == 0:
                    # uvicorn reads this header and closes the connection after the answer.
                    message = {**message, "headers": [*message.get("headers", ()),
                                                      (b"connection", b"close")]}
            await send(message)

        self.in_flight += 1
        try:
            await self.app(scope, receive, spread)
        finally:
            self.in_flight -= 1
