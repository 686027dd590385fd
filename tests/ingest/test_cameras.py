"""Camera segments: clips probed, checksummed, copied to the object area; bad clips quarantined."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from lakehouse.demo import deliver
from lakehouse.generate import generate
from lakehouse.ingest.cameras import ingest_segments
from lakehouse.ingest.files import LandingZone
from lakehouse.lake.duck import lake_connection


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("video")
    return out, generate(out, seed=3, datasets=["video_segments"])


def test_segments_land_with_checksums_and_objects(clips, catalog, lake_settings):
    out, manifest = clips
    deliver(out, lake_settings.landing_root)
    contract = catalog["video_segments"]
    zone = LandingZone.for_contract(contract, lake_settings)
    listing = zone.incoming / "segments.jsonl"
    rows = [json.loads(line) for line in listing.read_text().splitlines()]
    # Break two deliveries: one clip truncated, one listed but never delivered.
    truncated = zone.incoming / rows[0]["uri"]
    truncated.write_bytes(truncated.read_bytes()[:300])
    (zone.incoming / rows[1]["uri"]).unlink()

    [result] = ingest_segments(contract, lake_settings)
    assert (result.bronze_rows, result.quarantined_rows) == (len(rows) - 2, 2)
    con = lake_connection(lake_settings)
    reasons = dict(con.execute("select _rule, _reason from quarantine.video_segments").fetchall())
    assert set(reasons) == {"video.decode"} and len(con.execute(
        "select * from quarantine.video_segments").fetchall()) == 2
    stored = con.execute("select segment_id, object_uri, checksum_sha256, frame_count, size_bytes "
                         "from bronze.video_segments").fetchall()
    truth = {v.segment_id: v for v in manifest.datasets["video_segments"].video}
    for segment_id, uri, checksum, frames, size in stored:
        data = Path(uri).read_bytes()
        assert hashlib.sha256(data).hexdigest() == checksum and len(data) == size
        assert frames == truth[segment_id].frames
        assert f"/objects/video/{truth[segment_id].camera_id}/" in uri
    # Listing and clips move together to processed; nothing is deleted.
    assert (zone.processed / "segments.jsonl").exists()
    assert (zone.processed / rows[2]["uri"]).exists()

    # Re-delivering the same export lands nothing twice.
    shutil.rmtree(zone.processed)
    deliver(out, lake_settings.landing_root)
    ingest_segments(contract, lake_settings)
    assert con.execute("select count(*) from bronze.video_segments").fetchone()[0] == len(stored)
