"""Decoding NGSI-LD deliveries, clock checks, content dedup and landing for
:mod:`lakehouse.ingest.mqtt` (the design is documented there)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.contracts import Contract
from lakehouse.generate.ngsi import entity_type, flatten_entity
from lakehouse.ingest.bronze import LandResult, land
from lakehouse.ingest.mqtt_client import _gc_paused
from lakehouse.ingest.parse import ROW_NUMBER, ParseOptions, parse, records_to_frame
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.lake.schema import contract_schema
from lakehouse.settings import Settings

try:  # ~5x faster than json on NGSI-LD payloads; json is the fallback
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads

log = logging.getLogger("lakehouse.ingest.mqtt")  # one logger for the MQTT ingest, as before the split

#: (topic, payload as delivered or already decoded, received at (epoch s), row number)
Delivery = tuple[str, Any, float, int]
RAW_LIMIT = 8_000  # characters of an unreadable payload kept in quarantine._raw
_HASH_SEED = 0x10C_5EED
_REJECT_SCHEMA = {ROW_NUMBER: pl.Int64, "_rule": pl.String, "_reason": pl.String, "_raw": pl.String}



@dataclass(frozen=True)
class ClockWindow:
    """How far an event time may lie from its receipt before it is a ``clock_skew``."""

    max_ahead: timedelta = timedelta(days=1)
    max_behind: timedelta = timedelta(days=365)


# --------------------------------------------------------------------------- decode + land


def _matches_type(value: Any, expected: str) -> bool:
    if isinstance(value, list):
        return any(_matches_type(v, expected) for v in value)
    return isinstance(value, str) and (value == expected or value.endswith(("#" + expected, "/" + expected)))


def _text(payload: Any) -> str:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload).decode("utf-8", errors="replace")
    return payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False, default=str)


def _raw(topic: str, payload: Any) -> str:
    text = _text(payload)
    if len(text) > RAW_LIMIT:
        text = text[:RAW_LIMIT] + f"…(+{len(text) - RAW_LIMIT} chars)"
    return json.dumps({"topic": topic, "payload": text}, ensure_ascii=False)


def _shape(value: Any) -> str:
    return {dict: "a JSON object", list: "a JSON array", str: "a JSON string"}.get(type(value), "a JSON scalar")


def decode(contract: Contract, deliveries: Sequence[Delivery]) -> tuple[list[dict], list[int], list[tuple]]:
    """Flattened rows (contract column → raw value), their row numbers, and rejects
    ``(row number, rule, reason, raw)`` for payloads that are not a readable entity."""
    etype = entity_type(contract)
    rows: list[dict] = []
    numbers: list[int] = []
    rejects: list[tuple] = []
    for topic, payload, _received, number in deliveries:
        entity = payload
        if isinstance(payload, (bytes, bytearray, memoryview, str)):
            try:
                entity = _loads(payload)
            except ValueError as exc:
                reason = f"not_json: payload on {topic} is not JSON ({str(exc)[:120]})"
                rejects.append((number, "mqtt.not_json", reason, _raw(topic, payload)))
                continue
        if not isinstance(entity, dict) or "id" not in entity or "type" not in entity:
            missing = [k for k in ("id", "type") if not isinstance(entity, dict) or k not in entity]
            reason = (f"not_ngsi_ld: payload on {topic} is {_shape(entity)} without the NGSI-LD "
                      f"member(s) {missing}; publish one {etype} entity per message")
            rejects.append((number, "mqtt.not_ngsi_ld", reason, _raw(topic, payload)))
            continue
        if not _matches_type(entity["type"], etype):
            reason = (f"wrong_entity_type: {topic} carries {etype} entities, got type "
                      f"{json.dumps(entity['type'], ensure_ascii=False)} (id {entity['id']!s:.80})")
            rejects.append((number, "mqtt.entity_type", reason, _raw(topic, payload)))
            continue
        rows.append(flatten_entity(contract, entity))
        numbers.append(number)
    return rows, numbers, rejects


def _span(seconds: float) -> str:
    if seconds >= 2 * 86400:
        return f"{seconds / 86400:.0f} days"
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    return f"{seconds / 60:.0f} minutes"


def _hash_schema(contract: Contract) -> dict[str, pl.DataType]:
    return dict(pl.from_arrow(contract_schema(contract, lineage=False).empty_table()).schema)


def row_hashes(frame: pl.DataFrame, contract: Contract) -> list[int]:
    """A row's identity: all its typed contract columns (so its key and event time), hashed
    the same way for a fresh batch and for rows read back from bronze (Polars' hash is
    stable for one Polars version, which the consumer and its workers share)."""
    if frame.height == 0:
        return []
    typed = frame.select(pl.col(n).cast(t) for n, t in _hash_schema(contract).items())
    return typed.hash_rows(seed=_HASH_SEED).to_list()


def raw_hashes(raw: pl.Series) -> list[int]:
    """A quarantined row's identity: its ``_raw`` text."""
    return raw.hash(seed=_HASH_SEED).to_list() if len(raw) else []


class _Seen:
    """Row hashes committed recently: two generations rotated every ``window``, so a hash
    stays at least one window and memory stays bounded."""

    def __init__(self, window: timedelta) -> None:
        self.window = window.total_seconds()
        self.current: set[int] = set()
        self.previous: set[int] = set()
        self.rotated = time.monotonic()

    def __contains__(self, item: int) -> bool:
        return item in self.current or item in self.previous

    def __len__(self) -> int:
        return len(self.current) + len(self.previous)

    def add_all(self, hashes: Iterable[int]) -> None:
        if time.monotonic() - self.rotated > self.window:
            self.previous, self.current, self.rotated = self.current, set(), time.monotonic()
        self.current.update(hashes)

    def fresh(self, hashes: list[int]) -> tuple[list[bool], list[int]]:
        """(keep mask, kept hashes): drop what was committed or already seen in this batch."""
        keep: list[bool] = []
        new: list[int] = []
        batch: set[int] = set()
        for h in hashes:
            ok = h not in batch and h not in self
            keep.append(ok)
            if ok:
                batch.add(h)
                new.append(h)
        return keep, new


@dataclass
class LandOutcome:
    dataset: str
    received: int
    duplicates: int
    result: LandResult | None  # None: nothing new to land (every row a duplicate)
    parsed: pl.DataFrame  # the rows written to bronze (for hooks such as latency probes)

    @property
    def bronze(self) -> int:
        return 0 if self.result is None or self.result.skipped else self.result.bronze_rows

    @property
    def quarantined(self) -> int:
        return 0 if self.result is None or self.result.skipped else self.result.quarantined_rows


@dataclass
class Prepared:
    """A batch decoded, typed and clock-checked; not yet deduplicated nor landed."""

    parsed: pl.DataFrame  # contract columns, typed, plus _row_number
    rejected: pl.DataFrame  # _row_number, _rule, _reason, _raw
    received: int
    timings: dict[str, float]
    parsed_hashes: list[int]
    rejected_hashes: list[int]


def _clock_check(contract: Contract, clock: ClockWindow, timezone: str, parsed: pl.DataFrame,
                 frame: pl.DataFrame, received: dict[int, float]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Move rows whose event time is too far from their receipt to the rejects."""
    name = contract.event_time
    if not name or parsed.height == 0 or contract.column(name).type not in ("timestamp", "date"):
        return parsed, pl.DataFrame(schema=_REJECT_SCHEMA)
    got = pl.Series([received[n] for n in parsed[ROW_NUMBER].to_list()], dtype=pl.Float64)
    got_at = pl.from_epoch((got * 1_000_000).cast(pl.Int64), time_unit="us").dt.replace_time_zone("UTC")
    event = parsed[name]
    if event.dtype == pl.Date:
        event = event.cast(pl.Datetime("us")).dt.replace_time_zone(timezone)
    skew = (event.dt.convert_time_zone("UTC").cast(pl.Datetime("us", "UTC")) - got_at).dt.total_seconds()
    ahead, behind = clock.max_ahead.total_seconds(), clock.max_behind.total_seconds()
    bad = ((skew > ahead) | (skew < -behind)).fill_null(False)
    if not bad.any():
        return parsed, pl.DataFrame(schema=_REJECT_SCHEMA)
    attribute = contract.column(name).source_name or name
    numbers = parsed.filter(bad)[ROW_NUMBER].to_list()
    raw = frame.filter(pl.col(ROW_NUMBER).is_in(numbers)).select(
        ROW_NUMBER, pl.col(name).alias("_event"),
        pl.struct([c.name for c in contract.columns]).struct.json_encode().alias("_raw"))
    by_number = {r[ROW_NUMBER]: r for r in raw.iter_rows(named=True)}
    rows = []
    for number, seconds in zip(numbers, skew.filter(bad).to_list(), strict=True):
        at = datetime.fromtimestamp(received[number], UTC).isoformat(timespec="seconds")
        side = "ahead of" if seconds > 0 else "behind"
        reason = (f"clock_skew: {attribute} {by_number[number]['_event']} is {_span(abs(seconds))} "
                  f"{side} receipt ({at}); fix the device clock (NTP) or re-send with the true time")
        rows.append((number, "mqtt.clock_skew", reason, by_number[number]["_raw"]))
    return parsed.filter(~bad), pl.DataFrame(rows, schema=_REJECT_SCHEMA, orient="row")


def prepare(contract: Contract, deliveries: Sequence[Delivery], *, rejects: Sequence[tuple] = (),
            clock: ClockWindow = ClockWindow(), timezone: str = "Asia/Ho_Chi_Minh") -> Prepared:
    """Decode → :func:`parse` → clock check. Stateless and picklable: the consumer may run
    it in a worker process (``workers=``) while its network thread keeps receiving."""
    started = time.perf_counter()
    with _gc_paused():
        rows, numbers, early = decode(contract, deliveries)
        frame = records_to_frame(rows) if rows else None
    decoded = time.perf_counter()
    parts = [pl.DataFrame(list(rejects) + early, schema=_REJECT_SCHEMA, orient="row")]
    if frame is not None:
        frame = frame.with_columns(pl.Series(ROW_NUMBER, numbers, dtype=pl.Int64))
        result = parse(frame, contract, ParseOptions.from_contract(contract, timezone))
        received = {number: at for _t, _p, at, number in deliveries}
        parsed, skewed = _clock_check(contract, clock, timezone, result.parsed, frame, received)
        parts += [result.rejected.select(list(_REJECT_SCHEMA)).cast(_REJECT_SCHEMA), skewed]
    else:
        parsed = pl.from_arrow(contract_schema(contract, lineage=False).empty_table())
    rejected = pl.concat(parts).sort(ROW_NUMBER)
    parsed_at = time.perf_counter()
    hashes = row_hashes(parsed, contract), raw_hashes(rejected["_raw"])
    timings = {"decode": decoded - started, "parse": parsed_at - decoded, "hash": time.perf_counter() - parsed_at}
    return Prepared(parsed, rejected, len(deliveries) + len(rejects), timings, *hashes)


class Lander:
    """Prepare → dedup → ``land`` for one contract, shared by the MQTT consumer and the
    JSONL fallback; owns the set of recently committed row identities."""

    def __init__(self, contract: Contract, settings: Settings, *, clock: ClockWindow = ClockWindow(),
                 dedup_window: timedelta = timedelta(days=1), timings: dict[str, float] | None = None) -> None:
        self.contract, self.settings, self.clock = contract, settings, clock
        self.dedup_window = dedup_window
        self.rows = _Seen(dedup_window)
        self.rejects = _Seen(dedup_window)
        self.timings = timings if timings is not None else {}

    def _add_time(self, name: str, seconds: float) -> None:
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    # ---- dedup state
    def _recent(self, tier: Tier, columns: list[str], where: pc.Expression | None = None) -> pl.DataFrame | None:
        table = delta.try_open(table_uri(tier, self.contract.name, self.settings), storage_options(self.settings))
        if table is None:
            return None
        now = datetime.now(UTC)
        try:
            stats = pa.table(table.get_add_actions(flatten=True)).column("max._ingested_at").to_pylist()
            last = max((v for v in stats if v is not None), default=now)
        except (KeyError, ValueError, TypeError):  # no statistics: anchor on now
            last = now
        since = min(now, last) - self.dedup_window
        condition = pc.field("_ingested_at") >= pa.scalar(since, pa.timestamp("us", tz="UTC"))
        if where is not None:
            condition = condition & where
        return pl.from_arrow(table.to_pyarrow_dataset().to_table(columns=columns, filter=condition))

    def rebuild(self) -> None:
        """Reload the recently committed row identities from bronze and quarantine."""
        started = time.perf_counter()
        bronze = self._recent(Tier.bronze, [c.name for c in self.contract.columns])
        if bronze is not None:
            self.rows.add_all(row_hashes(bronze, self.contract))
        rejected = self._recent(Tier.quarantine, ["_raw"], pc.field("_stage") == "parse")
        if rejected is not None:
            self.rejects.add_all(raw_hashes(rejected["_raw"]))
        log.info("%s: %d bronze and %d quarantine identities reloaded in %.2fs", self.contract.name,
                 len(self.rows), len(self.rejects), time.perf_counter() - started)

    # ---- one batch
    def prepare(self, deliveries: Sequence[Delivery], rejects: Sequence[tuple] = ()) -> Prepared:
        return prepare(self.contract, deliveries, rejects=rejects, clock=self.clock,
                       timezone=self.settings.timezone)

    def commit(self, prepared: Prepared, *, source: str, batch_id: str | None = None) -> LandOutcome:
        """Drop rows committed before (or twice in this batch), land the rest once."""
        for name, seconds in prepared.timings.items():
            self._add_time(name, seconds)
        contract, parsed, rejected = self.contract, prepared.parsed, prepared.rejected
        started = time.perf_counter()
        keep_rows, new_rows = self.rows.fresh(prepared.parsed_hashes)
        keep_rejects, new_rejects = self.rejects.fresh(prepared.rejected_hashes)
        parsed = parsed.filter(pl.Series(keep_rows, dtype=pl.Boolean)) if parsed.height else parsed
        rejected = rejected.filter(pl.Series(keep_rejects, dtype=pl.Boolean)) if rejected.height else rejected
        duplicates = keep_rows.count(False) + keep_rejects.count(False)
        deduped = time.perf_counter()
        self._add_time("dedup", deduped - started)
        if duplicates:
            log.info("%s: %d redelivered/duplicate message(s) skipped", contract.name, duplicates)
        if parsed.height == 0 and rejected.height == 0:
            return LandOutcome(contract.name, prepared.received, duplicates, None, parsed)

        if batch_id is None:
            digest = hashlib.blake2b(array("Q", sorted(new_rows)).tobytes()
                                     + array("Q", sorted(new_rejects)).tobytes(), digest_size=10)
            batch_id = f"{contract.name}:mqtt:{digest.hexdigest()}"
        result = land(contract, parsed, rejected, batch_id=batch_id, source=source, settings=self.settings)
        self._add_time("land", time.perf_counter() - deduped)
        if result.skipped:  # the very same content was committed before: all duplicates
            duplicates += result.rows_in
        self.rows.add_all(new_rows)
        self.rejects.add_all(new_rejects)
        return LandOutcome(contract.name, prepared.received, duplicates, result, parsed)

    def land(self, deliveries: Sequence[Delivery], *, source: str, batch_id: str | None = None,
             rejects: Sequence[tuple] = ()) -> LandOutcome:
        return self.commit(self.prepare(deliveries, rejects), source=source, batch_id=batch_id)
