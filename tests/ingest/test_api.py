"""REST and Open311 pulls over real HTTP (loopback) against the simulated department APIs:
nothing lost, nothing landed twice, whatever the server does."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import datetime, timedelta

import httpx
import pytest

from lakehouse.generate import generate
from lakehouse.generate.manifest import PARSE_DEFECT_KINDS, Manifest
from lakehouse.ingest import api
from lakehouse.ingest.api import ApiError, MalformedPage, RetryPolicy, pull, read_state
from lakehouse.lake import Tier, open_table
from lakehouse.pipeline.silver import build_silver
from lakehouse.settings import get_settings, reset_settings_cache
from lakehouse.simulators.http_api import serve, serve_generated

DATASETS = ["admin_dossiers", "water_levels", "citizen_requests"]
FAST = RetryPolicy(attempts=4, initial=0.01, maximum=0.05, timeout=10)


@pytest.fixture(scope="module")
def generated(tmp_path_factory, catalog):
    out = tmp_path_factory.mktemp("generated")
    generate(out, datasets=DATASETS, catalog=catalog)
    return out


@pytest.fixture
def sim(generated, catalog):
    with serve_generated(generated, catalog=catalog) as simulator:
        yield simulator


def _pull(catalog, name, settings, sim, **options):
    return pull(catalog[name], settings, base_url=sim.base_url, retry=FAST, **options)


def _rows(tier, name, settings):
    table = open_table(tier, name, settings)
    return [] if table is None else table.to_pyarrow_table().to_pylist()


def _source_records(generated, name):
    manifest = Manifest.load(generated)
    return json.loads((generated / manifest.datasets[name].files[0]).read_text(encoding="utf-8"))


def _is_instant(text):
    try:
        return datetime.fromisoformat(text) is not None
    except (TypeError, ValueError):
        return False


_REASON = re.compile(r'^(\w+): (\w+)(?:=(".*") is not a valid \w+| is empty)$')


@pytest.mark.parametrize("name", DATASETS)
def test_full_pull_reconciles_with_the_manifest(name, generated, sim, catalog, lake_settings, monkeypatch):
    monkeypatch.setenv("IOC_API_BASE_URLS", json.dumps(sim.base_urls))  # the production path
    reset_settings_cache()
    settings = get_settings()
    contract, expected = catalog[name], Manifest.load(generated).datasets[name]
    results = pull(contract, settings, retry=FAST)

    bronze = _rows(Tier.bronze, name, settings)
    quarantine = _rows(Tier.quarantine, name, settings)
    assert len(bronze) == sum(r.bronze_rows for r in results) == expected.expected.bronze
    assert len(quarantine) == sum(r.quarantined_rows for r in results) == expected.expected.quarantine_parse
    assert len(bronze) + len(quarantine) == expected.rows_total

    # every parse defect the generator injected is quarantined, naming its column and value
    records = _source_records(generated, name)
    wanted = Counter()
    for defect in expected.defect_rows:
        if defect.kind in PARSE_DEFECT_KINDS:
            column = contract.column(defect.column)
            value = records[defect.row - 1][column.source_name or column.name]
            wanted[(defect.column, defect.kind, None if defect.kind == "missing_key" else value)] += 1
    found = Counter()
    for row in quarantine:
        kind, column, value = _REASON.match(row["_reason"]).groups()
        assert row["_rule"].endswith(f".{column}") and row["_stage"] == "parse"
        found[(column, kind, None if value is None else json.loads(value))] += 1
    assert found == wanted

    assert pull(contract, settings, retry=FAST) == []  # up to date: the ties are not landed again
    assert len(_rows(Tier.bronze, name, settings)) == len(bronze)


def test_cursor_pages_each_land_once(generated, sim, catalog, lake_settings):
    expected = Manifest.load(generated).datasets["admin_dossiers"]
    results = _pull(catalog, "admin_dossiers", lake_settings, sim, page_size=100)
    assert len(results) == math.ceil(expected.rows_total / 100)
    assert len({r.batch_id for r in results}) == len(results)
    assert sum(r.rows_in for r in results) == expected.rows_total
    assert all("page_size=100" in r for r in sim.requests)
    assert sum("cursor=" in r for r in sim.requests) == len(results) - 1
    assert len(_rows(Tier.bronze, "admin_dossiers", lake_settings)) == expected.expected.bronze


def test_open311_ties_across_page_boundaries(catalog, generated, lake_settings):
    """25 reports share one update second (pages of 10 all at the watermark), one sent twice
    across a page boundary; later, three more arrive with that same second."""
    clean = [r for r in _source_records(generated, "citizen_requests") if r["service_request_id"]][:28]
    moment = "2025-06-10T09:00:00+07:00"
    for i, record in enumerate(clean):
        record.update(updated_datetime=moment, requested_datetime="2025-06-10T08:00:00+07:00",
                      service_request_id=f"TIE-{i:02d}")
    first = clean[:25]
    first.insert(10, dict(first[9]))  # an exact duplicate delivery straddling pages 1 and 2
    with serve(catalog, {"citizen_requests": first}) as sim:
        _pull(catalog, "citizen_requests", lake_settings, sim, page_size=10)
        ids = Counter(r["service_request_id"] for r in _rows(Tier.bronze, "citizen_requests", lake_settings))
        assert ids == Counter({f"TIE-{i:02d}": 2 if i == 9 else 1 for i in range(25)})
        assert any("page=3" in r for r in sim.requests)  # a whole page at the watermark: page grows

        sim.add_records("citizen_requests", clean[25:])
        results = _pull(catalog, "citizen_requests", lake_settings, sim, page_size=10)
        assert sum(r.bronze_rows for r in results) == 3
        ids = Counter(r["service_request_id"] for r in _rows(Tier.bronze, "citizen_requests", lake_settings))
        assert ids == Counter({f"TIE-{i:02d}": 2 if i == 9 else 1 for i in range(28)})


def test_retries_transient_failures_then_succeeds(generated, sim, catalog, lake_settings):
    sim.fail_next(2, status=503)
    sim.fail_next(1, drop=True)
    sim.fail_next(1, status=500, retry_after=0, after=2)  # on a later page
    results = _pull(catalog, "water_levels", lake_settings, sim)
    expected = Manifest.load(generated).datasets["water_levels"].expected
    assert sum(r.bronze_rows for r in results) == expected.bronze
    assert len(sim.requests) == len(results) + 4
    assert len(_rows(Tier.bronze, "water_levels", lake_settings)) == expected.bronze


def test_retries_exhausted_fail_the_run_and_keep_the_state(sim, catalog, lake_settings):
    sim.fail_next(FAST.attempts, status=503)
    with pytest.raises(ApiError, match="failed 4 times"):
        _pull(catalog, "admin_dossiers", lake_settings, sim)
    assert read_state("admin_dossiers", lake_settings).watermark is None
    assert _pull(catalog, "admin_dossiers", lake_settings, sim)  # the service is back


def test_incremental_pull_takes_only_what_changed(generated, sim, catalog, lake_settings):
    _pull(catalog, "admin_dossiers", lake_settings, sim)
    before = len(_rows(Tier.bronze, "admin_dossiers", lake_settings))
    watermark = read_state("admin_dossiers", lake_settings).watermark
    template = next(r for r in _source_records(generated, "admin_dossiers")
                    if r["dossierId"] and r["status"] == "processing")
    sim.add_records("admin_dossiers", [
        {**template, "dossierId": "LATE-TIE", "updatedAt": watermark.isoformat()},  # same second as the watermark
        {**template, "dossierId": "NEW-1", "updatedAt": (watermark + timedelta(hours=1)).isoformat()},
    ])
    [changed] = sim.update_record("admin_dossiers", {"dossierId": template["dossierId"]}, status="completed")
    sim.requests.clear()

    [result] = _pull(catalog, "admin_dossiers", lake_settings, sim)
    assert (result.bronze_rows, result.quarantined_rows) == (3, 0)
    assert f"updated_since={api.iso(watermark).replace(':', '%3A')}" in sim.requests[0]
    rows = _rows(Tier.bronze, "admin_dossiers", lake_settings)
    assert len(rows) == before + 3
    assert {r["dossier_id"] for r in rows if r["_batch_id"] == result.batch_id} == {
        "LATE-TIE", "NEW-1", changed["dossierId"]}
    assert read_state("admin_dossiers", lake_settings).watermark > watermark


def test_open311_status_change_ends_as_one_silver_row(generated, sim, catalog, lake_settings):
    contract = catalog["citizen_requests"]
    records = _source_records(generated, "citizen_requests")
    ids = Counter(r["service_request_id"] for r in records)
    _pull(catalog, "citizen_requests", lake_settings, sim)
    build_silver(contract, lake_settings)
    silver = {r["service_request_id"]: r for r in _rows(Tier.silver, contract.name, lake_settings)}
    assert len(silver) == Manifest.load(generated).datasets[contract.name].expected.silver
    target = next(i for i, row in silver.items() if row["status"] == "open" and ids[i] == 1)

    updated = sim.update_request(target, status="closed", status_notes="Đã sửa xong mặt đường.")
    [result] = _pull(catalog, "citizen_requests", lake_settings, sim)
    assert result.bronze_rows == 1
    build_silver(contract, lake_settings)

    bronze = [r for r in _rows(Tier.bronze, contract.name, lake_settings) if r["service_request_id"] == target]
    assert sorted(r["status"] for r in bronze) == ["closed", "open"]  # bronze keeps what arrived
    rows = _rows(Tier.silver, contract.name, lake_settings)
    [row] = [r for r in rows if r["service_request_id"] == target]
    assert (row["status"], row["status_notes"]) == ("closed", updated["status_notes"])
    assert len(rows) == len(silver)


def test_open311_endpoints_speak_georeport_v2(generated, sim):
    records = _source_records(generated, "citizen_requests")
    base = f"{sim.base_url}/open311/v2"
    [services_file] = Manifest.load(generated).datasets["citizen_requests"].aux_files
    services = httpx.get(f"{base}/services.json").json()
    assert services == json.loads((generated / services_file).read_text(encoding="utf-8"))
    assert all({"service_code", "service_name", "metadata", "type"} <= set(s) for s in services)

    one = records[0]["service_request_id"]
    answer = httpx.get(f"{base}/requests/{one}.json")
    assert answer.status_code == 200 and [r["service_request_id"] for r in answer.json()] == [one]
    missing = httpx.get(f"{base}/requests/QN-000000-0000.json")
    assert missing.status_code == 404
    assert missing.json() == [{"code": 404, "description": "service_request_id QN-000000-0000 not found"}]

    two = httpx.get(f"{base}/requests.json", params={"service_request_id": f"{one},{records[1]['service_request_id']}"})
    assert len(two.json()) == 2
    everything = httpx.get(f"{base}/requests.json").json()  # default window: the last 90 days
    assert len(everything) == sum(_is_instant(r["requested_datetime"]) for r in records)
    opened = httpx.get(f"{base}/requests.json", params={"status": "open"}).json()
    assert opened and all(r["status"] == "open" for r in opened)
    day = httpx.get(f"{base}/requests.json", params={"start_date": "2025-06-03T00:00:00+07:00",
                                                      "end_date": "2025-06-03T23:59:59+07:00"}).json()
    assert day and all(r["requested_datetime"].startswith("2025-06-03") for r in day)
    too_long = httpx.get(f"{base}/requests.json", params={"start_date": "2025-01-01T00:00:00Z",
                                                           "end_date": "2025-06-30T00:00:00Z"})
    assert too_long.status_code == 400 and too_long.json()[0]["code"] == 400


def test_malformed_page_stops_the_run_and_loses_nothing(generated, sim, catalog, lake_settings):
    expected = Manifest.load(generated).datasets["water_levels"].expected
    sim.corrupt_next(after=2)  # the third page is cut off mid-JSON
    with pytest.raises(MalformedPage, match="not JSON"):
        _pull(catalog, "water_levels", lake_settings, sim)
    state = read_state("water_levels", lake_settings)
    landed = len(_rows(Tier.bronze, "water_levels", lake_settings))
    assert state.pending is None and state.watermark is not None and 0 < landed < expected.bronze

    sim.corrupt_next(body='{"error": "maintenance"}')  # JSON, but not a page
    with pytest.raises(MalformedPage, match="is not"):
        _pull(catalog, "water_levels", lake_settings, sim)
    assert read_state("water_levels", lake_settings).watermark == state.watermark  # did not move
    assert len(_rows(Tier.bronze, "water_levels", lake_settings)) == landed

    _pull(catalog, "water_levels", lake_settings, sim)  # fault gone: picks up where it stopped
    rows = _rows(Tier.bronze, "water_levels", lake_settings)
    assert len(rows) == expected.bronze
    assert len(_rows(Tier.quarantine, "water_levels", lake_settings)) == expected.quarantine_parse


def test_open311_page_that_is_not_a_list_fails(sim, catalog, lake_settings):
    sim.corrupt_next(body='{"code": 500, "description": "oops"}')
    with pytest.raises(MalformedPage, match="not a JSON list"):
        _pull(catalog, "citizen_requests", lake_settings, sim)
    assert read_state("citizen_requests", lake_settings).watermark is None


def test_items_that_are_not_objects_or_lack_fields_are_quarantined(generated, sim, catalog, lake_settings):
    _pull(catalog, "admin_dossiers", lake_settings, sim)
    quarantined = len(_rows(Tier.quarantine, "admin_dossiers", lake_settings))
    later = (read_state("admin_dossiers", lake_settings).watermark + timedelta(minutes=1)).isoformat()
    template = next(r for r in _source_records(generated, "admin_dossiers") if r["dossierId"]) | {"updatedAt": later}
    no_id = {k: v for k, v in template.items() if k != "dossierId"}
    no_unit = {k: v for k, v in template.items() if k != "unitCode"} | {"dossierId": "NO-UNIT"}
    sim.add_records("admin_dossiers", [42, "hồ sơ", no_id, no_unit])
    [result] = _pull(catalog, "admin_dossiers", lake_settings, sim)
    assert (result.bronze_rows, result.quarantined_rows) == (1, 3)
    new = [r for r in _rows(Tier.quarantine, "admin_dossiers", lake_settings) if r["_batch_id"] == result.batch_id]
    assert len(new) + quarantined == len(_rows(Tier.quarantine, "admin_dossiers", lake_settings))
    assert sorted(r["_reason"] for r in new) == [
        "missing_key: dossier_id is empty",
        "not_an_object: item 1 is JSON int, not an object",
        "not_an_object: item 2 is JSON str, not an object",
    ]
    assert {r["_raw"] for r in new if r["_rule"] == "parse.record"} == {"42", '"hồ sơ"'}


def test_crash_after_landing_is_finished_not_repeated(generated, sim, catalog, lake_settings, monkeypatch):
    """Crash after a page landed but before the watermark moved, then the source changes:
    the re-run finishes the written-ahead page instead of re-fetching a shifted one."""
    real, calls = api.write_state, Counter()

    def crash_on_second_advance(state, settings):
        if state.pending is None:
            calls["advance"] += 1
            if calls["advance"] == 2:
                raise RuntimeError("worker killed")
        real(state, settings)

    monkeypatch.setattr(api, "write_state", crash_on_second_advance)
    with pytest.raises(RuntimeError, match="worker killed"):
        _pull(catalog, "admin_dossiers", lake_settings, sim, page_size=200)
    assert read_state("admin_dossiers", lake_settings).pending is not None

    ids = Counter(r["dossierId"] for r in _source_records(generated, "admin_dossiers"))
    in_page_two = next(e.payload["dossierId"] for e in sim.feeds["admin_dossiers"].ordered()[200:400]
                       if e.payload["dossierId"] and ids[e.payload["dossierId"]] == 1)
    sim.update_record("admin_dossiers", {"dossierId": in_page_two}, status="completed")

    results = _pull(catalog, "admin_dossiers", lake_settings, sim, page_size=200)
    assert results[0].skipped  # the pending page had landed: finished, not repeated
    expected = Manifest.load(generated).datasets["admin_dossiers"].expected
    rows = _rows(Tier.bronze, "admin_dossiers", lake_settings)
    assert len(rows) == expected.bronze + 1  # + the changed dossier's new version
    assert sum(r["dossier_id"] == in_page_two for r in rows) == 2
    assert read_state("admin_dossiers", lake_settings).pending is None


def test_configuration_errors_are_explicit(catalog, lake_settings):
    with pytest.raises(ApiError, match="IOC_API_BASE_URLS"):
        pull(catalog["admin_dossiers"], lake_settings)
    with pytest.raises(ValueError, match="not an API"):
        pull(catalog["tourism_daily_arrivals"], lake_settings, base_url="http://127.0.0.1:9")
