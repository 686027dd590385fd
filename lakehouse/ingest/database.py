"""Department databases → bronze: incremental on the contract's watermark, exactly once.

A database source is a table (``source.location`` = ``schema.table``; a MariaDB schema is a
database) with a watermark column (``options.watermark``, e.g. ``updated_at``) that the
department's application sets on every insert and update; deletions are soft
(``options.soft_delete``), so they travel as ordinary changed rows and bronze keeps them
(silver acts on the flag later).

**Why plain SQLAlchemy Core and not dlt's ``sql_table``.** Exactly-once needs batches that
are *ranges of the watermark* ``(start, end]``, planned before any row is read and
re-read by the same predicate after a crash, plus a single state store in the lake. dlt's
incremental cursor keeps its own state in a dlt pipeline (a second state store that could
disagree with ``ops.ingest_state``) and de-duplicates ties by hashing rows into that state;
driving it without a pipeline leaves us writing the range queries anyway. Those are three
small SQLAlchemy statements that run unchanged on PostgreSQL (psycopg), MariaDB (PyMySQL) and
SQLite, and SQLAlchemy gives server-side cursors (``stream_results``) for free.

**A run** (one dataset), with its state row in ``ops.ingest_state``
(dataset, watermark, last_batch_id, pending_from, pending_to, updated_at):

1. If the state has a pending range, a previous run stopped inside it: finish that batch
   first (step 4–5 with the stored range), whatever the crash point was.
2. Plan the next batch: ``end`` = the watermark of the ``batch_rows``-th row after the
   current watermark (or the largest one if fewer remain). The batch is every row with
   ``watermark > start AND watermark <= end``: rows sharing the boundary value ``end`` are all
   in it, so a batch never splits a run of equal watermarks and a tie is never lost (a batch
   can exceed ``batch_rows`` by the size of one tie).
3. Write ahead: state ← pending ``(start, end]``. The batch id is a hash of dataset + range.
4. Read the range (server-side cursor), ``records_to_frame`` → ``parse`` → ``land`` with that
   batch id: quarantine then bronze, each skipped if its batch id is already committed.
5. Advance: state ← watermark ``end``, no pending range, last batch id.

A crash before 3 leaves no trace; between 3 and 5 the re-run re-reads exactly the pending
range under the same batch id, so what already landed is skipped and nothing is duplicated
(a row the department changed meanwhile has moved to a later range and lands there).

**Rows whose watermark is NULL** (the legacy application failed to set it; see
:mod:`lakehouse.simulators.department_db`) sort before every real watermark: they are read
by a dataset's first run only (``start`` is None) and quarantined by ``parse`` as a missing
required value. Known limits of any watermark extractor, not of this one: a row committed
later with a watermark *older* than the one already reached (a long transaction, a clock
set back, a second write in the very clock tick already extracted on a low-precision
column), or a NULL watermark appearing after the first run, is not seen until its watermark
moves forward; hard deletes are never seen (the contracts declare soft deletes).
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa
import sqlalchemy as sa
from deltalake.exceptions import CommitFailedError
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from lakehouse.contracts import Contract, SourceKind
from lakehouse.ingest.bronze import LandResult, land
from lakehouse.ingest.parse import ParseOptions, parse, records_to_frame
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

STATE_TABLE = "ingest_state"
STATE_SCHEMA = pa.schema(
    [
        pa.field("dataset", pa.string(), nullable=False),
        # Watermarks as ISO-8601 text exactly as the source's driver returned them (naive for
        # DATETIME columns): fed back unchanged, never shifted by a time-zone conversion.
        pa.field("watermark", pa.string()),
        pa.field("last_batch_id", pa.string()),
        pa.field("pending_from", pa.string()),
        pa.field("pending_to", pa.string()),
        pa.field("updated_at", pa.timestamp("us", tz="UTC"), nullable=False),
    ]
)
#: End of a first batch that held only NULL-watermark rows: after them, before any real value.
FLOOR = datetime(1970, 1, 1)
#: Settings field and environment variable holding the URL, per ``options.engine``.
URL_SETTINGS = {
    "postgresql": ("postgres_url", "IOC_POSTGRES_URL"),
    "mysql": ("mysql_url", "IOC_MYSQL_URL"),
}
EXAMPLE_URLS = {
    "postgresql": "postgresql://user@host:5432/db",
    "mysql": "mysql://user@host:3306/db",
}
#: The driver this platform ships for a bare ``postgresql://`` / ``mysql://`` URL.
DEFAULT_DRIVERS = {
    "postgresql": "psycopg",
    "postgres": "psycopg",
    "mysql": "pymysql",
    "mariadb": "pymysql",
}
_STATE_RETRIES = 8
_T = TypeVar("_T")


class DatabaseSourceError(ValueError):
    """The contract, URL or source table does not allow an extraction; the message says why."""


@dataclass(frozen=True)
class DatabaseSource:
    """What the contract says about its table, validated once."""

    engine: str
    schema: str | None
    table: str
    watermark: str
    soft_delete: str | None

    @classmethod
    def from_contract(cls, contract: Contract) -> DatabaseSource:
        source = contract.source
        if source.kind is not SourceKind.database:
            raise DatabaseSourceError(
                f"{contract.name}: source kind is {source.kind.value}, not database"
            )
        options = source.options
        missing = [key for key in ("engine", "watermark") if not options.get(key)]
        if missing:
            raise DatabaseSourceError(f"{contract.name}: source.options lacks {missing}")
        watermark = str(options["watermark"])
        contract.column(watermark)  # KeyError naming the contract if the column is unknown
        schema, _, table = source.location.rpartition(".")
        return cls(
            engine=str(options["engine"]),
            schema=schema or None,
            table=table,
            watermark=watermark,
            soft_delete=str(options["soft_delete"]) if options.get("soft_delete") else None,
        )

    def schema_for(self, dialect: str) -> str | None:
        """SQLite has no schemas to speak of (the demo's file holds the bare table name)."""
        return None if dialect == "sqlite" else self.schema


def normalise_url(url: str) -> sa.URL:
    """``postgresql://`` and ``mysql://`` get the drivers installed here (psycopg 3, PyMySQL)
    instead of SQLAlchemy's defaults (psycopg2, mysqlclient), which are not."""
    parsed = make_url(url)
    if "+" not in parsed.drivername and parsed.drivername in DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=f"{parsed.drivername}+{DEFAULT_DRIVERS[parsed.drivername]}")
    return parsed


def make_engine(url: str) -> Engine:
    """No pool: a run opens a few short connections and must leave none behind."""
    return sa.create_engine(normalise_url(url), poolclass=NullPool)


def source_url(contract: Contract, settings: Settings, url: str | None = None) -> str:
    if url:
        return url
    engine = DatabaseSource.from_contract(contract).engine
    if engine not in URL_SETTINGS:
        raise DatabaseSourceError(
            f"{contract.name}: no URL setting for engine '{engine}'; pass url="
        )
    field, env = URL_SETTINGS[engine]
    configured = getattr(settings, field)
    if not configured:
        raise DatabaseSourceError(
            f"{contract.name}: no URL for its {engine} database; set {env} "
            f"(e.g. {EXAMPLE_URLS[engine]}) or pass url="
        )
    return configured


def reflect_table(engine: Engine, contract: Contract, source: DatabaseSource) -> sa.Table:
    """The live table, with its real column types (the drivers' values then need no guessing);
    a missing table or contract column is an error that names it."""
    schema = source.schema_for(engine.dialect.name)
    try:
        table = sa.Table(source.table, sa.MetaData(), schema=schema, autoload_with=engine)
    except sa.exc.NoSuchTableError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise DatabaseSourceError(
            f"{contract.name}: table {contract.source.location} not found at {where}"
        ) from exc
    missing = [c.name for c in contract.columns if c.name not in table.c]
    if missing:
        raise DatabaseSourceError(
            f"{contract.name}: {contract.source.location} lacks contract columns {missing}"
        )
    return table


# --- state --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestState:
    watermark: str | None = None  # None: nothing extracted yet (NULL watermarks still ahead)
    last_batch_id: str | None = None
    pending_from: str | None = None
    pending_to: str | None = None  # set: a batch was written ahead and not yet advanced past

    @property
    def pending(self) -> bool:
        return self.pending_to is not None


def state_uri(settings: Settings) -> str:
    return table_uri(Tier.ops, STATE_TABLE, settings)


def read_state(dataset: str, settings: Settings | None = None) -> IngestState:
    settings = settings or get_settings()
    table = delta.try_open(state_uri(settings), storage_options(settings))
    if table is None:
        return IngestState()
    rows = table.to_pyarrow_table(filters=[("dataset", "=", dataset)]).to_pylist()
    if not rows:
        return IngestState()
    row = rows[0]
    return IngestState(
        row["watermark"], row["last_batch_id"], row["pending_from"], row["pending_to"]
    )


def _retry_conflicts(write: Callable[[], _T]) -> _T:
    """Extractions of different datasets share the one-row-per-dataset state table; their
    merges can conflict on its file. A state write is idempotent, so retrying is safe."""
    for attempt in range(_STATE_RETRIES):
        try:
            return write()
        except CommitFailedError as exc:
            if attempt == _STATE_RETRIES - 1:
                raise
            log.info("state write conflicted with another dataset's (%s); retrying", exc)
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def write_state(dataset: str, state: IngestState, *, op_id: str, settings: Settings) -> None:
    """Upsert the dataset's row (``delta.merge`` on dataset, its own app transaction)."""
    row = pa.Table.from_pylist(
        [
            {
                "dataset": dataset,
                "watermark": state.watermark,
                "last_batch_id": state.last_batch_id,
                "pending_from": state.pending_from,
                "pending_to": state.pending_to,
                "updated_at": datetime.now(UTC),
            }
        ],
        schema=STATE_SCHEMA,
    )
    _retry_conflicts(
        lambda: delta.merge(
            state_uri(settings),
            row,
            keys=["dataset"],
            batch_id=f"ingest-state:{op_id}",
            configuration=None,
            storage_options=storage_options(settings),
        )
    )


# --- batches ------------------------------------------------------------------------------


def _text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _value(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class Batch:
    """Rows with ``start < watermark <= end``; ``start`` None also takes NULL watermarks."""

    dataset: str
    start: str | None
    end: str

    @property
    def batch_id(self) -> str:
        """Deterministic: the same range is the same batch, in every run, after any crash."""
        digest = hashlib.sha256(f"{self.dataset}|{self.start}|{self.end}".encode()).hexdigest()
        return f"{self.dataset}:{digest[:16]}"

    def where(self, column: sa.ColumnElement) -> sa.ColumnElement[bool]:
        upper = column <= _value(self.end)
        if self.start is None:
            return sa.or_(column.is_(None), upper)
        return sa.and_(column > _value(self.start), upper)


def plan_end(
    conn: Connection, column: sa.ColumnElement, start: str | None, batch_rows: int
) -> str | None:
    """Upper bound of the next batch, or None when nothing changed since ``start``."""
    after = column.is_not(None) if start is None else column > _value(start)
    nth = sa.select(column).where(after).order_by(column).limit(1).offset(batch_rows - 1)
    end = conn.execute(nth).scalar()
    if end is None:
        end = conn.execute(sa.select(sa.func.max(column)).where(after)).scalar()
    if end is None and start is None:
        nulls = sa.select(sa.literal(1)).where(column.is_(None)).limit(1)
        end = FLOOR if conn.execute(nulls).first() else None
    return _text(end)


def fetch(
    engine: Engine,
    table: sa.Table,
    contract: Contract,
    source: DatabaseSource,
    batch: Batch,
    *,
    yield_per: int,
) -> list[dict[str, Any]]:
    """The batch's rows, contract columns only, through a server-side cursor."""
    watermark = table.c[source.watermark]
    query = (
        sa.select(*(table.c[c.name] for c in contract.columns))
        .where(batch.where(watermark))
        .order_by(watermark, *(table.c[k] for k in contract.primary_key))
    )
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=yield_per).execute(query)
        return [dict(row._mapping) for part in result.partitions() for row in part]


def to_frame(records: list[dict[str, Any]], contract: Contract) -> pl.DataFrame:
    """Rows as delivered text; an empty range still has the contract's columns."""
    if not records:
        return pl.DataFrame(schema={c.name: pl.String for c in contract.columns})
    return records_to_frame(records)


@dataclass
class _Run:
    contract: Contract
    settings: Settings
    source: DatabaseSource
    engine: Engine
    table: sa.Table
    batch_rows: int

    @property
    def lineage(self) -> str:
        return f"{self.engine.dialect.name}:{self.contract.source.location}"

    def write_ahead(self, batch: Batch, watermark: str | None, last_batch_id: str | None) -> None:
        state = IngestState(watermark, last_batch_id, batch.start, batch.end)
        write_state(
            self.contract.name, state, op_id=f"{batch.batch_id}:pending", settings=self.settings
        )

    def land_batch(self, batch: Batch) -> LandResult:
        records = fetch(
            self.engine,
            self.table,
            self.contract,
            self.source,
            batch,
            yield_per=min(self.batch_rows, 10_000),
        )
        options = ParseOptions.from_contract(self.contract, timezone=self.settings.timezone)
        outcome = parse(to_frame(records, self.contract), self.contract, options)
        result = land(
            self.contract,
            outcome.parsed,
            outcome.rejected,
            batch_id=batch.batch_id,
            source=self.lineage,
            settings=self.settings,
        )
        self.advance(batch)
        log.info(
            "%s batch %s (%s, %s]: %d bronze, %d quarantined%s",
            self.contract.name,
            batch.batch_id,
            batch.start,
            batch.end,
            result.bronze_rows,
            result.quarantined_rows,
            " (already landed)" if result.skipped else "",
        )
        return result

    def advance(self, batch: Batch) -> None:
        state = IngestState(watermark=batch.end, last_batch_id=batch.batch_id)
        write_state(
            self.contract.name, state, op_id=f"{batch.batch_id}:done", settings=self.settings
        )

    def plan(self, start: str | None) -> Batch | None:
        with self.engine.connect() as conn:
            end = plan_end(conn, self.table.c[self.source.watermark], start, self.batch_rows)
        return None if end is None else Batch(self.contract.name, start, end)


def extract_table(
    contract: Contract,
    settings: Settings | None = None,
    *,
    url: str | None = None,
    batch_rows: int = 50_000,
) -> list[LandResult]:
    """Land everything that changed in the contract's table since the last run, one batch
    per ``batch_rows`` rows (ties kept together); return one result per batch (none: no
    change). Safe to re-run after a crash at any point: see the module docstring."""
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    settings = settings or get_settings()
    source = DatabaseSource.from_contract(contract)
    engine = make_engine(source_url(contract, settings, url))
    try:
        run = _Run(
            contract, settings, source, engine, reflect_table(engine, contract, source), batch_rows
        )
        state = read_state(contract.name, settings)
        results: list[LandResult] = []
        position, last_batch = state.watermark, state.last_batch_id
        if state.pending:
            batch = Batch(contract.name, state.pending_from, state.pending_to)
            log.info(
                "%s: resuming batch %s left pending by an interrupted run",
                contract.name,
                batch.batch_id,
            )
            results.append(run.land_batch(batch))
            position, last_batch = batch.end, batch.batch_id
        while (batch := run.plan(position)) is not None:
            run.write_ahead(batch, position, last_batch)
            results.append(run.land_batch(batch))
            position, last_batch = batch.end, batch.batch_id
        return results
    finally:
        engine.dispose()
