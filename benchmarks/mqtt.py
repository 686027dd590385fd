"""Benchmark MQTT → bronze: sustained messages/s and message-to-bronze latency.

    python benchmarks/mqtt.py [--messages 200000] [--latency-rate 10000] [--batch-max 20000]
                              [--batch-seconds 1.0] [--workers 0] [--publisher fast|paho]
                              [--url mqtt://host:port] [--keep]

1. Starts a Mosquitto of its own on a free loopback port (unless ``--url``), with no limit
   on queued messages: a consumer that falls behind must slow the stream, not lose it
   (Mosquitto's default ``max_queued_messages 1000`` would drop QoS 1 messages instead).
2. A separate process builds ``--messages`` AirQualityObserved NGSI-LD entities (unique
   station + minute; 0.5 % with a non-numeric pm25 and 0.1 % not JSON, which must end in
   quarantine) and publishes them at QoS 1 as fast as the broker acknowledges them,
   recording when each chunk left (``fast``: raw-socket publisher; ``paho``: paho-mqtt).
3. This process runs :class:`~lakehouse.ingest.mqtt.MqttConsumer` (QoS 1, persistent
   session, manual acks after commit) into a fresh lake, and stamps each commit.

Printed: publish and sustained MQTT → bronze rates (messages / (last commit − first
publish)), latency p50/p95/max (commit time − the message's publish time, bronze rows),
where the consumer's time goes (paho network thread vs. decode/parse/dedup/land/ack on
the main thread, and Mosquitto's and the publisher's CPU), and the lake's counts, which
must add up to the messages published (exit status 1 if they do not). A second run offers
``--latency-rate`` msg/s (below capacity) for latency without a backlog: in the saturating
run the publisher outruns the consumer, so its latency is mostly queueing.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lakehouse.contracts import Contract, load_catalog
from lakehouse.ingest.mqtt import LandOutcome, MqttConsumer
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.settings import Settings

console = Console(width=None if sys.stdout.isatty() else 140)
DATASET = "air_quality_observed"
STATIONS = 99  # AQ01..AQ99: the contract's pattern ^AQ[0-9]{2}$
TARGET = 20_000
BAD_TYPE_EVERY, NOT_JSON_EVERY = 200, 1000


def _start_time() -> datetime:
    """Minute-aligned, far enough back that the whole run lies in the past (no clock skew)."""
    now = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).replace(second=0, microsecond=0)
    return now - timedelta(hours=48)


def _key(i: int, start: datetime) -> tuple[str, datetime]:
    return f"AQ{i % STATIONS + 1:02d}", start + timedelta(minutes=i // STATIONS)


def entity_id(i: int, start: datetime) -> str:
    station, moment = _key(i, start)
    return f"urn:ngsi-ld:AirQualityObserved:{station}:{moment.isoformat()}"


def build_messages(n: int, start: datetime, prefix: str) -> list[tuple[str, bytes]]:
    from lakehouse.generate.ngsi import to_entity

    try:
        from orjson import dumps
    except ImportError:
        def dumps(value: object) -> bytes:
            return json.dumps(value).encode()

    contract = load_catalog()[DATASET]
    out = []
    for i in range(n):
        station, moment = _key(i, start)
        if i % NOT_JSON_EVERY == NOT_JSON_EVERY - 1:
            out.append((f"{prefix}/{station}", f"<html>502 Bad Gateway #{i}</html>".encode()))
            continue
        row = {"entity_id": entity_id(i, start), "station_code": station, "date_observed": moment,
               "pm25": "n/a" if i % BAD_TYPE_EVERY == BAD_TYPE_EVERY - 1 else (i % 700) / 10,
               "pm10": (i % 900) / 10, "no2": (i % 300) / 10, "so2": (i % 200) / 10,
               "co": float(300 + i % 500), "o3": (i % 400) / 10, "temperature": 20 + (i % 150) / 10,
               "relative_humidity": (i % 100) / 100, "lon": 107.0 + (i % 90) / 100, "lat": 20.9 + (i % 60) / 100}
        out.append((f"{prefix}/{station}", dumps(to_entity(contract, row))))
    return out


def publisher(url: str, n: int, start_iso: str, prefix: str, kind: str, rate: float | None,
              ready: mp.Event, go: mp.Event, results: mp.Queue) -> None:
    """Child process: build, wait for the consumer, publish, report chunk times and CPU."""
    from lakehouse.simulators.mqtt_publisher import fast_publish, publish_messages

    messages = build_messages(n, datetime.fromisoformat(start_iso), prefix)
    ready.set()
    go.wait()
    chunks: list[tuple[int, float]] = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    started = time.time()
    if kind == "fast":
        fast_publish(url, messages, rate=rate, on_chunk=lambda end, t: chunks.append((end, t)))
    else:
        publish_messages(url, messages, rate=rate)
        chunks.append((n, time.time()))  # paho gives no per-message send time: coarse
    finished = time.time()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    results.put({"chunks": chunks, "started": started, "finished": finished,
                 "cpu": cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime})


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_broker(workdir: Path) -> tuple[str, subprocess.Popen]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = _free_port()
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                      "max_queued_messages 0\n")
    proc = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                            stderr=(workdir / "mosquitto.log").open("w"))
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return f"mqtt://127.0.0.1:{port}", proc
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"mosquitto did not start: {(workdir / 'mosquitto.log').read_text()}")


def _cpu_of(pid: int, tid: int | None = None) -> float:
    """utime + stime (s) of a process, or of one of its threads."""
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def measure(args: argparse.Namespace, url: str, broker: subprocess.Popen | None, workdir: Path,
            n: int, rate: float | None) -> dict:
    """One run: a fresh lake, topic prefix and session; ``rate`` None = saturate."""
    prefix = f"bench/{uuid.uuid4().hex[:8]}/air"
    base = load_catalog()[DATASET]
    contract: Contract = base.model_copy(update={"source": base.source.model_copy(update={"location": prefix})})
    lake = workdir / f"lake-{prefix.split('/')[1]}"
    settings = Settings(lake_root=str(lake), landing_root=workdir / "landing")
    start = _start_time()

    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Event(), ctx.Event(), ctx.Queue()
    child = ctx.Process(target=publisher, args=(url, n, start.isoformat(), prefix, args.publisher, rate,
                                                ready, go, results))
    child.start()
    ids = {entity_id(i, start): i for i in range(n)}
    commits: list[tuple[float, list[str]]] = []

    def on_commit(outcome: LandOutcome) -> None:
        commits.append((time.time(), outcome.parsed["entity_id"].to_list()))

    consumer = MqttConsumer([contract], settings, url=url, client_id=f"bench-{prefix.split('/')[1]}",
                            batch_max=args.batch_max, batch_seconds=args.batch_seconds,
                            session_expiry=60, on_commit=on_commit, workers=args.workers).start()
    if not ready.wait(600):
        raise RuntimeError("publisher did not build its messages")
    network_tid = consumer._client._thread.native_id  # CPU of paho's thread
    worker_pids = list(consumer._pool._processes) if consumer._pool else []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    net0, workers0 = _cpu_of(os.getpid(), network_tid), sum(_cpu_of(pid) for pid in worker_pids)
    broker0 = _cpu_of(broker.pid) if broker else float("nan")
    go.set()
    label = f"{n:,} messages" + (f" at {rate:,.0f}/s" if rate else ", saturating")
    with console.status(f"consuming {label}"):
        deadline = time.monotonic() + args.timeout
        while consumer.stats.total("received") < n and time.monotonic() < deadline:
            consumer.wait(args.batch_seconds)
            consumer.flush_due()
            if consumer.idle_for() > 5 and not child.is_alive():
                break
        net1, workers1 = _cpu_of(os.getpid(), network_tid), sum(_cpu_of(pid) for pid in worker_pids)
        broker1 = _cpu_of(broker.pid) if broker else float("nan")
        consumer.close()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    pub = results.get(timeout=60)
    child.join(10)

    sent_at = [0.0] * n  # a message's publish time: when its chunk left the publisher
    previous = 0
    for end, at in pub["chunks"]:
        sent_at[previous:end] = [at] * (end - previous)
        previous = end
    latencies = [committed - sent_at[ids[eid]] for committed, eids in commits for eid in eids]
    stats = consumer.stats

    from deltalake import DeltaTable

    bad = sum(1 for i in range(n) if i % NOT_JSON_EVERY == NOT_JSON_EVERY - 1
              or i % BAD_TYPE_EVERY == BAD_TYPE_EVERY - 1)
    lake_counts = (DeltaTable(table_uri(Tier.bronze, DATASET, settings)).count(),
                   DeltaTable(table_uri(Tier.quarantine, DATASET, settings)).count())
    if not args.keep:
        shutil.rmtree(lake, ignore_errors=True)
    first_publish = pub["chunks"][0][1] if args.publisher == "fast" else pub["started"]
    landed = stats.total("bronze") + stats.total("quarantined")
    return {
        "n": n, "rate": rate, "stats": stats, "commits": len(commits),
        "publish_rate": n / (pub["finished"] - pub["started"]), "publisher_cpu": pub["cpu"],
        "sustained": landed / (max(at for at, _ in commits) - first_publish),
        "latency": latencies if args.publisher == "fast" else None,
        "consumer_cpu": cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime,
        "network": net1 - net0, "workers": workers1 - workers0 if worker_pids else None,
        "broker": broker1 - broker0, "lake": lake_counts, "expected": (n - bad, bad),
    }


def render(args: argparse.Namespace, runs: list[dict]) -> None:
    table = Table(title=f"MQTT → bronze: NGSI-LD AirQualityObserved, QoS 1, manual acks after commit, "
                        f"{os.cpu_count()} CPUs")
    table.add_column("measure")
    for r in runs:
        table.add_column(f"{r['n']:,} msgs, " + (f"offered {r['rate']:,.0f}/s" if r["rate"] else "saturating"),
                         justify="right")
    table.add_column("note")

    def row(name: str, cell: Callable[[dict], str], note: str = "") -> None:
        table.add_row(name, *(cell(r) for r in runs), note)

    def us(r: dict, seconds: float | None) -> str:
        return "n/a" if seconds is None or math.isnan(seconds) else f"{seconds / r['n'] * 1e6:,.1f} µs"

    def pct(r: dict, q: int) -> str:
        values = r["latency"]
        return "n/a" if not values else f"{_percentile(values, q) * 1e3:,.0f} ms"

    row("publish rate", lambda r: f"{r['publish_rate']:,.0f}/s", f"{args.publisher} publisher, separate process")
    row("[bold]sustained MQTT → bronze[/]", lambda r: f"[bold]{r['sustained']:,.0f}/s[/]",
        f"landed / (last commit − first publish); target {TARGET:,}/s")
    row("latency p50", lambda r: pct(r, 50), "commit time − publish time, bronze rows")
    row("latency p95", lambda r: pct(r, 95))
    row("latency max", lambda r: "n/a" if not r["latency"] else f"{max(r['latency']) * 1e3:,.0f} ms")
    row("batches (mean size)", lambda r: f"{r['commits']:,} ({r['n'] / max(1, r['commits']):,.0f})",
        f"batch_max {args.batch_max:,}, batch_seconds {args.batch_seconds}")
    row("consumer process CPU / msg", lambda r: us(r, r["consumer_cpu"]), "all threads")
    row("  paho network thread", lambda r: us(r, r["network"]), "socket, MQTT framing, buffering")
    if args.workers:
        row("worker processes CPU / msg", lambda r: us(r, r["workers"]), f"{args.workers} worker(s)")
    notes = {"decode": "JSON, NGSI-LD flatten_entity, records_to_frame", "parse": "ingest.parse + clock check",
             "hash": "row identities (Polars hash_rows)", "dedup": "identities vs. committed set",
             "land": "quarantine + bronze Delta commits", "ack": "all PUBACKs of a batch in one write"}
    for step, note in notes.items():
        where = "worker" if args.workers and step in ("decode", "parse", "hash") else "main"
        row(f"  {step} ({where}, wall) / msg", lambda r, step=step: us(r, r["stats"].timings.get(step, 0.0)), note)
    row("mosquitto CPU / msg", lambda r: us(r, r["broker"]) if args.url is None else "n/a")
    row("publisher CPU / msg", lambda r: us(r, r["publisher_cpu"]))
    row("bronze / quarantine", lambda r: f"{r['lake'][0]:,} / {r['lake'][1]:,}", "must equal the next row")
    row("expected", lambda r: f"{r['expected'][0]:,} / {r['expected'][1]:,}"
        + ("" if r["lake"] == r["expected"] and r["stats"].total("duplicates") == 0 else " [red]MISMATCH[/]"),
        f"{BAD_TYPE_EVERY}th: pm25 'n/a', {NOT_JSON_EVERY}th: not JSON")
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000, help="saturating run")
    parser.add_argument("--latency-rate", type=float, default=10_000,
                        help="offered load of the latency run, msg/s (0: skip it)")
    parser.add_argument("--latency-messages", type=int, default=100_000)
    parser.add_argument("--batch-max", type=int, default=20_000)
    parser.add_argument("--batch-seconds", type=float, default=1.0)
    parser.add_argument("--workers", type=int, default=0,
                        help="processes that decode + parse batches (0: the consumer's main thread)")
    parser.add_argument("--publisher", choices=["fast", "paho"], default="fast")
    parser.add_argument("--url", help="use this broker instead of starting one (unlimited queue advised)")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--keep", action="store_true", help="keep the lakes and broker log")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ioc-mqtt-bench-"))
    broker = None
    try:
        url = args.url
        if url is None:
            url, broker = start_broker(workdir)
        runs = [measure(args, url, broker, workdir, args.messages, None)]
        if args.latency_rate:
            runs.append(measure(args, url, broker, workdir, args.latency_messages, args.latency_rate))
        render(args, runs)
        if any(r["lake"] != r["expected"] or r["stats"].total("duplicates") for r in runs):
            console.print("[red]the lake does not reconcile with what was published[/]")
            raise SystemExit(1)
    finally:
        if broker is not None:
            broker.terminate()
            broker.wait(10)
        if args.keep:
            console.print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
