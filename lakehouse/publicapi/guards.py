"""What stands in front of the public API: read-only, rate-limited, open to browsers.

Plain ASGI middleware (no dependency): the public is anonymous, so a per-client token bucket
keyed by the client's address is the whole policy — each client may make ``burst`` requests
at once and ``rate_per_minute`` sustained; past that it gets 429 with ``Retry-After`` (whole
seconds until a token is back) in Open311's error shape. Behind a reverse proxy, run uvicorn
with ``--proxy-headers --forwarded-allow-ips <proxy>`` so the client address is the citizen's,
not the proxy's.

Only GET and HEAD exist: any other method is 405 with ``Allow: GET, HEAD`` before it reaches
a route, so nothing here can ever write. Responses say ``Access-Control-Allow-Origin: *``
(open data is meant to be fetched from anyone's web page) and ``nosniff``.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lakehouse.publicapi.render import error_response, format_of

ALLOWED_METHODS = ("GET", "HEAD")
UNTHROTTLED = ("/health",)  # liveness probes


class TokenBuckets:
    """One bucket per client: ``burst`` tokens, refilled at ``rate_per_second``."""

    def __init__(self, rate_per_second: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 100_000):
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("a rate limit needs a positive rate and a burst of at least 1")
        self.rate, self.burst, self.clock, self.max_clients = rate_per_second, burst, clock, max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def take(self, client: str) -> float:
        """Spend a token: 0.0 if there was one, else the seconds until there is."""
        now = self.clock()
        tokens, at = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - at) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self._buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)
        while len(self._buckets) > self.max_clients:  # forget the longest idle (their bucket is full again)
            self._buckets.popitem(last=False)
        return wait


class RateLimitMiddleware:
    """429 with ``Retry-After`` once a client's bucket is empty."""

    def __init__(self, app: ASGIApp, *, rate_per_minute: float, burst: int):
        self.app = app
        self.buckets = TokenBuckets(rate_per_minute / 60.0, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTHROTTLED:
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        wait = self.buckets.take(client)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            response = error_response(429, f"too many requests: try again in {retry} s",
                                      format_of(scope["path"]), {"Retry-After": str(retry)})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class ReadOnlyMiddleware:
    """Only GET and HEAD (answered as GET without a body); anything else is 405."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        if method not in ALLOWED_METHODS:
            response = error_response(405, f"method {method} not allowed: this API is read-only",
                                      format_of(scope["path"]), {"Allow": ", ".join(ALLOWED_METHODS)})
            await response(scope, receive, send)
            return
        if method == "HEAD":
            async def headers_only(message: Message) -> None:
                if message["type"] == "http.response.body":
                    if message.get("more_body"):
                        return  # the body is dropped; only its end is passed on
                    message = {"type": "http.response.body", "body": b"", "more_body": False}
                await send(message)

            await self.app({**scope, "method": "GET"}, receive, headers_only)
            return
        await self.app(scope, receive, send)


class PublicHeadersMiddleware:
    """``Access-Control-Allow-Origin: *`` and ``X-Content-Type-Options: nosniff`` on every answer."""

    EXTRA = ((b"access-control-allow-origin", b"*"), (b"x-content-type-options", b"nosniff"))

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [h for h in self.EXTRA if h[0] not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)


__all__ = ["ALLOWED_METHODS", "PublicHeadersMiddleware", "RateLimitMiddleware", "ReadOnlyMiddleware",
           "TokenBuckets"]
