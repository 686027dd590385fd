"""The departments' HTTP APIs, simulated on loopback with their real wire formats.

Tests and ``make demo`` point ``IOC_API_BASE_URLS`` at it. It serves, from the generator's
output (or any records handed to :func:`serve`):

* department REST APIs at each contract's ``source.location``:
  ``GET ?updated_since=<ISO-8601>&cursor=<opaque>&page_size=N`` →
  ``{"items": [...], "next_cursor": "..." | null}``, ordered by the cursor field then id;
  ``updated_since`` is inclusive (``>=``);
* Open311 GeoReport v2 under the Open311 contract's location: ``services.json``,
  ``requests.json`` (see :meth:`Feed.open311_requests` for parameters) and
  ``requests/{id}.json``; errors in the spec's shape ``[{"code": 404, "description": ...}]``.

Tests break it on purpose (:meth:`Simulator.fail_next`, :meth:`Simulator.corrupt_next`) and
change it (:meth:`Simulator.update_request`, :meth:`Simulator.add_records`). Run standalone:
``python -m lakehouse.simulators.http_api <generated dir> [--port N]`` prints the base URLs
as the JSON ``IOC_API_BASE_URLS`` wants and serves until interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from lakehouse.contracts import Catalog, SourceKind, load_catalog
from lakehouse.generate.manifest import Manifest
from lakehouse.simulators.feeds import Feed, QueryError

log = logging.getLogger(__name__)
API_KINDS = (SourceKind.api, SourceKind.open311)


@dataclass(frozen=True)
class Fault:
    """What the next matching request gets instead of its answer."""

    status: int | None = None  # an HTTP error status (500, 503, 429)
    drop: bool = False  # close the connection without answering
    body: bytes | None = None  # a 200 with this body (malformed JSON, wrong shape)
    path: str | None = None  # only requests whose path starts with this
    retry_after: int | None = None

    @property
    def passes(self) -> bool:
        """A placeholder that lets one request through (``after=`` in the fault helpers)."""
        return self.status is None and not self.drop and self.body is None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a drop hits a pooled connection
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        sim = self.server.sim
        fault = sim._take_fault(url.path, self.path)
        if fault is None or fault.passes:
            try:
                status, payload = sim._route(url.path, params)
            except QueryError as exc:
                status, payload = 400, sim._error(url.path, 400, str(exc))
            self._send(status, payload)
        elif fault.drop:
            self.close_connection = True  # answer nothing: the client sees the connection drop
        elif fault.body is not None:
            self._send(200, fault.body)
        else:
            status = fault.status or 503
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            self._send(status, sim._error(url.path, status, "injected fault"), headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        if isinstance(payload, bytes):
            body = payload
        else:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sim: Simulator


class Simulator:
    """A running server (background thread) over ``feeds``, keyed by dataset name."""

    def __init__(self, feeds: dict[str, Feed], *, host: str = "127.0.0.1", port: int = 0):
        self.feeds = feeds
        self.requests: list[str] = []  # every path+query received, faults included
        self._lock = threading.RLock()
        self._faults: deque[Fault] = deque()
        locations = [f.contract.source.location for f in feeds.values()]
        if len(set(locations)) != len(locations):
            raise ValueError(f"two datasets share a location: {sorted(locations)}")
        self._server = _Server((host, port), _Handler)
        self._server.sim = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="api-simulator", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://{self._server.server_address[0]}:{self.port}"

    @property
    def base_urls(self) -> dict[str, str]:
        """``{system: base_url}`` for every system served: the value of ``IOC_API_BASE_URLS``."""
        return {f.contract.source.system: self.base_url for f in self.feeds.values()}

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- faults and changes, for tests -----------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 503, drop: bool = False, path: str | None = None,
                  retry_after: int | None = None, after: int = 0) -> None:
        """The next ``n`` requests (under ``path``, after ``after`` of them pass) get
        ``status``, or a dropped connection."""
        fault = Fault(status=None if drop else status, drop=drop, path=path, retry_after=retry_after)
        self._queue(fault, n, after)

    def corrupt_next(self, n: int = 1, *, body: bytes | str = b'{"items": [{"truncat',
                     path: str | None = None, after: int = 0) -> None:
        """The next ``n`` requests (after ``after`` pass) get a 200 with ``body`` (default:
        JSON cut off mid-page)."""
        self._queue(Fault(body=body.encode("utf-8") if isinstance(body, str) else body, path=path), n, after)

    def _queue(self, fault: Fault, n: int, after: int) -> None:
        with self._lock:
            self._faults.extend([Fault(path=fault.path)] * after + [fault] * n)

    def add_records(self, dataset: str, records: list[Any]) -> None:
        """New records as the department's server would now return them (any JSON value)."""
        with self._lock:
            self.feeds[dataset].add(records)

    def update_request(self, service_request_id: str, *, status: str | None = None,
                       status_notes: str | None = None, updated_datetime: datetime | None = None,
                       **fields: Any) -> dict:
        """Change an Open311 request (a status change, typically); ``updated_datetime``
        defaults to now, never before the newest request. Returns the new record."""
        changes = {k: v for k, v in {"status": status, "status_notes": status_notes, **fields}.items()
                   if v is not None}
        with self._lock:
            [feed] = [f for f in self.feeds.values() if f.is_open311]
            return feed.update({"service_request_id": service_request_id}, changes, updated_datetime)[0]

    def update_record(self, dataset: str, match: dict[str, str], **changes: Any) -> list[dict]:
        """Change department REST records whose JSON fields equal ``match``; the cursor field
        is set to now (never before the newest record)."""
        with self._lock:
            return self.feeds[dataset].update(match, changes, None)

    # --- serving ---------------------------------------------------------------------------

    def _take_fault(self, path: str, raw: str) -> Fault | None:
        with self._lock:
            self.requests.append(raw)
            for fault in self._faults:
                if fault.path is None or path.startswith(fault.path):
                    self._faults.remove(fault)
                    return fault
        return None

    def _open311_base(self, path: str) -> Feed | None:
        for feed in self.feeds.values():
            if feed.is_open311 and path.startswith(feed.contract.source.location.rsplit("/", 1)[0] + "/"):
                return feed
        return None

    def _error(self, path: str, status: int, description: str) -> Any:
        if self._open311_base(path) is not None:
            return [{"code": status, "description": description}]  # GeoReport v2 error shape
        return {"error": {"code": status, "message": description}}

    def _route(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            for feed in self.feeds.values():
                if not feed.is_open311 and path == feed.contract.source.location:
                    return 200, feed.rest_page(params)
            feed = self._open311_base(path)
            if feed is None:
                return 404, self._error(path, 404, f"no such resource: {path}")
            location = feed.contract.source.location
            base = location.rsplit("/", 1)[0]
            if path == location:
                return 200, feed.open311_requests(params)
            if path == f"{base}/services.json":
                return 200, feed.services
            if path.startswith(f"{base}/requests/") and path.endswith(".json"):
                request_id = unquote(path.removeprefix(f"{base}/requests/").removesuffix(".json"))
                found = feed.open311_request(request_id)
                if found is not None:
                    return 200, found
                return 404, self._error(path, 404, f"service_request_id {request_id} not found")
            return 404, self._error(path, 404, f"no such resource: {path}")


def serve(catalog: Catalog, records: dict[str, list[Any]], *, services: list[dict] | None = None,
          host: str = "127.0.0.1", port: int = 0) -> Simulator:
    """Serve ``records`` (dataset → list of JSON values, in the source's field names)."""
    feeds = {}
    for name, items in records.items():
        contract = catalog[name]
        if contract.source.kind not in API_KINDS:
            raise ValueError(f"{name} is a {contract.source.kind.value} source, not an API")
        is_open311 = contract.source.kind is SourceKind.open311
        feeds[name] = Feed(contract, services=list(services or []) if is_open311 else [])
        feeds[name].add(items)
    return Simulator(feeds, host=host, port=port)


def serve_generated(out_dir: Path | str, *, catalog: Catalog | None = None, host: str = "127.0.0.1",
                    port: int = 0) -> Simulator:
    """Serve every API and Open311 dataset the generator wrote under ``out_dir`` (the files
    named by its ``manifest.json``)."""
    out_dir = Path(out_dir)
    catalog = catalog if catalog is not None else load_catalog()
    manifest = Manifest.load(out_dir)
    records: dict[str, list[Any]] = {}
    services: list[dict] = []
    for name, entry in manifest.datasets.items():
        if name not in catalog.contracts or catalog[name].source.kind not in API_KINDS:
            continue
        records[name] = [item for file in entry.files
                         for item in json.loads((out_dir / file).read_text(encoding="utf-8"))]
        services += [item for file in entry.aux_files if file.endswith("services.json")
                     for item in json.loads((out_dir / file).read_text(encoding="utf-8"))]
    return serve(catalog, records, services=services, host=host, port=port)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="the generator's output folder")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    sim = serve_generated(args.out_dir, host=args.host, port=args.port)
    print(json.dumps(sim.base_urls), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
