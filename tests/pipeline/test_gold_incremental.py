"""Gold is incremental: a run after one new day of readings writes only that day's partition
of ``gold.water_levels``, a correction re-sent days later republishes that one row, and the
table equals what a full refresh builds."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.ingest.files import ingest_landing
from lakehouse.lake.duck import load_extensions
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.pipeline.gold import build_gold, run_dbt
from lakehouse.pipeline.silver import build_silver
from lakehouse.settings import get_settings, reset_settings_cache

pytestmark = pytest.mark.slow
DAY0 = date(2026, 3, 1)
STATIONS = [
    {"station_code": "TV01", "station_name": "Trạm Bãi Cháy", "river": "Cửa Lục", "unit_code": "25002",
     "lon": 107.03, "lat": 20.96, "alarm_1_cm": 300, "alarm_2_cm": 350, "alarm_3_cm": 400},
    {"station_code": "TV02", "station_name": "Trạm Tiên Yên", "river": "Tiên Yên", "unit_code": "25019",
     "lon": 107.39, "lat": 21.34, "alarm_1_cm": 250, "alarm_2_cm": 300, "alarm_3_cm": 360},
]



def _readings(day: date) -> list[dict]:
    start = datetime(day.year, day.month, day.day, 1, tzinfo=UTC)  # 08:00 local: same local date
    return [{"station_code": s["station_code"], "observed_at": start + timedelta(hours=h),
             "water_level_cm": 200.0 + 20 * h + (10 if s["station_code"] == "TV02" else 0), "rainfall_mm": 1.5}
            for s in STATIONS for h in range(12)]


def _files(uri: str, version: int) -> dict[str, str]:
    actions = pa.table(DeltaTable(uri, version=version).get_add_actions(flatten=True)).to_pydict()
    return dict(zip(actions["path"], [str(d) for d in actions["partition.observed_date"]], strict=True))


def test_a_new_day_touches_only_its_partition_and_matches_a_full_refresh(catalog, lake_settings, land_rows, tmp_path,
                                                                          monkeypatch):
    sources = tmp_path / "sources"
    generate(sources, seed=1, datasets=["admin_units"])
    deliver(sources, lake_settings.landing_root)
    ingest_landing(catalog["admin_units"], lake_settings)
    build_silver(catalog["admin_units"], lake_settings)
    land_rows(catalog["hydro_stations"], "stations", STATIONS)
    build_silver(catalog["hydro_stations"], lake_settings)
    for offset in range(3):
        land_rows(catalog["water_levels"], f"day{offset}", _readings(DAY0 + timedelta(days=offset)))
    build_silver(catalog["water_levels"], lake_settings)
    build_gold(lake_settings)
    uri = table_uri(Tier.gold, "water_levels", lake_settings)
    before = DeltaTable(uri).version()
    assert set(_files(uri, before).values()) == {str(DAY0 + timedelta(days=d)) for d in range(3)}

    new_day = DAY0 + timedelta(days=3)
    land_rows(catalog["water_levels"], "day3", _readings(new_day))
    build_silver(catalog["water_levels"], lake_settings)
    result = build_gold(lake_settings)
    assert result.published["water_levels"] == 24  # the new day's readings, nothing else

    after = DeltaTable(uri).version()
    old, new = _files(uri, before), _files(uri, after)
    assert set(old) <= set(new), "no file of an earlier day was rewritten or removed"
    assert {new[p] for p in set(new) - set(old)} == {str(new_day)}

    # A station re-sends one corrected reading of the first day: only that row is republished.
    corrected = _readings(DAY0)[5] | {"water_level_cm": 333.0}
    land_rows(catalog["water_levels"], "correction", [corrected])
    build_silver(catalog["water_levels"], lake_settings)
    assert build_gold(lake_settings).published["water_levels"] == 1
    con = duckdb.connect()
    load_extensions(con)
    level, alarm = con.execute(f"select water_level_cm, alarm_level from delta_scan('{uri}') where station_code = "
                               f"'{corrected['station_code']}' and observed_at = ?", [corrected["observed_at"]]).fetchone()
    assert (level, alarm) == (333.0, 1)

    # The same lake, built from scratch into another warehouse, gives the same table.
    monkeypatch.setenv("IOC_WAREHOUSE_PATH", str(tmp_path / "fresh" / "ioc.duckdb"))
    reset_settings_cache()
    fresh = get_settings()
    run_dbt(["build", "--full-refresh", "--select", "+water_levels", "--indirect-selection", "cautious"], fresh)
    con.execute(f"attach '{fresh.warehouse_path}' as fresh (read_only)")
    columns = ", ".join(c[0] for c in con.execute("select * from fresh.gold.water_levels limit 0").description)
    full = f"select {columns} from fresh.gold.water_levels"
    incremental = f"select {columns} from delta_scan('{uri}')"
    assert con.execute(f"select count(*) from ({full})").fetchone()[0] == 4 * 24
    assert con.execute(f"select count(*) from ({full} except {incremental})").fetchone()[0] == 0
    assert con.execute(f"select count(*) from ({incremental} except {full})").fetchone()[0] == 0
