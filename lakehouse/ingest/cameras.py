"""Camera video segments, as NVRs export them: clips plus a JSONL listing, into the lake.

Each listed clip is opened with OpenCV (a clip that does not decode is quarantined with the
reason, never silently kept), checksummed, and copied into the lake's object area at
``{lake_root}/objects/video/<camera_id>/<yyyy-mm-dd>/<segment_id>.mp4``; its row, with the
derived ``frame_count``, ``checksum_sha256`` and ``object_uri``, lands in
``bronze.video_segments``. The copy is content-addressed by segment id and checksum, so a
re-run rewrites the same bytes to the same place and the batch id skips the rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import polars as pl

from lakehouse.contracts import Contract
from lakehouse.ingest.bronze import LandResult, land
from lakehouse.ingest.files import FileIngestResult, LandingZone, file_digest
from lakehouse.ingest.parse import ROW_NUMBER, FileRejected, ParseOptions, parse, records_to_frame
from lakehouse.lake.paths import storage_options
from lakehouse.lake.storage import lake_location, put_object
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipProbe:
    frames: int
    fps: float
    width: int
    height: int


def probe(path: Path) -> ClipProbe:
    """Decode the whole clip: a truncated export fails here, not in the indexing job."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError("cannot open video (missing or not a video container)")
        frames = 0
        while capture.grab():
            frames += 1
        if frames == 0:
            raise ValueError("video has no decodable frames (truncated or corrupt)")
        return ClipProbe(frames, float(capture.get(cv2.CAP_PROP_FPS)),
                         int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    finally:
        capture.release()


def object_root(settings: Settings) -> str:
    """``{lake}/objects/video``: a folder, or a prefix of the lake's bucket (same options)."""
    return f"{lake_location(settings)}/objects/video"


def _enrich(row: dict, listing: Path, objects: str, options: dict[str, str] | None = None) -> dict:
    """Add the derived columns; a clip that cannot be read keeps them empty and says why."""
    clip = listing.parent / str(row.get("uri") or "")
    try:
        if not row.get("uri") or not clip.is_file():
            raise ValueError(f"video file {row.get('uri')!r} listed but not delivered")
        found = probe(clip)
    except ValueError as exc:
        return {**row, "_clip_error": str(exc)}
    data = clip.read_bytes()
    checksum = hashlib.sha256(data).hexdigest()
    day = str(row.get("start_time") or "")[:10] or "unknown"
    target = put_object(objects, f"{row.get('camera_id')}/{day}/{row.get('segment_id')}.mp4", data, options)
    return {**row, "frame_count": found.frames, "checksum_sha256": checksum, "object_uri": target}


def ingest_segments(contract: Contract, settings: Settings | None = None) -> list[FileIngestResult]:
    """Land every NVR listing waiting in the contract's landing zone, clips included."""
    settings = settings or get_settings()
    zone = LandingZone.for_contract(contract, settings)
    results = []
    for listing in zone.pending():
        if listing.suffix.lower() != ".jsonl":
            continue
        results.append(_ingest_listing(listing, contract, zone, settings))
    return results


def _ingest_listing(listing: Path, contract: Contract, zone: LandingZone, settings: Settings) -> FileIngestResult:
    try:
        rows = [json.loads(line) for line in listing.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = f"listing is not JSON lines: {exc}"
        zone.move(listing, zone.failed, reason)
        return FileIngestResult(listing.name, "failed", reason=reason)
    enriched = [_enrich(row, listing, object_root(settings), storage_options(settings)) for row in rows]
    frame = records_to_frame(enriched).with_row_index(ROW_NUMBER, offset=1)
    frame = frame.with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))
    try:
        outcome = parse(frame, contract, ParseOptions.from_contract(contract, settings.timezone))
    except FileRejected as exc:
        zone.move(listing, zone.failed, str(exc))
        return FileIngestResult(listing.name, "failed", reason=str(exc))
    rejected = _clip_reasons(outcome.rejected, enriched)
    batch: LandResult = land(contract, outcome.parsed, rejected, batch_id=f"{contract.name}:{file_digest(listing)[:16]}",
                             source=listing.name, settings=settings)
    for row in rows:  # clips travel with their listing: processed together, never deleted
        clip = listing.parent / str(row.get("uri") or "")
        if row.get("uri") and clip.is_file():
            destination = zone.processed / Path(str(row["uri"]))
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(clip), destination)
    zone.move(listing, zone.processed)
    return FileIngestResult(listing.name, "processed", batches=[batch])


def _clip_reasons(rejected: pl.DataFrame, enriched: list[dict]) -> pl.DataFrame:
    """Where the clip itself was the problem, say so instead of 'checksum_sha256 is empty'."""
    errors = pl.DataFrame(
        {ROW_NUMBER: [i + 1 for i, r in enumerate(enriched) if "_clip_error" in r],
         "_clip_error": [r["_clip_error"] for r in enriched if "_clip_error" in r]},
        schema={ROW_NUMBER: pl.Int64, "_clip_error": pl.String},
    )
    joined = rejected.join(errors, on=ROW_NUMBER, how="left")
    return joined.select(
        ROW_NUMBER,
        pl.when(pl.col("_clip_error").is_not_null()).then(pl.lit("video.decode")).otherwise("_rule").alias("_rule"),
        pl.when(pl.col("_clip_error").is_not_null()).then(pl.lit("bad_video: ") + pl.col("_clip_error"))
        .otherwise("_reason").alias("_reason"),
        "_raw",
    )
