"""The production storage path end to end, on a real S3 endpoint (moto's server over HTTP):
the Tourism slice (file delivery → bronze → GX gate → silver → dbt gold on DuckDB reading
``delta_scan('s3://…')`` through httpfs → gold published as Delta on S3), read back with
DuckDB and with the Spark bridge, re-run without duplicates. Only settings say "S3": the
functions are the ones the embedded demo runs.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow as pa
import pytest

from lakehouse.contracts import load_catalog
from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.ingest.connectors import run_connector
from lakehouse.lake import delta
from lakehouse.lake.duck import lake_connection
from lakehouse.lake.paths import Tier, list_tables, storage_options, table_uri
from lakehouse.orchestration import referenced_first
from lakehouse.pipeline.gold import build_gold
from lakehouse.pipeline.silver import build_silver
from lakehouse.settings import REPO_ROOT
from lakehouse.spark import read_table, write_table

pytestmark = pytest.mark.slow
DATASETS = ["admin_units", "tourism_daily_arrivals"]


def _local_lake_state() -> dict[str, float]:
    """Modification times of the embedded lake's tables (it must not be touched)."""
    root = REPO_ROOT / "var" / "lake"
    return {str(p): p.stat().st_mtime for p in root.glob("*/*/_delta_log")} if root.exists() else {}


def _one_pass(settings, sources: Path) -> None:
    catalog = load_catalog(settings.catalog_dir)
    contracts = [catalog[name] for name in DATASETS]
    deliver(sources, settings.landing_root)
    for contract in contracts:
        run_connector(contract, settings)
    for contract in referenced_first(contracts):
        build_silver(contract, settings)
    result = build_gold(settings)
    assert "tourism_daily" in result.built and "tourism_daily" in result.published


def _counts(settings) -> dict[str, int]:
    con = lake_connection(settings)
    tables = ["bronze.tourism_daily_arrivals", "quarantine.tourism_daily_arrivals",
              "silver.tourism_daily_arrivals", "silver.admin_units", "gold.tourism_daily",
              "gold.dim_admin_units"]
    return {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}


def test_tourism_slice_on_s3(s3_lake, s3_server, spark, tmp_path: Path):
    settings = s3_lake
    bucket = settings.lake_root.removeprefix("s3://").split("/")[0]
    local_before = _local_lake_state()
    sources = tmp_path / "sources"
    manifest = generate(sources, seed=7, datasets=DATASETS)
    expected = manifest.datasets["tourism_daily_arrivals"].expected

    _one_pass(settings, sources)

    # The tables are objects in the bucket, listed from S3 (no local folder to walk).
    listed = {(t.value, n) for t, n, _ in list_tables(settings)}
    assert {("bronze", "tourism_daily_arrivals"), ("silver", "tourism_daily_arrivals"),
            ("gold", "tourism_daily"), ("ops", "quality_results")} <= listed
    keys = s3_server.keys(bucket, "lake/gold/tourism_daily/")
    assert any("/_delta_log/" in k for k in keys) and any(k.endswith(".parquet") for k in keys)

    # Rows reconcile with the generator's manifest, as on a local lake (test_slice).
    counts = _counts(settings)
    con = lake_connection(settings)
    parsed_out = con.execute("select count(*) from quarantine.tourism_daily_arrivals where _stage = 'parse'").fetchone()[0]
    gated_out = con.execute("select count(*) from quarantine.tourism_daily_arrivals where _stage = 'gate'").fetchone()[0]
    assert counts["bronze.tourism_daily_arrivals"] + parsed_out == manifest.datasets["tourism_daily_arrivals"].rows_total
    assert (counts["bronze.tourism_daily_arrivals"], parsed_out, gated_out, counts["silver.tourism_daily_arrivals"]) == (
        expected.bronze, expected.quarantine_parse, expected.quarantine_gate, expected.silver)
    assert counts["gold.tourism_daily"] == counts["silver.tourism_daily_arrivals"] > 0
    assert con.execute("select count(*) from gold.tourism_daily where unit_name_vi is null").fetchone()[0] == 0

    # The Spark bridge reads gold from S3 and writes a table there; DuckDB reads it back.
    gold = read_table(spark, "gold", "tourism_daily", settings=settings)
    assert gold.count() == counts["gold.tourism_daily"]
    by_site = gold.groupBy("site_name").sum("total_visitors").withColumnRenamed("sum(total_visitors)", "visitors")
    written = write_table(by_site, "gold", "spark_visitors_by_site", settings=settings, mode="overwrite",
                          batch_id="spark-by-site-1")
    assert not written.skipped and written.version == 0
    again = write_table(by_site, "gold", "spark_visitors_by_site", settings=settings, mode="overwrite",
                        batch_id="spark-by-site-1")
    assert again.skipped
    con = lake_connection(settings)
    assert con.execute("select sum(visitors) from gold.spark_visitors_by_site").fetchone()[0] == \
        con.execute("select sum(total_visitors) from gold.tourism_daily").fetchone()[0]

    # The same deliveries again, the whole chain again: nothing is duplicated on S3.
    _one_pass(settings, sources)
    assert _counts(settings) == counts
    assert lake_connection(settings).execute(
        "select count(*) from quarantine.tourism_daily_arrivals").fetchone()[0] == parsed_out + gated_out

    # Nothing landed in a local lake: no Delta table under the test's folders, the embedded
    # lake untouched; only the landing zone, the warehouse file and the GX project are local.
    assert not list(tmp_path.rglob("_delta_log"))
    assert _local_lake_state() == local_before


def test_concurrent_writers_on_s3_all_land(s3_lake, s3_server):
    """delta-rs commits with S3 conditional puts: concurrent appends from several writers all
    land, none overwrites another's log entry (no AWS_S3_ALLOW_UNSAFE_RENAME, no lock table)."""
    import botocore.exceptions

    settings = s3_lake
    bucket = settings.lake_root.removeprefix("s3://").split("/")[0]
    # The endpoint really refuses a second create of the same key (what the commit relies on).
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="probe", Body=b"1", IfNoneMatch="*")
    with pytest.raises(botocore.exceptions.ClientError, match="PreconditionFailed"):
        client.put_object(Bucket=bucket, Key="probe", Body=b"2", IfNoneMatch="*")

    uri, options = table_uri(Tier.ops, "concurrency_probe", settings), storage_options(settings)
    delta.append(uri, pa.table({"writer": [0]}), batch_id="w0", storage_options=options)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            delta.append(uri, pa.table({"writer": [n]}), batch_id=f"w{n}", storage_options=options)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    table = delta.read(uri, storage_options=options)
    assert sorted(table.column("writer").to_pylist()) == list(range(7))
    assert delta.try_open(uri, options).version() == 6


def test_camera_clips_and_thumbnails_live_in_the_bucket(s3_lake, s3_server, spark, catalog, tmp_path, monkeypatch):
    """The lake's object area is on S3 too: the camera connector copies each clip into the
    bucket, the video job decodes it from there (a local temporary copy for OpenCV) and writes
    its thumbnails back beside it; the gold index is on S3."""
    from lakehouse.ingest.cameras import ingest_segments
    from lakehouse.settings import get_settings, reset_settings_cache
    from lakehouse.video.job import run_video_index

    monkeypatch.setenv("IOC_MLFLOW_ROOT", str(tmp_path / "mlflow"))
    monkeypatch.setenv("IOC_MLFLOW_TRACKING_URI", "")
    reset_settings_cache()
    settings = get_settings()
    bucket = settings.lake_root.removeprefix("s3://").split("/")[0]
    sources = tmp_path / "sources"
    truths = generate(sources, seed=3, datasets=["video_segments"]).datasets["video_segments"].video
    deliver(sources, settings.landing_root)
    ingest_segments(catalog["video_segments"], settings)

    con = lake_connection(settings)
    uris = [u for (u,) in con.execute("select object_uri from bronze.video_segments "
                                      "where object_uri is not null order by segment_id").fetchall()]
    assert len(uris) == len(truths) and all(u.startswith(f"s3://{bucket}/lake/objects/video/") for u in uris)
    assert {f"s3://{bucket}/{k}" for k in s3_server.keys(bucket, "lake/objects/video/")} == set(uris)

    busiest = max(truths, key=lambda v: sum(v.counts.values())).segment_id
    result = run_video_index(settings, spark=spark, segments=[busiest])
    assert (result.indexed, result.failed) == (1, 0)
    con = lake_connection(settings)
    thumbs = [u for (u,) in con.execute("select thumbnail_uri from gold.video_tracks "
                                        "where thumbnail_uri is not null").fetchall()]
    assert thumbs and all(u.startswith(f"s3://{bucket}/lake/objects/thumbnails/video/") for u in thumbs)
    first = thumbs[0].removeprefix(f"s3://{bucket}/")
    assert s3_server.client().get_object(Bucket=bucket, Key=first)["Body"].read()[:2] == b"\xff\xd8"  # JPEG
    assert not list(tmp_path.rglob("_delta_log")) and not list(tmp_path.rglob("*.jpg"))
