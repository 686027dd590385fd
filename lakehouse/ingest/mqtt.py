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
import json
import logging
import signal
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from lakehouse.contracts import Contract, SourceKind, load_catalog
from lakehouse.ingest.files import FileIngestResult, LandingZone, file_digest
from lakehouse.ingest.mqtt_client import BrokerAddress, BrokerUnavailable, resolve_url
from lakehouse.ingest.mqtt_consumer import ConsumerStats, DatasetStats, MqttConsumer, OnCommit
from lakehouse.ingest.mqtt_lander import (
    RAW_LIMIT,
    ClockWindow,
    Delivery,
    Lander,
    LandOutcome,
    Prepared,
    _loads,
    _raw,
    decode,
    prepare,
    raw_hashes,
    row_hashes,
)
from lakehouse.settings import Settings, get_settings

__all__ = [
    "RAW_LIMIT", "BrokerAddress", "BrokerUnavailable", "ClockWindow", "ConsumerStats", "DatasetStats",
    "Delivery", "JsonlDropResult", "LandOutcome", "Lander", "MqttConsumer", "OnCommit", "Prepared",
    "decode", "drain", "ingest_jsonl_drops", "main", "mqtt_contracts", "prepare", "raw_hashes",
    "resolve_url", "row_hashes", "run_forever",
]

log = logging.getLogger(__name__)


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
                       clock: ClockWindow = ClockWindow(),  # noqa: B008 (a frozen dataclass)
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
