"""The long-running QoS 1 consumer of :mod:`lakehouse.ingest.mqtt` (the design is
documented there) and its statistics."""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Self

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from lakehouse.contracts import Contract, SourceKind
from lakehouse.ingest.mqtt_client import _Client, _unreachable, resolve_url
from lakehouse.ingest.mqtt_lander import ClockWindow, Delivery, Lander, LandOutcome, prepare
from lakehouse.settings import Settings, get_settings

log = logging.getLogger("lakehouse.ingest.mqtt")  # one logger for the MQTT ingest, as before the split

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
                 receive_maximum: int = 65_535, keepalive: int = 30, clock: ClockWindow = ClockWindow(),  # noqa: B008 (a frozen dataclass)
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
