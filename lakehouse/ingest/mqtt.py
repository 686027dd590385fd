"""MQTT sensor streams (FIWARE NGSI-LD) → bronze + quarantine, with an exactly-once effect.

Flow
----
One consumer per source system (client id ``ioc-lake-<system>``) subscribes to every
contract's ``<source.location>/#`` at **QoS 1** on a **persistent session** (MQTT v5,
``clean_start=False`` plus a session expiry), so the broker keeps queueing while the
consumer is away. Acks are **manual**: a message is acknowledged only after the
micro-batch holding it has been committed to Delta, so a crash anywhere before the commit
makes the broker redeliver it. Micro-batches close on size (``batch_max``) or age
(``batch_seconds``); each is decoded (JSON → NGSI-LD entity → contract columns with
:func:`~lakehouse.generate.ngsi.flatten_entity`), typed by :func:`~lakehouse.ingest.parse.parse`
and written by :func:`~lakehouse.ingest.bronze.land` (quarantine, then bronze, each under a
Delta app transaction).

Nothing is dropped silently: a payload that is not JSON, not an NGSI-LD entity (no
``id``/``type``), the wrong entity type for its topic, or whose event time is far from its
receipt (``clock_skew``: more than ``ClockWindow.max_ahead`` ahead or
``ClockWindow.max_behind`` behind) goes to ``quarantine.<dataset>`` with a rule and a
reason a department can act on. Per batch, ``received = bronze + quarantine + duplicates``.

Exactly-once effect
-------------------
QoS 1 is at-least-once: a batch committed just before a ``kill -9`` is redelivered
(unacked), a publisher that loses a PUBACK in a broker restart publishes again. Neither
the MQTT packet id (16-bit, reused) nor the DUP flag (unset on a publisher's re-send)
identifies a message, so the consumer deduplicates on **content**:

* a bronze row's identity is a hash of all its typed contract columns, so it contains the
  primary key (device/station + observed time); a *different* reading under the same key
  (a correction) still lands and silver keeps the latest, only an exact copy is dropped;
* a quarantined row's identity is a hash of its ``_raw`` text;
* on start the consumer rebuilds these sets from the lake (rows with ``_ingested_at`` at or
  after the table's last ingestion minus ``dedup_window``: files are pruned on their
  ``_ingested_at`` statistics; anchoring on the last write instead of "now" keeps a
  consumer that was down for a weekend safe), then keeps them in memory (two rotating
  generations, so memory stays bounded by the window);
* batch ids are derived from the content landed (``<dataset>:mqtt:<digest>``), and the
  Delta app transaction of :func:`~lakehouse.lake.delta.append` makes a re-landed identical
  batch a no-op; a crash between the quarantine and the bronze commit is repaired because
  the committed quarantine rows are then deduplicated and the bronze rows land.

Acks are sent only for messages received on the *current* connection: after a reconnect
the broker redelivers the older ones with their original packet ids, they are
deduplicated and acked then. The price: an exact copy of a reading sent twice by a
device is indistinguishable from a redelivery, so it is counted in ``duplicates`` (and
logged) instead of landing in bronze, where silver would have removed it anyway.

Throughput
----------
paho-mqtt is pure Python; :class:`_Client` replaces three hot paths, taking the network
thread from ~35 to ~6 µs per message (``benchmarks/mqtt.py``): buffered socket reads,
a lean v5 PUBLISH decoder feeding the buffer directly, and one write for all acks of a
batch. Decoding runs with the cyclic GC paused (tens of thousands of small dicts per
batch). ``workers=N`` moves decode + parse into N spawned processes; on 2 cores that is no
faster than inline (Mosquitto and the publisher want the second core), so the default is
inline. What remains per message is ~14 µs of decoding (orjson, ``flatten_entity``,
``records_to_frame``) and ~14 µs in :func:`~lakehouse.ingest.parse.parse`, most of it one
Python call per value to quote reject reasons that are then discarded for good rows.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import multiprocessing
import signal
import struct
import threading
import time
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from lakehouse.contracts import Contract, SourceKind, load_catalog
from lakehouse.generate.ngsi import entity_type, flatten_entity
from lakehouse.ingest.bronze import LandResult, land
from lakehouse.ingest.files import FileIngestResult, LandingZone, file_digest
from lakehouse.ingest.parse import ROW_NUMBER, ParseOptions, parse, records_to_frame
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.lake.schema import contract_schema
from lakehouse.settings import Settings, get_settings

try:  # ~5x faster than json on NGSI-LD payloads; json is the fallback
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    _loads = json.loads

log = logging.getLogger(__name__)

#: (topic, payload as delivered or already decoded, received at (epoch s), row number)
Delivery = tuple[str, Any, float, int]
RAW_LIMIT = 8_000  # characters of an unreadable payload kept in quarantine._raw
_HASH_SEED = 0x10C_5EED
_REJECT_SCHEMA = {ROW_NUMBER: pl.Int64, "_rule": pl.String, "_reason": pl.String, "_raw": pl.String}


class BrokerUnavailable(ConnectionError):
    """The broker cannot be reached or refused the session; the message says how to fix it."""


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """``mqtt://[user:pass@]host[:port]`` (``mqtts://`` for TLS)."""
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
            raise ValueError(f"{url!r} is not an MQTT URL such as mqtt://127.0.0.1:1883")
        tls = parts.scheme in ("mqtts", "ssl")
        return cls(parts.hostname or "127.0.0.1", parts.port or (8883 if tls else 1883),
                   parts.username, parts.password, tls)

    def __str__(self) -> str:
        return f"mqtt{'s' if self.tls else ''}://{self.host}:{self.port}"


def resolve_url(url: str | None, settings: Settings) -> BrokerAddress:
    if not (url or settings.mqtt_url):
        raise BrokerUnavailable("no MQTT broker configured: set IOC_MQTT_URL, e.g. mqtt://127.0.0.1:1883")
    return BrokerAddress.parse(url or settings.mqtt_url)


def _unreachable(address: BrokerAddress, why: object) -> BrokerUnavailable:
    return BrokerUnavailable(
        f"MQTT broker {address} unreachable ({why}). Start one with "
        "`mosquitto -d -c /etc/mosquitto/mosquitto.conf`, or point IOC_MQTT_URL at yours."
    )


@dataclass(frozen=True)
class ClockWindow:
    """How far an event time may lie from its receipt before it is a ``clock_skew``."""

    max_ahead: timedelta = timedelta(days=1)
    max_behind: timedelta = timedelta(days=365)


# --------------------------------------------------------------------------- paho, faster

_PUBACK = 0x40
_PUBACK_PACKET = struct.Struct("!BBH")
_READ_SIZE = 1 << 18


#: on_publish sink: (topic bytes, payload, packet id, qos)
Sink = Callable[[bytes, bytes, int, int], None]


class _Client(mqtt.Client):
    """paho's client, three hot paths replaced (paho 2.x internals, each falling back to
    paho's own code when a packet is not the plain case):

    * socket reads are buffered: paho reads a packet's header byte by byte, one syscall each;
    * a v5 QoS 0/1 PUBLISH goes straight to ``sink`` as ``(topic, payload, mid, qos)``:
      paho builds a ``Properties`` (27 names, string munging), an ``MQTTMessage`` and a
      ``threading.Condition`` per message and matches per-topic callbacks, ~25 µs together.
      Properties are skipped: the consumer announces no topic aliases, so none can change
      a message's meaning;
    * the acks of a batch go out as one write instead of one packet + wake-up each.
    """

    _rbuf: bytes = b""
    _rpos: int = 0
    _rsock: object = None
    sink: Sink | None = None

    def _sock_recv(self, bufsize: int) -> bytes:
        if self._rsock is not self._sock:  # a new connection: forget the old bytes
            self._rbuf, self._rpos, self._rsock = b"", 0, self._sock
        if self._rpos >= len(self._rbuf):
            data = super()._sock_recv(_READ_SIZE)
            if not data:
                return data
            self._rbuf, self._rpos = data, 0
        start = self._rpos
        self._rpos = min(start + bufsize, len(self._rbuf))
        return self._rbuf[start:self._rpos]

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # select() cannot see bytes already in our buffer: consume them all before returning.
        rc = super().loop_read(max_packets)
        while (rc == MQTTErrorCode.MQTT_ERR_SUCCESS and self._sock is not None
               and self._rsock is self._sock and self._rpos < len(self._rbuf)):
            rc = super().loop_read(max_packets)
        return rc

    def _handle_publish(self) -> MQTTErrorCode:
        header, packet = self._in_packet["command"], self._in_packet["packet"]
        qos = (header & 0x06) >> 1
        if (self.sink is None or qos == 2 or not self._manual_ack or self._protocol != mqtt.MQTTv5
                or len(packet) < 3):
            return super()._handle_publish()
        end = 2 + ((packet[0] << 8) | packet[1])
        if end == 2:  # an empty topic would need a topic alias: paho's path reports it
            return super()._handle_publish()
        try:
            topic, mid, pos = bytes(packet[2:end]), 0, end
            if qos:
                mid, pos = (packet[pos] << 8) | packet[pos + 1], pos + 2
            length, shift = 0, 0
            while True:  # property length, a variable byte integer; the properties are skipped
                byte = packet[pos]
                pos += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
        except IndexError:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        self.sink(topic, bytes(packet[pos + length:]), mid, qos)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def ack_many(self, mids: Sequence[int]) -> None:
        if not mids:
            return
        if not hasattr(self, "_packet_queue"):  # pragma: no cover - other paho versions
            for mid in mids:
                self.ack(mid, 1)
            return
        blob = b"".join([_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids])
        self._packet_queue(_PUBACK, blob, 0, 0)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Decoding a batch allocates ~20 dicts per message; generational GC passes over them
    cost more than the decoding itself, and none of them form cycles."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


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


# --------------------------------------------------------------------------- the consumer


@dataclass
class DatasetStats:
    dataset: str
    received: int = 0
    bronze: int = 0
    quarantined: int = 0
    duplicates: int = 0  # redeliveries and exact copies: counted, not landed
    batches: int = 0

    def add(self, outcome: LandOutcome) -> None:
        self.received += outcome.received
        self.bronze += outcome.bronze
        self.quarantined += outcome.quarantined
        self.duplicates += outcome.duplicates
        self.batches += outcome.result is not None


@dataclass
class ConsumerStats:
    datasets: dict[str, DatasetStats]
    seconds: float = 0.0
    acked: int = 0
    reconnects: int = 0
    unroutable: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # seconds spent per step

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.datasets.values())

    def as_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 3), "acked": self.acked, "reconnects": self.reconnects,
                "unroutable": self.unroutable, "timings": {k: round(v, 3) for k, v in self.timings.items()},
                "datasets": {n: vars(s) for n, s in self.datasets.items()}}


OnCommit = Callable[[LandOutcome], None]
#: (topic bytes, payload, packet id, qos, received (epoch s), connection number, monotonic s)
_Received = tuple[bytes, bytes, int, int, float, int, float]


def _worker_pool(workers: int) -> ProcessPoolExecutor:
    # spawn, not fork: the parent runs paho's network thread
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


class MqttConsumer:
    """Long-running QoS 1 consumer of the contracts' topics; see the module docstring."""

    def __init__(self, contracts: Iterable[Contract], settings: Settings | None = None, *,
                 url: str | None = None, client_id: str | None = None, batch_max: int = 20_000,
                 batch_seconds: float = 1.0, session_expiry: int = 7 * 24 * 3600,
                 receive_maximum: int = 65_535, keepalive: int = 30, clock: ClockWindow = ClockWindow(),
                 dedup_window: timedelta = timedelta(days=1), on_commit: OnCommit | None = None,
                 workers: int = 0) -> None:
        self.contracts = list(contracts)
        wrong = [c.name for c in self.contracts if c.source.kind is not SourceKind.mqtt]
        if not self.contracts or wrong:
            raise ValueError(f"need MQTT contracts; not MQTT: {wrong}")
        self.settings = settings or get_settings()
        self.address = resolve_url(url, self.settings)
        systems = sorted({c.source.system for c in self.contracts})
        self.client_id = client_id or f"ioc-lake-{'-'.join(systems)}"
        self.batch_max, self.batch_seconds = batch_max, batch_seconds
        self.session_expiry, self.receive_maximum, self.keepalive = session_expiry, receive_maximum, keepalive
        self.on_commit = on_commit
        self.clock, self.workers = clock, workers
        self._pool: ProcessPoolExecutor | None = None
        self.stats = ConsumerStats({c.name: DatasetStats(c.name) for c in self.contracts})
        self._landers = {c.name: Lander(c, self.settings, clock=clock, dedup_window=dedup_window,
                                        timings=self.stats.timings) for c in self.contracts}
        self._routes = sorted(((c.source.location.rstrip("/"), c) for c in self.contracts),
                              key=lambda route: -len(route[0]))
        self._buffer: list[_Received] = []
        self._lock = threading.Lock()
        self._due = threading.Event()
        self._subscribed = threading.Event()
        self._generation = 0
        self._refused: str | None = None
        self._last_message = time.monotonic()
        self._client: _Client | None = None
        self._started = 0.0

    # ---- paho callbacks (network thread)
    def _on_connect(self, client: mqtt.Client, _userdata: Any, flags: Any, reason: Any, _props: Any) -> None:
        if reason.is_failure:
            self._refused = str(reason)
            log.error("broker %s refused %s: %s", self.address, self.client_id, reason)
            return
        self._generation += 1
        if self._generation > 1:
            self.stats.reconnects += 1
            if not flags.session_present:
                log.warning("broker %s lost session %s: messages published while disconnected are gone",
                            self.address, self.client_id)
        options = SubscribeOptions(qos=1, retainHandling=SubscribeOptions.RETAIN_SEND_IF_NEW_SUB)
        client.subscribe([(f"{location}/#", options) for location, _c in self._routes])

    def _on_subscribe(self, _client: mqtt.Client, _userdata: Any, _mid: int, reasons: list, _props: Any) -> None:
        failed = [str(r) for r in reasons if r.is_failure or r.value != 1]
        if failed:
            self._refused = f"subscription not granted at QoS 1: {failed}"
            log.error("%s: %s", self.client_id, self._refused)
        self._subscribed.set()

    def _on_publish(self, topic: bytes, payload: bytes, mid: int, qos: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._buffer.append((topic, payload, mid, qos, time.time(), self._generation, now))
            size = len(self._buffer)
        self._last_message = now
        if size >= self.batch_max:
            self._due.set()

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        """paho's own path (packets the fast path leaves to it)."""
        self._on_publish(message._topic, message.payload, message.mid, message.qos)

    # ---- lifecycle
    def start(self, timeout: float = 10.0) -> MqttConsumer:
        """Reload dedup state, connect, subscribe; raise :class:`BrokerUnavailable` if not possible."""
        for lander in self._landers.values():
            lander.rebuild()
        if self.workers and self._pool is None:
            self._pool = _worker_pool(self.workers)
            self._pool.submit(prepare, self.contracts[0], []).result()  # warm: imports done
        client = _Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                         protocol=mqtt.MQTTv5, manual_ack=True)
        if self.address.username:
            client.username_pw_set(self.address.username, self.address.password)
        if self.address.tls:
            client.tls_set()
        client.on_connect, client.on_subscribe = self._on_connect, self._on_subscribe
        client.on_message, client.sink = self._on_message, self._on_publish
        client.reconnect_delay_set(0.2, 5)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.session_expiry
        props.ReceiveMaximum = self.receive_maximum
        try:
            client.connect(self.address.host, self.address.port, self.keepalive,
                           clean_start=False, properties=props)
        except OSError as exc:
            raise _unreachable(self.address, exc) from exc
        self._client = client
        client.loop_start()
        if not self._subscribed.wait(timeout) or self._refused:
            self._stop_client()
            raise _unreachable(self.address, self._refused or f"no SUBACK within {timeout}s")
        self._started = self._last_message = time.monotonic()
        log.info("%s subscribed on %s to %s", self.client_id, self.address, [r[0] + "/#" for r in self._routes])
        return self

    def _stop_client(self) -> None:
        if self._client is not None:
            self._client.disconnect()  # queued after the last acks: they are written first
            self._client.loop_stop()
            self._client = None
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def close(self, *, flush: bool = True) -> None:
        """Commit what is buffered (``flush``), ack it, disconnect keeping the session."""
        try:
            while flush and self.buffered():
                self.flush()
        finally:
            self._stop_client()
            if self._started:
                self.stats.seconds = time.monotonic() - self._started

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close(flush=exc[0] is None)

    # ---- batching
    def buffered(self) -> int:
        return len(self._buffer)

    def idle_for(self) -> float:
        return time.monotonic() - self._last_message

    def wake(self) -> None:
        self._due.set()

    def _age(self) -> float:
        with self._lock:
            return time.monotonic() - self._buffer[0][6] if self._buffer else 0.0

    def batch_due(self) -> bool:
        return self.buffered() >= self.batch_max or (self.buffered() > 0 and self._age() >= self.batch_seconds)

    def wait(self, timeout: float) -> None:
        """Sleep until a batch is due (full or old enough) or ``timeout`` passes."""
        if self.buffered():
            timeout = min(timeout, max(0.0, self.batch_seconds - self._age()))
        self._due.wait(timeout)
        self._due.clear()

    def flush(self) -> int:
        """Commit up to ``batch_max`` buffered messages, then ack them; return how many."""
        with self._lock:
            batch = self._buffer[: self.batch_max]
            del self._buffer[: len(batch)]
        if not batch:
            return 0
        try:
            self._commit(batch)
        except BaseException:
            with self._lock:  # retried later with the same content, hence the same batch ids
                self._buffer[0:0] = batch
            raise
        t = time.perf_counter()
        self._ack(batch)
        self.stats.timings["ack"] = self.stats.timings.get("ack", 0.0) + time.perf_counter() - t
        return len(batch)

    def flush_due(self) -> int:
        done = 0
        while self.batch_due():
            done += self.flush()
        return done

    def _route(self, topic: str) -> Contract | None:
        for location, contract in self._routes:
            if topic == location or topic.startswith(location + "/"):
                return contract
        return None

    def _commit(self, batch: list[_Received]) -> None:
        groups: dict[str, list[Delivery]] = {}
        for raw_topic, payload, _mid, _qos, received, _gen, _mono in batch:
            try:
                topic = raw_topic.decode("utf-8")
                contract = self._route(topic)
            except UnicodeDecodeError:
                contract = None
            if contract is None:
                self.stats.unroutable += 1
                log.warning("message on unexpected topic %r acked without landing", raw_topic)
                continue
            group = groups.setdefault(contract.name, [])
            group.append((topic, payload, received, len(group) + 1))
        if self._pool is not None:  # decode + parse in workers, the network thread keeps reading
            try:
                futures = {name: self._pool.submit(prepare, self._landers[name].contract, deliveries,
                                                   clock=self.clock, timezone=self.settings.timezone)
                           for name, deliveries in groups.items()}
                prepared = {name: future.result() for name, future in futures.items()}
            except BrokenProcessPool:
                self._pool = _worker_pool(self.workers)
                raise
        else:
            prepared = {name: self._landers[name].prepare(deliveries) for name, deliveries in groups.items()}
        for name, batch_prepared in prepared.items():
            location = self._landers[name].contract.source.location.rstrip("/")
            outcome = self._landers[name].commit(batch_prepared, source=f"{self.address}/{location}/#")
            self.stats.datasets[name].add(outcome)
            if self.on_commit is not None:
                self.on_commit(outcome)

    def _ack(self, batch: list[_Received]) -> None:
        # Messages from an older connection are redelivered by the broker with their
        # original ids; they are deduplicated and acked on that redelivery.
        client, generation = self._client, self._generation
        mids = [item[2] for item in batch if item[5] == generation and item[3] > 0]
        if client is not None and mids and client.is_connected():
            client.ack_many(mids)
            self.stats.acked += len(mids)

    def run(self, stop: threading.Event, *, retry_max: float = 30.0) -> ConsumerStats:
        """Consume until ``stop`` is set; then commit the open batch, ack it and disconnect.
        A failing commit (lake unreachable) is retried with backoff, its messages unacked."""
        if self._client is None:
            self.start()
        delay = 1.0
        try:
            while not stop.is_set():
                self.wait(self.batch_seconds)
                try:
                    self.flush_due()
                    delay = 1.0
                except Exception:
                    log.exception("%s: commit failed; retrying in %.0fs (messages stay unacked)",
                                  self.client_id, delay)
                    stop.wait(delay)
                    delay = min(delay * 2, retry_max)
        finally:
            self.close()
        return self.stats


def mqtt_contracts(settings: Settings | None = None, datasets: Sequence[str] | None = None) -> list[Contract]:
    settings = settings or get_settings()
    catalog = load_catalog(settings.catalog_dir)
    if datasets:
        return [catalog[name] for name in datasets]
    return [c for c in catalog if c.source.kind is SourceKind.mqtt]


def drain(contracts: Iterable[Contract], settings: Settings | None = None, *, url: str | None = None,
          idle_seconds: float = 2.0, max_seconds: float = 60.0, **options: Any) -> ConsumerStats:
    """Consume until no message arrived for ``idle_seconds`` (or ``max_seconds`` passed),
    commit, ack and disconnect keeping the session: what is published until the next call
    waits in the broker. For Airflow tasks and the demo."""
    consumer = MqttConsumer(contracts, settings, url=url, **options)
    consumer.start()
    deadline = time.monotonic() + max_seconds
    try:
        while time.monotonic() < deadline:
            consumer.wait(min(idle_seconds, consumer.batch_seconds, max(0.0, deadline - time.monotonic())))
            consumer.flush_due()
            if consumer.idle_for() >= idle_seconds:
                break
    except BaseException:
        consumer.close(flush=False)
        raise
    consumer.close()
    return consumer.stats


def run_forever(contracts: Iterable[Contract] | None = None, settings: Settings | None = None, *,
                url: str | None = None, **options: Any) -> ConsumerStats:
    """The service entry: consume until SIGTERM/SIGINT, then commit the open batch, ack it
    and leave (the session stays, so nothing published meanwhile is lost)."""
    settings = settings or get_settings()
    contracts = list(contracts) if contracts is not None else mqtt_contracts(settings)
    consumer = MqttConsumer(contracts, settings, url=url, **options)
    stop = threading.Event()

    def _stop(signum: int, _frame: Any) -> None:
        log.info("signal %d: committing the open batch and stopping", signum)
        stop.set()
        consumer.wake()

    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return consumer.run(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------- JSONL fallback


@dataclass
class JsonlDropResult(FileIngestResult):
    lines: int = 0
    duplicates: int = 0


def _read_drop(path: Path, location: str) -> tuple[list[Delivery], list[tuple]]:
    now = time.time()
    deliveries: list[Delivery] = []
    rejects: list[tuple] = []
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = _loads(line)
        except ValueError as exc:
            rejects.append((number, "mqtt.not_json", f"not_json: line {number} is not JSON ({str(exc)[:120]})",
                            _raw("", line)))
            continue
        if not isinstance(record, dict) or not isinstance(record.get("topic"), str) or "payload" not in record:
            rejects.append((number, "mqtt.bad_line",
                            f"bad_line: line {number} is not {{\"topic\": ..., \"payload\": ...}}", _raw("", line)))
            continue
        topic = record["topic"]
        if topic != location and not topic.startswith(location + "/"):
            rejects.append((number, "mqtt.topic", f"wrong_topic: {topic} is not under {location}/",
                            _raw(topic, record["payload"])))
            continue
        deliveries.append((topic, record["payload"], now, number))
    return deliveries, rejects


def ingest_jsonl_drops(contract: Contract, settings: Settings | None = None, *,
                       clock: ClockWindow = ClockWindow(),
                       dedup_window: timedelta = timedelta(days=1)) -> list[JsonlDropResult]:
    """For machines with no broker: ``<landing_root>/<location>/incoming/*.jsonl`` (lines
    ``{"topic", "payload"}``, as the generator's ``mqtt/*.jsonl``) through the same
    decode/parse/dedup/land path; a file's batch id is its digest (re-runs are no-ops) and
    row numbers are line numbers. Files move to ``processed/`` (or ``failed/`` + reason)."""
    settings = settings or get_settings()
    zone = LandingZone.for_contract(contract, settings)
    pending = zone.pending()
    if not pending:
        return []
    lander = Lander(contract, settings, clock=clock, dedup_window=dedup_window)
    lander.rebuild()
    location = contract.source.location.rstrip("/")
    results = []
    for path in pending:
        if path.suffix.lower() != ".jsonl":
            reason = "the MQTT fallback reads .jsonl drops of {\"topic\", \"payload\"} lines only"
            zone.move(path, zone.failed, reason)
            results.append(JsonlDropResult(path.name, "failed", reason=reason))
            continue
        deliveries, rejects = _read_drop(path, location)
        outcome = lander.land(deliveries, rejects=rejects, source=path.name,
                              batch_id=f"{contract.name}:{file_digest(path)[:16]}")
        zone.move(path, zone.processed)
        results.append(JsonlDropResult(path.name, "processed",
                                       batches=[outcome.result] if outcome.result else [],
                                       lines=outcome.received, duplicates=outcome.duplicates))
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m lakehouse.ingest.mqtt [--dataset NAME ...] [--drain | --jsonl]``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dataset", action="append", help="contract name (default: every MQTT contract)")
    parser.add_argument("--url", help="broker URL (default: IOC_MQTT_URL)")
    parser.add_argument("--client-id")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--drain", action="store_true", help="consume until idle, then exit")
    mode.add_argument("--jsonl", action="store_true", help="ingest JSONL drops instead of the broker")
    parser.add_argument("--idle-seconds", type=float, default=2.0)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--batch-max", type=int, default=20_000)
    parser.add_argument("--batch-seconds", type=float, default=1.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = get_settings()
    contracts = mqtt_contracts(settings, args.dataset)
    if args.jsonl:
        out = {c.name: [vars(r) | {"batches": len(r.batches)} for r in ingest_jsonl_drops(c, settings)]
               for c in contracts}
        print(json.dumps(out, indent=2, default=str))
        return 0
    options = {"batch_max": args.batch_max, "batch_seconds": args.batch_seconds}
    if args.client_id:
        options["client_id"] = args.client_id
    if args.drain:
        stats = drain(contracts, settings, url=args.url, idle_seconds=args.idle_seconds,
                      max_seconds=args.max_seconds, **options)
    else:
        stats = run_forever(contracts, settings, url=args.url, **options)
    print(json.dumps(stats.as_dict(), indent=2))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
