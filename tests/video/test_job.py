"""The indexing job on Spark: bronze segments into the gold index tables, thumbnails beside
the clips; a re-run never duplicates; a clip that no longer decodes is recorded, not lost;
search answers from the index."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from lakehouse.cli import app
from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.ingest.cameras import ingest_segments
from lakehouse.lake.duck import lake_connection
from lakehouse.video.job import run_video_index
from lakehouse.video.search import VideoQuery, search
from lakehouse.video.tables import SCHEMAS

pytestmark = pytest.mark.slow


@pytest.fixture
def segments(tmp_path, catalog, lake_settings, monkeypatch):
    monkeypatch.setenv("IOC_MLFLOW_ROOT", str(tmp_path / "mlflow"))
    out = tmp_path / "sources"
    manifest = generate(out, seed=3, datasets=["video_segments"])
    deliver(out, lake_settings.landing_root)
    ingest_segments(catalog["video_segments"], lake_settings)
    return manifest.datasets["video_segments"].video


def _counts(settings) -> dict[str, int]:
    con = lake_connection(settings)
    return {name: con.execute(f"select count(*) from gold.{name}").fetchone()[0] for name in SCHEMAS}


def test_segments_are_indexed_once_and_rerun_without_duplicates(segments, lake_settings, spark):
    result = run_video_index(lake_settings, spark=spark)
    assert (result.segments, result.indexed, result.failed) == (len(segments), len(segments), 0)
    counts = _counts(lake_settings)
    assert counts["video_segments_indexed"] == len(segments)
    assert counts["video_tracks"] >= 0.9 * sum(sum(v.counts.values()) for v in segments)
    con = lake_connection(lake_settings)
    events = {e for (e,) in con.execute("select distinct event_type from gold.video_events").fetchall()}
    assert {"crowd", "stopped_vehicle", "blackout"} <= events
    shown = con.execute("select thumbnail_uri from gold.video_events "
                        "where event_type in ('crowd', 'stopped_vehicle')").fetchall()
    assert shown and all(uri and Path(uri).is_file() for (uri,) in shown)
    # Thumbnails are JPEG files where the tables say.
    uris = [u for (u,) in con.execute("select thumbnail_uri from gold.video_tracks").fetchall()]
    assert uris and all(Path(u).read_bytes()[:2] == b"\xff\xd8" for u in uris)
    # Nothing new: nothing indexed. Forced: every segment again, the same rows, no duplicates.
    assert run_video_index(lake_settings, spark=spark).segments == 0
    again = run_video_index(lake_settings, spark=spark, force=True)
    assert again.indexed == len(segments)
    assert _counts(lake_settings) == counts
    keys = con.execute("select count(*) - count(distinct track_id) from gold.video_tracks").fetchone()[0]
    assert keys == 0


def test_a_clip_that_no_longer_decodes_is_recorded_and_the_rest_indexed(segments, lake_settings, spark):
    con = lake_connection(lake_settings)
    [(broken, uri)] = con.execute("select segment_id, object_uri from bronze.video_segments "
                                  "order by segment_id limit 1").fetchall()
    good = Path(uri).read_bytes()
    Path(uri).write_bytes(good[:200])  # truncated on disk after ingestion
    result = run_video_index(lake_settings, spark=spark)
    assert result.failed == 1 and broken in result.failures and result.indexed == len(segments) - 1
    con = lake_connection(lake_settings)  # the gold tables exist now
    status = dict(con.execute("select segment_id, status from gold.video_segments_indexed").fetchall())
    assert status[broken] == "failed"
    assert con.execute("select count(*) from gold.video_tracks where segment_id = ?", [broken]).fetchone()[0] == 0
    # Repaired, the next run picks it up (failed segments are not "indexed").
    Path(uri).write_bytes(good)
    retry = run_video_index(lake_settings, spark=spark)
    assert (retry.segments, retry.indexed) == (1, 1)


def test_search_finds_the_crowd_and_the_stopped_vehicle(segments, lake_settings, spark):
    run_video_index(lake_settings, spark=spark)
    crowd_truth = [v for v in segments if v.counts["person"] >= 5]
    names, rows = search(VideoQuery(object_class="person", min_count=5), lake_settings)
    assert {r[names.index("camera_id")] for r in rows} == {v.camera_id for v in crowd_truth}
    assert all(r[names.index("thumbnail")] for r in rows)
    runner = CliRunner(env={"COLUMNS": "250"})
    found = runner.invoke(app, ["video", "search", "--event", "stopped_vehicle"])
    assert found.exit_code == 0 and "stopped_vehicle" in found.output and "1 results" in found.output, found.output
    wrong = runner.invoke(app, ["video", "search", "--class", "bicycle"])
    assert wrong.exit_code == 1 and "unknown class" in wrong.output
