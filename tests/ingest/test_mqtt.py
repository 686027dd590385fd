"""MQTT → bronze against a real Mosquitto: reconciliation with the generator's manifest,
quarantine reasons, consumer ``kill -9``, broker restart, SIGTERM, and the JSONL fallback.

Every test publishes under its own topic prefix and client id, so queued or retained
messages of one test never reach another. The system broker (``IOC_MQTT_URL`` or
127.0.0.1:1883) must be running: these tests fail, not skip, without it.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from deltalake import DeltaTable

from lakehouse.contracts import Contract
from lakehouse.generate import Manifest, generate
from lakehouse.generate.ngsi import to_entity
from lakehouse.ingest.files import LandingZone
from lakehouse.ingest.mqtt import (
    BrokerAddress,
    BrokerUnavailable,
    MqttConsumer,
    drain,
    ingest_jsonl_drops,
)
from lakehouse.lake.paths import table_uri
from lakehouse.settings import REPO_ROOT, Settings
from lakehouse.simulators.mqtt_publisher import publish_messages, read_generated

pytestmark = pytest.mark.services


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()

DATASET = "air_quality_observed"
ICT = ZoneInfo("Asia/Ho_Chi_Minh")
FAST = {"batch_max": 50, "batch_seconds": 0.2, "session_expiry": 300}

CONSUMER = r"""
import logging, os, signal, sys
from lakehouse.contracts import load_catalog
from lakehouse.ingest import mqtt as m
location, client_id, url, mode, batch_max, batch_seconds = sys.argv[1:7]
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
base = load_catalog()["air_quality_observed"]
contract = base.model_copy(update={"source": base.source.model_copy(update={"location": location})})
if mode == "die-after-commit":  # SIGKILL between the 2nd batch's commit and its acks
    ack, calls = m.MqttConsumer._ack, [0]
    def _ack(self, batch):
        calls[0] += 1
        if calls[0] == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        ack(self, batch)
    m.MqttConsumer._ack = _ack
m.run_forever([contract], url=url, client_id=client_id, batch_max=int(batch_max),
              batch_seconds=float(batch_seconds), session_expiry=300)
print("stopped cleanly", flush=True)
"""


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def broker_url() -> str:
    url = os.environ.get("IOC_MQTT_URL") or "mqtt://127.0.0.1:1883"
    address = BrokerAddress.parse(url)
    try:
        socket.create_connection((address.host, address.port), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"MQTT broker {address} unreachable ({exc}). Start it with "
                    "`mosquitto -d -c /etc/mosquitto/mosquitto.conf` or set IOC_MQTT_URL.")
    return url


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    """Three recent days of the air-quality stream: recent, so no reading is a clock skew."""
    out = tmp_path_factory.mktemp("sources")
    manifest = generate(out, datasets=[DATASET], start=date.today() - timedelta(days=3), days=3)
    return out, manifest


@pytest.fixture
def air(catalog: Any) -> Contract:
    """The air-quality contract on a topic prefix of its own."""
    base = catalog[DATASET]
    location = f"test/{uuid.uuid4().hex[:10]}/air"
    return base.model_copy(update={"source": base.source.model_copy(update={"location": location})})


def client_id(contract: Contract) -> str:
    return "test-" + contract.source.location.split("/")[1]


def messages(generated: tuple[Path, Manifest], contract: Contract) -> list[tuple[str, bytes]]:
    return read_generated(generated[0], [DATASET], {"ioc/sensors/air": contract.source.location})


def expected(generated: tuple[Path, Manifest]) -> tuple[int, int, int]:
    """(bronze, quarantine, duplicates): exact copies are indistinguishable from QoS 1
    redeliveries, so they are counted as duplicates instead of landing in bronze."""
    ds = generated[1].datasets[DATASET]
    duplicates = ds.defects.get("duplicate", 0)
    return ds.expected.bronze - duplicates, ds.expected.quarantine_parse, duplicates


def table(tier: str, contract: Contract, settings: Settings) -> pl.DataFrame:
    uri = table_uri(tier, contract.name, settings)
    if not DeltaTable.is_deltatable(uri):
        return pl.DataFrame()
    return pl.from_arrow(DeltaTable(uri).to_pyarrow_table())


def counts(contract: Contract, settings: Settings) -> tuple[int, int]:
    return table("bronze", contract, settings).height, table("quarantine", contract, settings).height


def assert_exactly_once(contract: Contract, settings: Settings, generated: tuple[Path, Manifest]) -> None:
    bronze_rows, quarantine_rows, _ = expected(generated)
    bronze = table("bronze", contract, settings)
    columns = [c.name for c in contract.columns]
    assert bronze.height == bronze_rows, "bronze lost or doubled rows"
    assert bronze.select(columns).is_duplicated().sum() == 0
    quarantine = table("quarantine", contract, settings)
    assert quarantine.height == quarantine_rows
    assert quarantine["_raw"].is_duplicated().sum() == 0


def register(contract: Contract, settings: Settings, url: str) -> None:
    """Create the persistent session: from now on the broker queues for this client id."""
    drain([contract], settings, url=url, client_id=client_id(contract), idle_seconds=0.1, **FAST)


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


class Publisher(threading.Thread):
    """Publishes in the background at ``rate`` messages/s; re-raises its error on join. With
    ``hold``, the last third waits for that event: the stream is still flowing whenever the
    test acts, however slowly the consumers start."""

    def __init__(self, url: str, batch: list[tuple[str, bytes]], rate: float | None = None,
                 hold: threading.Event | None = None) -> None:
        super().__init__(daemon=True)
        self.url, self.batch, self.rate, self.hold, self.error = url, batch, rate, hold, None

    def run(self) -> None:
        split = len(self.batch) * 2 // 3 if self.hold else len(self.batch)
        try:
            publish_messages(self.url, self.batch[:split], rate=self.rate)
            if self.hold is not None:
                self.hold.wait(60)
                publish_messages(self.url, self.batch[split:], rate=self.rate)
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            self.error = exc

    def finish(self, timeout: float = 60) -> None:
        self.join(timeout)
        assert not self.is_alive(), "publisher did not finish"
        if self.error:
            raise self.error


@pytest.fixture
def spawn() -> Any:
    """Start consumer subprocesses; whatever still runs at teardown is killed."""
    started: list[subprocess.Popen] = []

    def start(contract: Contract, url: str, mode: str, log: Path, *, batch_max: int = 50,
              batch_seconds: float = 0.2) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, "-c", CONSUMER, contract.source.location, client_id(contract), url, mode,
             str(batch_max), str(batch_seconds)],
            cwd=REPO_ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT, env=os.environ.copy(),
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def entity(contract: Contract, station: str, moment: datetime, **values: Any) -> bytes:
    row = {c.name: None for c in contract.columns} | {
        "entity_id": f"urn:ngsi-ld:AirQualityObserved:{station}:{moment.isoformat()}",
        "station_code": station, "date_observed": moment, "pm25": 12.5, "pm10": 20.0,
        "lon": 107.08, "lat": 20.95,
    } | values
    return _dumps(to_entity(contract, row))


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("workers", [0, 1], ids=["inline", "worker-process"])
def test_stream_reconciles_with_manifest(lake_settings: Settings, broker_url: str, generated: Any,
                                         air: Contract, workers: int) -> None:
    register(air, lake_settings, broker_url)  # as Airflow does: publish, then drain the queue
    sent = publish_messages(broker_url, messages(generated, air))
    stats = drain([air], lake_settings, url=broker_url, client_id=client_id(air), idle_seconds=1.0,
                  workers=workers, **FAST)

    ds = generated[1].datasets[DATASET]
    bronze_rows, quarantine_rows, duplicates = expected(generated)
    assert sent == ds.rows_total == stats.total("received")
    assert (stats.total("bronze"), stats.total("quarantined"), stats.total("duplicates")) == (
        bronze_rows, quarantine_rows, duplicates)
    assert stats.acked == sent
    assert_exactly_once(air, lake_settings, generated)
    kinds = table("quarantine", air, lake_settings)["_reason"].str.extract(r"^(\w+):").value_counts()
    assert dict(kinds.iter_rows()) == {k: ds.defects[k] for k in ("bad_date", "wrong_type", "missing_key")}

    again = drain([air], lake_settings, url=broker_url, client_id=client_id(air), idle_seconds=0.5, **FAST)
    assert again.total("received") == 0, "acked messages came back"


def test_bad_messages_are_quarantined_with_reasons(lake_settings: Settings, broker_url: str,
                                                   air: Contract, catalog: Any) -> None:
    now = datetime.now(ICT).replace(microsecond=0)
    future, past = now + timedelta(days=365), now - timedelta(days=400)
    traffic = catalog["traffic_flow_observed"]
    topic = air.source.location + "/AQ07"
    batch = [
        (topic, entity(air, "AQ07", now - timedelta(hours=1))),
        (topic, b"\xff\xfe{not json"),
        (topic, b"[1, 2, 3]"),
        (topic, b'{"type": "AirQualityObserved", "pm25": {"type": "Property", "value": 3}}'),
        (topic, _dumps(to_entity(traffic, {
            "entity_id": "urn:ngsi-ld:TrafficFlowObserved:TD1:x", "device_id": "TD1", "road_segment": "QL18",
            "date_observed": now, "intensity": 3, "lon": 107.1, "lat": 20.9}))),
        (topic, entity(air, "AQ07", future)),
        (topic, entity(air, "AQ07", past)),
    ]
    register(air, lake_settings, broker_url)
    publish_messages(broker_url, batch)
    stats = drain([air], lake_settings, url=broker_url, client_id=client_id(air), idle_seconds=1.0, **FAST)

    assert (stats.total("received"), stats.total("bronze"), stats.total("quarantined")) == (7, 1, 6)
    quarantine = table("quarantine", air, lake_settings)
    reasons: dict[str, list[str]] = {}
    for rule, reason in quarantine.select("_rule", "_reason").iter_rows():
        reasons.setdefault(rule, []).append(reason)
    [not_json] = reasons["mqtt.not_json"]
    assert not_json.startswith(f"not_json: payload on {topic} is not JSON")
    array, no_id = sorted(reasons["mqtt.not_ngsi_ld"], key=lambda r: "JSON object" in r)
    assert "is a JSON array without the NGSI-LD member(s) ['id', 'type']" in array
    assert "is a JSON object without the NGSI-LD member(s) ['id']" in no_id
    [wrong_type] = reasons["mqtt.entity_type"]
    assert 'got type "TrafficFlowObserved"' in wrong_type
    ahead, behind = sorted(reasons["mqtt.clock_skew"], key=lambda r: "behind" in r)
    assert ahead.startswith(f"clock_skew: dateObserved {future.isoformat()} is 365 days ahead of receipt")
    assert "400 days behind receipt" in behind and past.isoformat() in behind
    raw = json.loads(quarantine.filter(pl.col("_rule") == "mqtt.not_json")["_raw"][0])
    assert raw["topic"] == topic and "not json" in raw["payload"]
    assert quarantine["_row_number"].null_count() == 0


def test_consumer_kill9_mid_stream_loses_and_doubles_nothing(lake_settings: Settings, broker_url: str,
                                                             generated: Any, air: Contract,
                                                             tmp_path: Path, spawn: Any) -> None:
    register(air, lake_settings, broker_url)
    killed = threading.Event()
    publisher = Publisher(broker_url, messages(generated, air), rate=100, hold=killed)
    publisher.start()

    first = spawn(air, broker_url, "die-after-commit", tmp_path / "first.log")
    assert first.wait(30) == -signal.SIGKILL, (tmp_path / "first.log").read_text()
    committed = counts(air, lake_settings)
    assert sum(committed) > 0, "the first consumer committed nothing before dying"

    second = spawn(air, broker_url, "plain", tmp_path / "second.log")
    wait_for(lambda: sum(counts(air, lake_settings)) > sum(committed) + 20, 30, "the second consumer")
    assert publisher.is_alive()
    second.send_signal(signal.SIGKILL)  # kill -9 while messages are flowing
    assert second.wait(10) == -signal.SIGKILL
    killed.set()
    # the first consumer's last batch was committed, never acked: redelivered, not re-landed
    assert "redelivered/duplicate message(s) skipped" in (tmp_path / "second.log").read_text()

    publisher.finish()
    stats = drain([air], lake_settings, url=broker_url, client_id=client_id(air), idle_seconds=1.5, **FAST)
    assert stats.total("received") > 0
    assert_exactly_once(air, lake_settings, generated)


@pytest.fixture
def own_broker(tmp_path: Path) -> Any:
    """A Mosquitto of our own with persistence, to stop and restart mid-stream."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(binary).exists():
        pytest.fail("mosquitto is not installed (apt-get install mosquitto)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = tmp_path / "mosquitto"
    store.mkdir()
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
                      f"persistence_location {store}/\nmax_queued_messages 100000\n"
                      f"user {getpass.getuser()}\n")
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                stderr=(tmp_path / "mosquitto.log").open("a"))
        procs.append(proc)

        def accepting() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                return True
            except OSError:
                return False

        wait_for(accepting, 10, "mosquitto to listen")
        return proc

    start()
    yield f"mqtt://127.0.0.1:{port}", procs, start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def test_broker_restart_mid_stream_loses_and_doubles_nothing(lake_settings: Settings, own_broker: Any,
                                                             generated: Any, air: Contract) -> None:
    url, procs, start = own_broker
    consumer = MqttConsumer([air], lake_settings, url=url, client_id=client_id(air), **FAST).start()
    stop = threading.Event()
    loop = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    loop.start()
    publisher = Publisher(url, messages(generated, air), rate=150)
    publisher.start()
    try:
        wait_for(lambda: sum(counts(air, lake_settings)) > 60, 20, "the first batches")
        assert publisher.is_alive()
        procs[-1].terminate()  # the broker saves its sessions and queues, then exits
        assert procs[-1].wait(10) == 0
        time.sleep(0.5)  # both clients notice the loss and retry
        start()
        publisher.finish()
        bronze_rows, quarantine_rows, _ = expected(generated)
        wait_for(lambda: counts(air, lake_settings) == (bronze_rows, quarantine_rows)
                 and consumer.idle_for() > 1.0 and not consumer.buffered(), 30, "the stream to land")
    finally:
        stop.set()
        consumer.wake()
        loop.join(20)
    assert consumer.stats.reconnects >= 1
    assert consumer.stats.total("received") >= generated[1].datasets[DATASET].rows_total
    assert_exactly_once(air, lake_settings, generated)


def test_sigterm_commits_the_open_batch_then_acks(lake_settings: Settings, broker_url: str,
                                                  air: Contract, tmp_path: Path, spawn: Any) -> None:
    register(air, lake_settings, broker_url)
    log = tmp_path / "consumer.log"
    proc = spawn(air, broker_url, "plain", log, batch_max=100_000, batch_seconds=60)
    wait_for(lambda: "subscribed" in log.read_text(), 20, "the consumer to subscribe")
    start = datetime.now(ICT).replace(minute=0, second=0, microsecond=0) - timedelta(hours=5)
    batch = [(air.source.location + f"/AQ{i:02d}", entity(air, f"AQ{i:02d}", start)) for i in range(1, 21)]
    publish_messages(broker_url, batch)
    time.sleep(1.5)  # delivered, buffered, not committed (the batch closes after 60 s)
    assert counts(air, lake_settings)[0] == 0
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, log.read_text()
    assert "stopped cleanly" in log.read_text()
    assert counts(air, lake_settings) == (20, 0)
    again = drain([air], lake_settings, url=broker_url, client_id=client_id(air), idle_seconds=0.5, **FAST)
    assert again.total("received") == 0, "the batch committed at SIGTERM was not acked"


def test_jsonl_fallback_reconciles(lake_settings: Settings, generated: Any, catalog: Any) -> None:
    contract = catalog[DATASET]
    zone = LandingZone.for_contract(contract, lake_settings)
    zone.incoming.mkdir(parents=True)
    stream = generated[0] / "mqtt" / f"{DATASET}.jsonl"
    shutil.copy(stream, zone.incoming / "gateway-01.jsonl")
    (zone.incoming / "gateway-02.jsonl").write_text(
        '{"topic": "ioc/sensors/air/AQ01", "payload": "{\\"id\\": 1}"}\n'
        "not json at all\n"
        '{"topic": "ioc/sensors/water/WQ01", "payload": {}}\n', encoding="utf-8")
    (zone.incoming / "readme.csv").write_text("a,b\n", encoding="utf-8")

    results = {r.file: r for r in ingest_jsonl_drops(contract, lake_settings)}
    bronze_rows, quarantine_rows, duplicates = expected(generated)
    main, broken = results["gateway-01.jsonl"], results["gateway-02.jsonl"]
    assert (main.bronze_rows, main.quarantined_rows, main.duplicates) == (bronze_rows, quarantine_rows, duplicates)
    assert results["readme.csv"].status == "failed"
    assert (broken.bronze_rows, broken.quarantined_rows) == (0, 3)

    quarantine = table("quarantine", contract, lake_settings)
    from_stream = quarantine.filter(pl.col("_source") == "gateway-01.jsonl")
    ds = generated[1].datasets[DATASET]
    parse_defects = {d.row for d in ds.defect_rows if d.kind in ("bad_date", "wrong_type", "missing_key")}
    assert set(from_stream["_row_number"]) == parse_defects  # row numbers are line numbers
    assert set(quarantine.filter(pl.col("_source") == "gateway-02.jsonl")["_rule"]) == {
        "mqtt.not_ngsi_ld", "mqtt.not_json", "mqtt.topic"}
    assert sorted(p.name for p in zone.processed.iterdir()) == ["gateway-01.jsonl", "gateway-02.jsonl"]

    # The same readings delivered again (another gateway's copy): nothing doubles.
    shutil.copy(stream, zone.incoming / "gateway-01-resend.jsonl")
    [again] = ingest_jsonl_drops(contract, lake_settings)
    assert (again.bronze_rows, again.quarantined_rows, again.duplicates) == (0, 0, ds.rows_total)
    assert table("bronze", contract, lake_settings).height == bronze_rows


def test_unreachable_broker_says_how_to_start_one(lake_settings: Settings, air: Contract) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(BrokerUnavailable, match="mosquitto -d -c /etc/mosquitto/mosquitto.conf"):
        drain([air], lake_settings, url=f"mqtt://127.0.0.1:{port}", idle_seconds=0.1)
    assert counts(air, lake_settings) == (0, 0)
