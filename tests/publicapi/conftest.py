"""A small real province for the public API: admin units and citizen reports generated,
delivered (file drop, the Open311 simulator over HTTP), ingested, gated into silver, built
into gold by dbt, exported as open data, and the public API started as ``make demo`` starts
it (a uvicorn process from ``python -m lakehouse.publicapi``) on a free port."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from lakehouse.contracts import Catalog, Contract, PiiClass
from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.generate.manifest import Manifest
from lakehouse.ingest.api import pull
from lakehouse.ingest.connectors import run_connector
from lakehouse.opendata import export_open_data
from lakehouse.pipeline.gold import build_marts, publish_gold
from lakehouse.pipeline.silver import build_silver
from lakehouse.publicapi import start_server, stop_server
from lakehouse.publicapi.fields import open311_contract
from lakehouse.settings import Settings, get_settings, reset_settings_cache
from lakehouse.simulators.http_api import Simulator, serve_generated

MIN_LENGTH = 4  # as the whole-lake scan: shorter values are not identifying and match by accident


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Citizens:
    """The running province: settings, generated sources, the Open311 source, the public API."""

    catalog: Catalog
    contract: Contract
    settings: Settings
    sources: Path
    simulator: Simulator
    url: str
    client: httpx.Client

    def next_run(self) -> None:
        """What the Airflow chain does after a change at the source: pull, gate, build, publish."""
        refresh(self.contract, self.settings, self.simulator)

    def source_records(self) -> list[dict[str, Any]]:
        """The generator's clean Open311 records (rows it made defective left out), latest per id."""
        manifest = Manifest.load(self.sources).datasets[self.contract.name]
        defective = {(d.file, d.row) for d in manifest.defect_rows}
        latest: dict[str, dict] = {}
        for file in manifest.files:
            for row, record in enumerate(json.loads((self.sources / file).read_text(encoding="utf-8")), start=1):
                if (file, row) not in defective:
                    latest[record["service_request_id"]] = record
        assert len(latest) == manifest.expected.silver
        return list(latest.values())

    def clear_personal_values(self) -> set[str]:
        """Every value the generator put in a column the contract marks as personal (any PII
        class), as delivered, from every file of the dataset (defective rows included)."""
        manifest = Manifest.load(self.sources).datasets[self.contract.name]
        fields = [c.source_name or c.name for c in self.contract.columns if c.pii is not PiiClass.none]
        found: set[str] = set()
        for file in manifest.files:
            for record in json.loads((self.sources / file).read_text(encoding="utf-8")):
                if isinstance(record, dict):
                    found |= {str(record[f]) for f in fields if record.get(f) is not None}
        return {v for v in found if len(v) >= MIN_LENGTH}


def refresh(contract: Contract, settings: Settings, simulator: Simulator) -> None:
    pull(contract, settings, base_url=simulator.base_url)
    build_silver(contract, settings)
    built = build_marts(settings, downstream_of=f"+{contract.name}")  # the mart and what it needs
    publish_gold(settings, only=built)


@pytest.fixture(scope="module")
def citizens(tmp_path_factory, catalog) -> Citizens:
    root = tmp_path_factory.mktemp("citizens")
    port = free_port()
    contract = open311_contract(catalog)
    env = {"IOC_LAKE_ROOT": root / "lake", "IOC_LANDING_ROOT": root / "landing",
           "IOC_WAREHOUSE_PATH": root / "warehouse" / "ioc.duckdb", "IOC_GX_ROOT": root / "gx",
           "IOC_PII_SALT": "test-salt-not-a-secret", "IOC_OPENDATA_DIR": root / "opendata",
           "IOC_PUBLIC_API_PORT": port, "IOC_PUBLIC_API_RATE_PER_MINUTE": 1_000_000,
           "IOC_PUBLIC_API_BURST": 100_000}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, str(value))
        reset_settings_cache()
        settings = get_settings()
        sources = root / "sources"
        # Recent days: GeoReport's default listing is the last 90 days.
        generate(sources, datasets=["admin_units", contract.name], start=date.today() - timedelta(days=6), days=6,
                 catalog=catalog)
        deliver(sources, settings.landing_root)
        units = catalog["admin_units"]
        run_connector(units, settings)
        build_silver(units, settings)
        simulator = serve_generated(sources, catalog=catalog)
        home = root / "publicapi"
        try:
            refresh(contract, settings, simulator)
            export_open_data(settings)
            url = start_server(settings, home=home)
            with httpx.Client(base_url=url, timeout=30) as client:
                yield Citizens(catalog, contract, settings, sources, simulator, url, client)
        finally:
            stop_server(settings, home=home)
            simulator.stop()
    reset_settings_cache()
