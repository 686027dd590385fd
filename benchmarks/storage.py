"""Bytes per row in each tier of the lake, for sizing a deployment (infra/SIZING.md).

    python benchmarks/storage.py [--scale 10] [--days 7] [--keep]

Generates the sensor streams (``traffic_flow_observed``, ``air_quality_observed``: NGSI-LD
messages, as the MQTT consumer receives them), a department file (``hotel_occupancy``, CSV)
and the registries they reference, delivers them (sensor messages as the MQTT fallback's JSONL
drops, one bronze batch per drop), runs the real connectors and ``build_silver`` into a
temporary lake, then prints for every dataset: rows and bytes as delivered (the message
payloads, or the files), and rows, Delta data-file bytes (the log's ``size`` of the live
files) and bytes per row in bronze and silver. Nothing is estimated: each figure is read
from what was written. Bytes per row depend on the data's shape (column count, cardinality,
compression): the generator mimics the province's sources, not their exact values.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENSORS = ["traffic_flow_observed", "air_quality_observed"]
FILES = ["hotel_occupancy"]
REFERENCES = ["admin_units", "sensor_registry"]


def delivered_bytes(sources: Path, contract) -> tuple[int, int]:
    """(messages, payload bytes) for a sensor stream, (-1, file bytes) for a department file."""
    if contract.source.kind.value == "mqtt":
        count = size = 0
        for line in (sources / "mqtt" / f"{contract.name}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                payload = json.loads(line)["payload"]
                size += len((payload if isinstance(payload, str) else json.dumps(payload)).encode())
                count += 1
        return count, size
    folder = sources / "landing" / contract.source.location
    return -1, sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def table_bytes(uri: str) -> tuple[int, int]:
    from deltalake import DeltaTable

    table = DeltaTable(uri)
    actions = table.get_add_actions(flatten=True)
    rows = sum(v or 0 for v in actions.column("num_records").to_pylist())
    size = sum(actions.column("size_bytes").to_pylist())
    return rows, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="leave the temporary lake in place")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ioc-storage-"))
    os.environ.update({"IOC_LAKE_ROOT": str(work / "lake"), "IOC_LANDING_ROOT": str(work / "landing"),
                       "IOC_WAREHOUSE_PATH": str(work / "warehouse" / "ioc.duckdb"), "IOC_GX_ROOT": str(work / "gx"),
                       "IOC_PII_SALT": "benchmark-salt", "IOC_MQTT_URL": ""})
    from lakehouse.contracts import load_catalog
    from lakehouse.demo import deliver
    from lakehouse.generate import generate
    from lakehouse.ingest.connectors import run_connector
    from lakehouse.ingest.mqtt import ingest_jsonl_drops
    from lakehouse.ingest.mqtt_lander import ClockWindow
    from lakehouse.lake.paths import Tier, table_uri
    from lakehouse.orchestration import referenced_first
    from lakehouse.pipeline.silver import build_silver
    from lakehouse.settings import get_settings

    settings = get_settings()
    catalog = load_catalog(settings.catalog_dir)
    names = [*REFERENCES, *SENSORS, *FILES]
    sources = work / "sources"
    started = time.perf_counter()
    generate(sources, seed=11, scale=args.scale, days=args.days, datasets=names, wrong_encoding=False)
    deliver(sources, settings.landing_root)
    contracts = [catalog[n] for n in names]
    for contract in contracts:
        if contract.source.kind.value == "mqtt":  # the broker's path, from JSONL drops; 2025 clocks accepted
            drop = settings.landing_root / contract.source.location / "incoming"
            drop.mkdir(parents=True, exist_ok=True)
            shutil.copy2(sources / "mqtt" / f"{contract.name}.jsonl", drop / f"{contract.name}.jsonl")
            ingest_jsonl_drops(contract, settings, clock=ClockWindow(max_behind=timedelta(days=3650)))
        else:
            run_connector(contract, settings)
    for contract in referenced_first(contracts):
        build_silver(contract, settings)
    print(f"scale {args.scale}, {args.days} days, built in {time.perf_counter() - started:.0f} s ({work})")
    header = (f"{'dataset':24} {'delivered':>10} {'B/msg':>7} {'bronze rows':>12} {'bronze B':>11} {'B/row':>7}"
              f" {'silver rows':>12} {'silver B':>11} {'B/row':>7}")
    print(header)
    for name in [*SENSORS, *FILES]:
        contract = catalog[name]
        count, size = delivered_bytes(sources, contract)
        b_rows, b_size = table_bytes(table_uri(Tier.bronze, name, settings))
        s_rows, s_size = table_bytes(table_uri(Tier.silver, name, settings))
        per_message = f"{size / count:7.0f}" if count > 0 else "  (file)"
        print(f"{name:24} {size:>10,} {per_message} {b_rows:>12,} {b_size:>11,} {b_size / b_rows:7.1f}"
              f" {s_rows:>12,} {s_size:>11,} {s_size / s_rows:7.1f}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
