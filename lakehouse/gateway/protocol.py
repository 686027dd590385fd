"""The Trino client REST protocol (v1), as the ``trino`` client, JDBC and the CLI speak it.

* ``POST /v1/statement`` — the SQL in the body; the session in ``X-Trino-User``,
  ``-Catalog``, ``-Schema``, ``-Session``, ``-Prepared-Statement``, ``-Source``. The answer is a
  ``QueryResults`` document: ``id``, ``infoUri``, ``nextUri`` while there is more, ``columns``
  (with full type signatures), ``data``, ``stats.state`` (QUEUED, RUNNING, FINISHED, FAILED),
  ``error`` (``errorName``, ``errorType``, ``errorCode``, ``message``), ``updateType``.
* ``GET {nextUri}`` — the next page (long-polled up to a second); the same token again
  re-sends the same page (a client retrying after a network error loses nothing).
* ``DELETE {nextUri}`` — cancels: 204, and any later ``GET`` answers ``USER_CANCELED``.
* ``GET /v1/info`` — always public (health checks); ``GET /v1/query/{id}`` — the owner's view.

Authentication is HTTP Basic against the password file when one is configured; the
authenticated user may run queries as another user only where ``rules.json``'s
``impersonation`` rules allow it (Superset runs each department's query as that department).
The handler writes each response in one buffered write with Nagle off: written the stdlib's
default way (headers and body apart), every request paid 40 ms of delayed-ACK stall.
"""

from __future__ import annotations

import logging
import re
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import unquote, unquote_plus

import orjson

from lakehouse.gateway.errors import TrinoError, access_denied
from lakehouse.gateway.queries import Query
from lakehouse.gateway.translate import GATEWAY_VERSION, SessionContext

if TYPE_CHECKING:
    from lakehouse.gateway.server import SqlGateway

log = logging.getLogger(__name__)
_EXECUTING = re.compile(r"^/v1/statement/executing/(?P<id>[\w]+)/(?P<slug>\w+)/(?P<token>\d+)$")
_QUERY_INFO = re.compile(r"^/v1/query/(?P<id>\w+)$")
WAIT_S = 1.0  # Trino's default long-poll wait for a page
MAX_SQL_BYTES = 1_000_000


def _pairs(header: str | None, unquote_value) -> dict[str, str]:
    pairs = {}
    for item in (header or "").split(","):
        name, sep, value = item.strip().partition("=")
        if sep and name:
            pairs[name.strip()] = unquote_value(value.strip())
    return pairs


def _stats(query: Query) -> dict:
    elapsed = int(((query.finished_at or time.time()) - query.started) * 1000)
    return {"state": query.state, "queued": query.state == "QUEUED", "scheduled": query.state != "QUEUED",
            "nodes": 1, "totalSplits": 0, "queuedSplits": 0, "runningSplits": 0, "completedSplits": 0,
            "cpuTimeMillis": 0, "wallTimeMillis": elapsed, "queuedTimeMillis": 0, "elapsedTimeMillis": elapsed,
            "processedRows": query.rows_sent, "processedBytes": query.bytes_sent, "physicalInputBytes": 0,
            "peakMemoryBytes": 0, "spilledBytes": 0}


class TrinoProtocolHandler(BaseHTTPRequestHandler):
    """One HTTP request. ``self.server.gateway`` holds the shared state."""

    protocol_version = "HTTP/1.1"
    wbufsize = -1  # buffer the response: headers and body leave in one write
    disable_nagle_algorithm = True
    server_version = "ioc-sql-gateway"

    @property
    def gateway(self) -> SqlGateway:
        return self.server.gateway  # type: ignore[attr-defined]

    def log_message(self, format: str, *args) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    # -- plumbing ---------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] = (),
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def _text(self, status: int, message: str, headers: list[tuple[str, str]] = ()) -> None:
        self._send(status, message.encode(), headers, "text/plain; charset=utf-8")

    def _base_url(self) -> str:
        scheme = "https" if self.gateway.tls else "http"
        return f"{scheme}://{self.headers.get('Host') or self._bound()}"

    def _bound(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def _principal(self) -> tuple[bool, str | None]:
        """(ok, authenticated user). Without a password file nobody authenticates (loopback)."""
        passwords = self.gateway.passwords
        if passwords is None:
            return True, None
        user = passwords.authenticate(self.headers.get("Authorization"))
        if user is None:
            self._text(HTTPStatus.UNAUTHORIZED, "Unauthorized: valid credentials are required",
                       [("WWW-Authenticate", 'Basic realm="Trino"')])
            return False, None
        return True, user

    def _respond(self, query: Query, data: bytes | None, more: bool) -> None:
        document = {"id": query.id, "infoUri": f"{self._base_url()}/v1/query/{query.id}"}
        if more:
            document["nextUri"] = f"{self._base_url()}/v1/statement/executing/{query.id}/{query.slug}/{query.token + 1}"
        if query.columns is not None:
            document["columns"] = query.columns
        document["stats"] = _stats(query)
        document["warnings"] = []
        if query.error is not None:
            document["error"] = query.error.to_json()
        if query.update_type and query.done:
            document["updateType"] = query.update_type
        body = orjson.dumps(document)
        if data is not None:
            body = body[:-1] + b',"data":[' + data + b"]}"
        headers = query.headers if query.done and query.error is None else []
        query.token += 1
        query.last_response = (query.token - 1, body, headers)
        self._send(HTTPStatus.OK, body, headers)

    def _advance(self, query: Query, wait: float) -> None:
        """Answer with the query's next page, its end, its error, or that it still runs."""
        query.last_seen = time.monotonic()
        if query.done:
            return self._respond(query, None, more=False)
        item = query.next_item(wait)
        if item is None:
            return self._respond(query, None, more=not query.done)
        if item.error is not None:
            query.finish("FAILED", item.error)
            return self._respond(query, None, more=False)
        page = item.page
        query.rows_sent += page.rows
        query.bytes_sent += len(page.data)
        if item.last:
            query.finish("FINISHED")
        self._respond(query, page.data if page.rows else None, more=not item.last)

    # -- endpoints --------------------------------------------------------------------------
    def do_POST(self) -> None:
        if self.path.split("?")[0] != "/v1/statement":
            return self._text(HTTPStatus.NOT_FOUND, f"Not found: {self.path}")
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_SQL_BYTES:
            return self._text(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "Query text too large")
        sql = self.rfile.read(length).decode("utf-8", errors="replace")
        ok, principal = self._principal()
        if not ok:
            return
        user = self.headers.get("X-Trino-User") or principal
        if not user:
            return self._text(HTTPStatus.BAD_REQUEST, "Error: X-Trino-User must be set")
        rules = self.gateway.rules()
        ctx = SessionContext(
            rules.identity(user),
            catalog=(self.headers.get("X-Trino-Catalog") or "").lower() or None,
            schema=(self.headers.get("X-Trino-Schema") or "").lower() or None,
            properties=_pairs(self.headers.get("X-Trino-Session"), unquote),
            prepared={k.lower(): v for k, v in
                      _pairs(self.headers.get("X-Trino-Prepared-Statement"), unquote_plus).items()},
            source=self.headers.get("X-Trino-Source"))
        refusal = None
        if principal is not None and not rules.may_impersonate(principal, user):
            refusal = access_denied(f"User {principal} cannot impersonate user {user}")
        elif not rules.may_execute(ctx.identity):
            refusal = access_denied("Cannot execute query")
        runner = self.gateway.runner
        query = runner.submit(sql, ctx, principal, self.client_address[0], refused=refusal)
        with query.serve_lock:
            self._advance(query, WAIT_S)

    def _query_from_path(self, principal: str | None) -> tuple[Query | None, int | None]:
        found = _EXECUTING.match(self.path.split("?")[0])
        if not found:
            self._text(HTTPStatus.NOT_FOUND, f"Not found: {self.path}")
            return None, None
        query = self.gateway.runner.get(found["id"])
        if query is None or query.slug != found["slug"]:
            self._text(HTTPStatus.NOT_FOUND, f"Query not found: {found['id']}")
            return None, None
        return query, int(found["token"])

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path in ("/v1/info", "/v1/status"):
            return self._send(HTTPStatus.OK, orjson.dumps({
                "nodeVersion": {"version": GATEWAY_VERSION}, "environment": "ioc-embedded", "coordinator": True,
                "starting": False, "uptime": f"{time.monotonic() - self.gateway.started:.0f}s"}))
        if path == "/v1/info/state":
            return self._send(HTTPStatus.OK, b'"ACTIVE"')
        ok, principal = self._principal()
        if not ok:
            return
        if found := _QUERY_INFO.match(path):
            query = self.gateway.runner.get(found["id"])
            if query is None or (principal is not None and principal != query.principal):
                return self._text(HTTPStatus.NOT_FOUND, f"Query not found: {found['id']}")
            return self._send(HTTPStatus.OK, orjson.dumps({
                "queryId": query.id, "state": query.state, "query": query.sql, "user": query.user,
                "tables": query.tables, "queryStats": _stats(query),
                "error": query.error.to_json() if query.error else None}))
        query, token = self._query_from_path(principal)
        if query is None:
            return
        if principal is not None and principal != query.principal:
            return self._text(HTTPStatus.NOT_FOUND, f"Query not found: {query.id}")
        with query.serve_lock:
            last = query.last_response
            if last is not None and token == last[0]:
                return self._send(HTTPStatus.OK, last[1], last[2])
            if token != query.token and not query.done:
                return self._text(HTTPStatus.GONE, f"Invalid token {token} for query {query.id}")
            self._advance(query, WAIT_S)

    def do_DELETE(self) -> None:
        ok, principal = self._principal()
        if not ok:
            return
        query, _ = self._query_from_path(principal)
        if query is None:
            return
        requester = principal or self.headers.get("X-Trino-User") or query.user
        if principal is not None and principal != query.principal and \
                not self.gateway.rules().may_kill(self.gateway.rules().identity(requester), query.user):
            return self._text(HTTPStatus.FORBIDDEN, f"Access Denied: Cannot kill query {query.id}")
        self.gateway.runner.cancel(query, TrinoError("USER_CANCELED", "Query was canceled"))
        self._send(HTTPStatus.NO_CONTENT, b"")


__all__ = ["WAIT_S", "TrinoProtocolHandler"]
