"""Silver from bronze batches: exactly once, newest version wins, crash-safe, placed on the map."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.pipeline import silver as silver_module
from lakehouse.pipeline.silver import build_silver

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def _incident(incident_id: int, *, status: str = "reported", updated: datetime = T0, lon: float = 107.08,
              lat: float = 20.96, occurred: datetime = T0, deleted: bool = False) -> dict:
    return {"incident_id": incident_id, "occurred_at": occurred, "incident_type": "collision", "severity": 2,
            "road_name": "QL18", "lon": lon, "lat": lat, "unit_code": None, "injuries": 0, "fatalities": 0,
            "status": status, "reporter_phone": "0912345678", "updated_at": updated, "is_deleted": deleted}



def _silver(settings, name: str) -> pl.DataFrame:
    return pl.from_arrow(delta.read(table_uri(Tier.silver, name, settings))).sort(pl.first())


def test_rerunning_a_batch_never_duplicates_silver(catalog, lake_settings, land_rows):
    contract = catalog["traffic_incidents"]
    land_rows(contract, "b1", [_incident(1), _incident(2), _incident(2)], T0)
    first = build_silver(contract, lake_settings)
    assert (first.merged, first.duplicates_removed) == (2, 1)
    again = build_silver(contract, lake_settings)
    assert again.batches == [] and _silver(lake_settings, contract.name).height == 2
    # Even forcing the same batch through the merge again is a no-op (its app transaction).
    table = silver_module.open_table(Tier.silver, contract.name, lake_settings)
    assert table.transaction_version(delta.app_id("b1")) is not None


def test_a_late_correction_updates_silver_and_a_late_stale_row_does_not(catalog, lake_settings, land_rows):
    contract = catalog["traffic_incidents"]
    land_rows(contract, "b1", [_incident(1), _incident(2)], T0)
    build_silver(contract, lake_settings)
    # The operator clears incident 1 an hour later: the correction arrives in the next batch.
    land_rows(contract, "b2", [_incident(1, status="cleared", updated=T0 + timedelta(hours=1))],
          T0 + timedelta(hours=1))
    # A replica lagging behind re-sends the old version of incident 1 after that: it must lose.
    land_rows(contract, "b3", [_incident(1, status="dispatched", updated=T0 + timedelta(minutes=30)),
                                          _incident(2, deleted=True, updated=T0 + timedelta(hours=2))],
          T0 + timedelta(hours=2))
    build_silver(contract, lake_settings)
    rows = _silver(lake_settings, contract.name)
    assert rows["incident_id"].to_list() == [1]  # incident 2 was deleted at the source
    assert rows["status"].to_list() == ["cleared"]
    # Change Data Feed is on, so gold can read just what changed.
    changes = silver_module.open_table(Tier.silver, contract.name, lake_settings).load_cdf(
        starting_version=0).read_all()
    assert "update_postimage" in changes.column("_change_type").to_pylist()
    props = silver_module.open_table(Tier.silver, contract.name, lake_settings).metadata().configuration
    assert props.get("delta.enableChangeDataFeed") == "true"


def test_a_crash_mid_run_leaves_silver_as_it_was_and_a_rerun_finishes(catalog, lake_settings, land_rows, monkeypatch):
    contract = catalog["traffic_incidents"]
    land_rows(contract, "b1", [_incident(1)], T0)
    land_rows(contract, "b2", [_incident(2)], T0 + timedelta(minutes=5))
    real_merge, calls = delta.merge, []

    def crash_on_second(*args, **kwargs):
        calls.append(kwargs["batch_id"])
        if len(calls) == 2:
            raise OSError("disk full")
        return real_merge(*args, **kwargs)

    monkeypatch.setattr(silver_module.delta, "merge", crash_on_second)
    with pytest.raises(OSError):
        build_silver(contract, lake_settings)
    assert _silver(lake_settings, contract.name)["incident_id"].to_list() == [1]
    monkeypatch.setattr(silver_module.delta, "merge", real_merge)
    result = build_silver(contract, lake_settings)
    assert result.batches == ["b2"]
    assert _silver(lake_settings, contract.name)["incident_id"].to_list() == [1, 2]
    # The gate of b2 ran twice, but quarantine and ops record it once.
    results = delta.read(table_uri(Tier.ops, "quality_results", lake_settings))
    assert sorted(results.column("batch_id").to_pylist()) == ["b1", "b2"]


@pytest.mark.parametrize(("requested", "unit"), [
    (datetime(2018, 5, 1, 3, tzinfo=UTC), "204"),     # Hoành Bồ district, before the merger
    (datetime(2019, 9, 30, 16, 30, tzinfo=UTC), "204"),  # 23:30 on 30 Sep, local time: still Hoành Bồ
    (datetime(2019, 9, 30, 17, 30, tzinfo=UTC), "193"),  # 00:30 on 1 Oct, local time: Hạ Long
    (datetime(2021, 5, 1, 3, tzinfo=UTC), "193"),     # Hạ Long city
    (datetime(2026, 1, 5, 3, tzinfo=UTC), "25006"),   # Hoành Bồ ward, after the 2025 reform
])
def test_a_report_in_hoanh_bo_is_placed_on_the_unit_of_its_date(catalog, lake_settings, land_rows, requested, unit):
    contract = catalog["citizen_requests"]
    row = {c.name: None for c in contract.columns} | {
        "service_request_id": "QN-1", "service_code": "pothole", "status": "open",
        "requested_datetime": requested, "updated_datetime": requested, "lon": 107.03, "lat": 21.11}
    land_rows(contract, "b1", [row], T0)
    build_silver(contract, lake_settings)
    assert _silver(lake_settings, contract.name)["unit_code"].to_list() == [unit]
