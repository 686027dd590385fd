"""Every query the gateway answers, appended to ``ops.query_audit`` (a Delta table).

Who ran what, which tables it touched, how many rows went back, and whether the rules
allowed it. Writing a Delta commit per query would add tens of milliseconds to each one, so
records are **spooled** and committed in batches:

* :meth:`AuditLog.record` appends one JSON line to the current spool segment
  (``<spool>/*.jsonl``, a buffered file write: microseconds) and returns;
* a background thread commits the segment every ``flush_seconds`` (or at ``max_batch``
  records) as one Delta append whose batch id is the segment's name, then deletes it;
* :meth:`AuditLog.close` (a clean shutdown) commits what is left before returning, and a
  start-up commits any segment a crash left behind. A segment committed but not yet deleted
  is skipped by its batch id, so a query is recorded once, never twice, never lost.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyarrow as pa

from lakehouse.lake.delta import append

log = logging.getLogger(__name__)

AUDIT_TABLE = ("ops", "query_audit")
_TS = pa.timestamp("us", tz="UTC")
AUDIT_SCHEMA = pa.schema([
    pa.field("query_id", pa.string(), nullable=False),
    pa.field("started_at", _TS, nullable=False),
    pa.field("finished_at", _TS, nullable=False),
    pa.field("user", pa.string(), nullable=False),  # the user the rules were applied to
    pa.field("principal", pa.string()),  # who authenticated (differs when impersonating); null without auth
    pa.field("source", pa.string()),  # X-Trino-Source: trino-python-client, superset, dbt…
    pa.field("client_address", pa.string()),
    pa.field("catalog", pa.string()),
    pa.field("schema", pa.string()),
    pa.field("query", pa.string(), nullable=False),
    pa.field("tables", pa.list_(pa.string())),  # catalog.schema.table the statement reads
    pa.field("rows", pa.int64(), nullable=False),  # rows sent back to the client
    pa.field("state", pa.string(), nullable=False),  # FINISHED | FAILED | CANCELED
    pa.field("allowed", pa.bool_(), nullable=False),  # false: refused by the access rules
    pa.field("error_name", pa.string()),
    pa.field("error_message", pa.string()),
    pa.field("elapsed_ms", pa.float64(), nullable=False),
])


@dataclass
class AuditEntry:
    query_id: str
    started_at: float  # epoch seconds
    finished_at: float
    user: str
    principal: str | None
    source: str | None
    client_address: str | None
    catalog: str | None
    schema: str | None
    query: str
    tables: list[str] = field(default_factory=list)
    rows: int = 0
    state: str = "FINISHED"
    allowed: bool = True
    error_name: str | None = None
    error_message: str | None = None


def to_arrow(entries: list[dict]) -> pa.Table:
    rows = []
    for e in entries:
        row = dict(e)
        row["elapsed_ms"] = round((e["finished_at"] - e["started_at"]) * 1000, 3)
        row["started_at"] = int(e["started_at"] * 1_000_000)
        row["finished_at"] = int(e["finished_at"] * 1_000_000)
        rows.append(row)
    columns = {f.name: [r.get(f.name) for r in rows] for f in AUDIT_SCHEMA}
    arrays = [pa.array(columns[f.name], pa.int64()).cast(f.type) if f.type == _TS else pa.array(columns[f.name], f.type)
              for f in AUDIT_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=AUDIT_SCHEMA)


class AuditLog:
    """Spooled, batched, exactly-once audit of queries into one Delta table."""

    def __init__(self, uri: str, spool_dir: Path, *, storage_options: dict | None = None,
                 flush_seconds: float = 2.0, max_batch: int = 1000):
        self.uri = uri
        self.spool_dir = Path(spool_dir)
        self.storage_options = storage_options
        self.flush_seconds = flush_seconds
        self.max_batch = max_batch
        self._lock = threading.Lock()  # guards the current segment
        self._commit_lock = threading.Lock()  # one Delta commit at a time
        self._file = None
        self._segment: Path | None = None
        self._pending = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._commit_segments()  # what a crash left behind
        self._thread = threading.Thread(target=self._loop, name="query-audit", daemon=True)
        self._thread.start()

    def record(self, entry: AuditEntry) -> None:
        line = json.dumps(asdict(entry), ensure_ascii=False) + "\n"
        with self._lock:
            if self._file is None:
                self._segment = self.spool_dir / f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
                self._file = open(self._segment, "a", encoding="utf-8")  # noqa: SIM115 - kept across calls
            self._file.write(line)
            self._file.flush()  # in the OS now: survives our process dying, not the machine
            self._pending += 1
            if self._pending >= self.max_batch:
                self._wake.set()

    def flush(self) -> int:
        """Commit every record so far; returns how many were committed."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file, self._segment, self._pending = None, None, 0
        return self._commit_segments()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.flush()
            except Exception:  # keep the spool; the next flush retries it
                log.exception("query audit: commit to %s failed; records kept in %s", self.uri, self.spool_dir)

    def _commit_segments(self) -> int:
        committed = 0
        with self._commit_lock:
            with self._lock:
                current = self._segment
            for segment in sorted(self.spool_dir.glob("*.jsonl")):
                if segment == current:
                    continue
                entries = []
                for line in segment.read_text(encoding="utf-8").splitlines():
                    try:
                        entries.append(json.loads(line))
                    except json.JSONDecodeError:
                        log.warning("query audit: skipped a torn line in %s", segment)
                if entries:
                    result = append(self.uri, to_arrow(entries), batch_id=f"query-audit:{segment.stem}",
                                    storage_options=self.storage_options)
                    committed += result.rows if not result.skipped else 0
                segment.unlink()
        return committed


__all__ = ["AUDIT_SCHEMA", "AUDIT_TABLE", "AuditEntry", "AuditLog", "to_arrow"]
