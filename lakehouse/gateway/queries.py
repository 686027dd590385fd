"""A query's life: planned, queued, running, paged to the client, finished, audited.

Each query runs on its own worker thread, which plans it (rules checked first: a refused
query never touches DuckDB), waits for one of ``max_running`` execution slots (QUEUED), then
executes and renders pages into a small queue (two pages ahead: the next page is being
encoded by DuckDB while the client reads this one). The HTTP handlers only take pages from
that queue, waiting at most ``wait`` seconds (Trino's long poll), so a slow query answers
RUNNING and the client polls ``nextUri``.

The worker reads one batch ahead, so the page it hands over knows whether it is the last:
a small result is answered entirely in the POST's response (one round trip, no ``nextUri``).

A query ends exactly once (:meth:`Query.finish`): delivered (FINISHED), failed, canceled by
``DELETE``, abandoned by its client, past ``query_max_run_time``, or stopped at shutdown.
That is when it is audited, with the rows that went back to the client.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count

import duckdb

from lakehouse.gateway.engine import Engine, Page
from lakehouse.gateway.errors import TrinoError
from lakehouse.gateway.statements import StatementPlanner, parse_duration
from lakehouse.gateway.translate import SessionContext
from lakehouse.gateway.types import BOOLEAN

log = logging.getLogger(__name__)
_COUNTER = count(1)
_AHEAD = 2  # pages rendered ahead of the client
_KEEP_LAST_PAGE_S = 60.0  # a finished query's last response is kept this long for a retried request


@dataclass
class Item:
    page: Page | None = None
    last: bool = False
    error: TrinoError | None = None


@dataclass
class Query:
    """One statement from one client, as the protocol layer and the audit see it."""

    id: str
    slug: str
    sql: str
    ctx: SessionContext
    principal: str | None
    client_address: str | None
    started: float = field(default_factory=time.time)
    state: str = "QUEUED"  # QUEUED | RUNNING | FINISHED | FAILED
    columns: list[dict] | None = None
    update_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    error: TrinoError | None = None
    rows_sent: int = 0
    bytes_sent: int = 0
    token: int = 0  # the token the next nextUri request must carry
    last_response: tuple[int, bytes, list[tuple[str, str]]] | None = None  # for a retried request
    last_seen: float = field(default_factory=time.monotonic)
    deadline: float | None = None
    finished_at: float | None = None
    items: queue.Queue = field(default_factory=lambda: queue.Queue(maxsize=_AHEAD))
    canceled: threading.Event = field(default_factory=threading.Event)
    cursor: object | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    serve_lock: threading.Lock = field(default_factory=threading.Lock)  # one HTTP request at a time
    on_finish: Callable[[Query], None] | None = None

    @property
    def user(self) -> str:
        return self.ctx.user

    @property
    def done(self) -> bool:
        return self.finished_at is not None

    def finish(self, state: str, error: TrinoError | None = None) -> bool:
        """End the query once; False when it had already ended."""
        with self.lock:
            if self.finished_at is not None:
                return False
            self.state, self.error, self.finished_at = state, error, time.time()
        if error is not None:
            self.canceled.set()
            interrupt = getattr(self.cursor, "interrupt", None)
            if interrupt:
                try:
                    interrupt()
                except duckdb.Error:  # the cursor may be closing; the worker stops on the event anyway
                    log.debug("query %s: interrupt after its cursor closed", self.id)
            _drain(self.items)
        if self.on_finish:
            self.on_finish(self)
        return True

    def next_item(self, wait: float) -> Item | None:
        try:
            return self.items.get(timeout=wait)
        except queue.Empty:
            return None


def _drain(items: queue.Queue) -> None:
    while True:
        try:
            items.get_nowait()
        except queue.Empty:
            return


def new_query_id() -> str:
    now = datetime.now(UTC)
    return f"{now:%Y%m%d_%H%M%S}_{next(_COUNTER) % 100000:05d}_{secrets.token_hex(3)[:5]}"


class QueryRunner:
    """Starts workers, bounds concurrency, keeps queries until their client read the end."""

    def __init__(self, engine: Engine, planner: StatementPlanner, rules: Callable, *, max_running: int,
                 page_rows: int, page_bytes: int, client_timeout_s: float, on_finish: Callable[[Query], None],
                 retain_s: float = 900.0):
        self.engine, self.planner, self.rules = engine, planner, rules
        self.page_rows, self.page_bytes = page_rows, page_bytes
        self.client_timeout_s, self.retain_s = client_timeout_s, retain_s
        self.on_finish = on_finish
        self.slots = threading.BoundedSemaphore(max_running)
        self.queries: dict[str, Query] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="query-reaper", daemon=True)
        self._reaper.start()

    def submit(self, sql: str, ctx: SessionContext, principal: str | None, client: str | None, *,
               refused: TrinoError | None = None) -> Query:
        """Start ``sql``; with ``refused`` (impersonation or execution denied) it fails at once."""
        query = Query(new_query_id(), secrets.token_hex(8), sql, ctx, principal, client, on_finish=self.on_finish)
        if refused is not None:
            with self._lock:
                self.queries[query.id] = query
            query.finish("FAILED", refused)
            return query
        limit = ctx.properties.get("query_max_run_time")
        if limit:
            try:
                query.deadline = time.monotonic() + parse_duration(limit)
            except TrinoError:
                pass  # reported by SET SESSION already; a bad header value is ignored
        with self._lock:
            self.queries[query.id] = query
        threading.Thread(target=self._work, args=(query,), name=f"query-{query.id}", daemon=True).start()
        return query

    def get(self, query_id: str) -> Query | None:
        with self._lock:
            return self.queries.get(query_id)

    def _put(self, query: Query, item: Item) -> bool:
        while not query.canceled.is_set():
            try:
                query.items.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _work(self, query: Query) -> None:
        try:
            plan = self.planner.plan(query.sql, query.ctx, self.rules())
            query.tables, query.update_type, query.headers = plan.tables, plan.update_type, plan.headers
            if plan.sql is None:  # session statements: Trino answers one boolean row
                query.columns = [BOOLEAN.column("result")]
                query.state = "RUNNING"
                self._put(query, Item(Page(b"[true]", 1), last=True))
                return
            with self.slots:
                if query.canceled.is_set():
                    return
                query.state = "RUNNING"
                cursor = query.cursor = self.engine.cursor()
                try:
                    names, types, pages = self.engine.run(plan, cursor, page_rows=self.page_rows,
                                                          page_bytes=self.page_bytes)
                    query.columns = [t.column(n) for n, t in zip(names, types, strict=True)]
                    previous: Page | None = None
                    try:
                        for page in pages:
                            if previous is not None and not self._put(query, Item(previous)):
                                return
                            previous = page
                    finally:
                        pages.close()
                    self._put(query, Item(previous or Page(b"", 0), last=True))
                finally:
                    cursor.close()
        except TrinoError as exc:
            if not query.canceled.is_set():
                self._put(query, Item(error=exc))
        except Exception as exc:  # a bug or an engine failure: the client gets a Trino error, not a hang
            log.exception("query %s failed", query.id)
            if not query.canceled.is_set():
                self._put(query, Item(error=TrinoError("GENERIC_INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")))

    def cancel(self, query: Query, error: TrinoError) -> None:
        query.finish("FAILED", error)

    def _reap(self) -> None:
        while not self._stop.wait(1.0):
            now, wall = time.monotonic(), time.time()
            with self._lock:
                queries = list(self.queries.values())
            for query in queries:
                if query.done:
                    age = wall - (query.finished_at or wall)
                    if age > self.retain_s:
                        with self._lock:
                            self.queries.pop(query.id, None)
                    elif age > _KEEP_LAST_PAGE_S:
                        query.last_response = None  # a retry is long past; keep the state, not the page

                elif query.deadline is not None and now > query.deadline:
                    limit = query.ctx.properties.get("query_max_run_time")
                    self.cancel(query, TrinoError("EXCEEDED_TIME_LIMIT",
                                                  f"Query exceeded the maximum run time limit of {limit}"))
                elif now - query.last_seen > self.client_timeout_s:
                    self.cancel(query, TrinoError(
                        "ABANDONED_QUERY", f"Query {query.id} was abandoned by the client: no request for "
                                           f"{self.client_timeout_s:.0f} s"))

    def shutdown(self) -> None:
        """Stop every query still running (audited as failed) and the reaper."""
        self._stop.set()
        with self._lock:
            queries = list(self.queries.values())
        for query in queries:
            if not query.done:
                self.cancel(query, TrinoError("SERVER_SHUTTING_DOWN", "The SQL gateway is shutting down"))
        self._reaper.join(timeout=5)


__all__ = ["Item", "Query", "QueryRunner", "new_query_id"]
