"""Every file-delivered dataset, generated with defects, reconciles exactly with the manifest:
rows in = bronze + quarantine, the gate and the dedup remove what the generator injected."""

from __future__ import annotations

from pathlib import Path

import pytest

from lakehouse import orchestration as orch
from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.ingest.files import LandingZone, ingest_landing
from lakehouse.lake.duck import lake_connection
from lakehouse.pipeline.silver import build_silver

FILE_DATASETS = sorted(c.name for cs in orch.systems(("file", "reference")).values() for c in cs)


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("sources")
    return out, generate(out, seed=11, datasets=FILE_DATASETS)


@pytest.mark.parametrize("name", FILE_DATASETS)
def test_dataset_reconciles_with_manifest(name, sources, catalog, lake_settings):
    out, manifest = sources
    deliver(out, lake_settings.landing_root)
    contract = catalog[name]
    results = ingest_landing(contract, lake_settings)
    silver = build_silver(contract, lake_settings)
    expected = manifest.datasets[name]

    con = lake_connection(lake_settings)
    def count(sql):
        return con.execute(sql).fetchone()[0]
    got = (count(f"select count(*) from bronze.{name}"),
           count(f"select count(*) from quarantine.{name} where _stage = 'parse'"),
           count(f"select count(*) from quarantine.{name} where _stage = 'gate'"),
           count(f"select count(*) from silver.{name}"))
    e = expected.expected
    assert got == (e.bronze, e.quarantine_parse, e.quarantine_gate, e.silver)
    assert silver.duplicates_removed == expected.defects.get("duplicate", 0)

    # Whole-file defects (a re-send in the wrong encoding) are failed, with a reason, not loaded.
    failed = {r.file for r in results if r.status == "failed"}
    assert failed == {Path(d.file).name for d in expected.file_defects}
    zone = LandingZone.for_contract(contract, lake_settings)
    for file in failed:
        assert (zone.failed / file).exists() and (zone.failed / f"{file}.reason.txt").exists()

    # PII never reaches silver in clear.
    for column in contract.pii_columns:
        action = column.effective_pii_action.value
        if action == "drop":
            assert column.name not in [c[0] for c in con.execute(f"describe silver.{name}").fetchall()]
        elif action == "hash":
            assert count(f"select count(*) from silver.{name} where {column.name} is not null "
                         f"and not regexp_matches({column.name}, '^[0-9a-f]{{64}}$')") == 0
        elif action == "mask":
            assert count(f"select count(*) from silver.{name} where {column.name} is not null "
                         f"and not ends_with({column.name}, '***')") == 0
