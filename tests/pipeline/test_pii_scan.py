"""No protected personal value appears in clear anywhere in silver or gold.

Every dataset with personal data is generated, delivered the way its department delivers it
(files, department databases, REST API, Open311), ingested, gated, built into silver and gold.
Then every string cell of every silver and gold table is checked against every clear value
the generator produced for a hashed, masked or dropped column.
"""

from __future__ import annotations

import json

import polars as pl
import pytest

from lakehouse.contracts import PiiAction
from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.ingest.connectors import run_connector
from lakehouse.ingest.database import URL_SETTINGS, DatabaseSource
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, list_tables, table_uri
from lakehouse.pipeline.gold import build_gold
from lakehouse.pipeline.silver import build_silver
from lakehouse.settings import reset_settings_cache
from lakehouse.simulators.department_db import generated_rows, seed_department_db
from lakehouse.simulators.http_api import serve_generated

pytestmark = pytest.mark.slow
MIN_LENGTH = 4  # shorter values ("A", "Lê") are not identifying, and would match by accident


def test_no_protected_value_survives_in_silver_or_gold(catalog, lake_settings, tmp_path, monkeypatch):
    with_pii = [c.name for c in catalog if any(col.effective_pii_action is not PiiAction.keep
                                               for col in c.pii_columns)]
    assert {"citizen_requests", "disease_surveillance", "traffic_incidents"} <= set(with_pii)
    names = sorted({*with_pii, "admin_units", "tourism_daily_arrivals"})
    sources = tmp_path / "sources"
    generate(sources, seed=3, datasets=names)
    deliver(sources, lake_settings.landing_root)
    for contract in catalog.by_kind("database"):
        if contract.name in names:
            url = f"sqlite:///{tmp_path / f'{contract.source.system}.sqlite'}"
            seed_department_db(contract, url, generated_rows(sources, contract))
            monkeypatch.setenv(URL_SETTINGS[DatabaseSource.from_contract(contract).engine][1], url)
    simulator = serve_generated(sources, catalog=catalog)
    try:
        monkeypatch.setenv("IOC_API_BASE_URLS", json.dumps(simulator.base_urls))
        reset_settings_cache()
        for name in names:
            run_connector(catalog[name])
    finally:
        simulator.stop()
    for name in names:
        build_silver(catalog[name])
    build_gold()

    # Every clear value the sources carried in a protected column (bronze holds them as delivered).
    clear: set[str] = set()
    for name in with_pii:
        bronze = pl.from_arrow(delta.read(table_uri(Tier.bronze, name, lake_settings)))
        for column in catalog[name].pii_columns:
            if column.effective_pii_action is not PiiAction.keep:
                clear |= {v for v in bronze[column.name].cast(pl.String).drop_nulls() if len(v) >= MIN_LENGTH}
    assert len(clear) > 100, "the generator should have produced personal data to protect"

    scanned, tables = 0, [(t, n, u) for t, n, u in list_tables(lake_settings) if t in (Tier.silver, Tier.gold)]
    for tier, name, uri in tables:
        frame = pl.from_arrow(delta.read(uri))
        for column, dtype in frame.schema.items():
            if dtype == pl.String:
                leaked = set(frame[column].drop_nulls().unique()) & clear
                assert not leaked, f"{tier.value}.{name}.{column} holds personal data in clear: {sorted(leaked)[:3]}"
                scanned += frame.height
    assert scanned > 1000
    assert {"citizen_requests", "traffic_incidents"} <= {n for t, n, _ in tables if t is Tier.silver}
    assert any(t is Tier.gold for t, _, _ in tables), "gold was built and scanned too"
