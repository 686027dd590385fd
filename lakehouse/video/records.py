"""A clip's index as rows of the gold video tables (:mod:`lakehouse.video.tables`), plus its
thumbnails (JPEG bytes keyed by their path under the lake's object area)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import cv2
import pyarrow as pa

from lakehouse.video.config import IndexerConfig
from lakehouse.video.events import crossing, detect_events, people_per_frame
from lakehouse.video.indexer import ClipIndex
from lakehouse.video.tables import SCHEMAS


@dataclass
class SegmentRecords:
    rows: dict[str, list[dict]] = field(default_factory=lambda: {name: [] for name in SCHEMAS})
    thumbnails: dict[str, bytes] = field(default_factory=dict)

    def tables(self) -> dict[str, pa.Table]:
        return {name: pa.Table.from_pylist(rows, schema=SCHEMAS[name]) for name, rows in self.rows.items()}


def _jpeg(image) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    return data.tobytes() if ok else b""


def thumbnail_path(camera_id: str, day: str, segment_id: str, name: str) -> str:
    return f"thumbnails/video/{camera_id}/{day}/{segment_id}/{name}.jpg"


def clip_records(clip: ClipIndex, config: IndexerConfig, *, object_prefix: str,
                 indexed_at: datetime | None = None) -> SegmentRecords:
    """Every row the clip contributes. ``object_prefix``: where thumbnails' paths start
    (the lake's object area, as the tables should show it)."""
    config = config.for_camera(clip.camera_id)
    indexed_at = indexed_at or datetime.now(UTC)
    out = SegmentRecords()
    key = {"segment_id": clip.segment_id, "camera_id": clip.camera_id,
           "segment_date": clip.start_time.astimezone(UTC).date()}
    day = key["segment_date"].isoformat()
    sample = max(1, int(config.sample_seconds * clip.fps))
    track_ids, line_x = {}, config.count_line * clip.width
    for number, track in enumerate(clip.tracks, start=1):
        track_id = f"{clip.segment_id}:{number:04d}"
        track_ids[track.track_no] = track_id
        uri = None
        if track.thumbnail is not None:
            relative = thumbnail_path(clip.camera_id, day, clip.segment_id, f"track-{number:04d}")
            out.thumbnails[relative] = _jpeg(track.thumbnail)
            uri = f"{object_prefix}/{relative}"
        first, last = track.first, track.last
        seconds = (last.frame - first.frame) / clip.fps
        dx = (last.box[0] + last.box[2] / 2) - (first.box[0] + first.box[2] / 2)
        path = [[round(o.frame / clip.fps, 1), round((o.box[0] + o.box[2] / 2) / clip.width, 3),
                 round((o.box[1] + o.box[3] / 2) / clip.height, 3)]
                for i, o in enumerate(track.observations) if i == 0 or o.frame % sample == 0 or o is last]
        out.rows["video_tracks"].append({
            **key, "track_id": track_id, "object_class": track.cls, "first_seen": clip.at(first.frame),
            "last_seen": clip.at(last.frame), "duration_s": round(seconds, 2),
            "observations": len(track.observations),
            "detector_hits": sum(o.source not in ("blob", "coast") for o in track.observations),
            "max_score": max(o.score for o in track.observations),
            "speed_px_s": round(abs(dx) / seconds, 1) if seconds else 0.0, "crossing": crossing(track, line_x),
            "stopped_s": round(sum(b - a for a, b in track.stops) / clip.fps, 1),
            "entry_x": path[0][1], "entry_y": path[0][2], "exit_x": path[-1][1], "exit_y": path[-1][2],
            "path": json.dumps(path), "thumbnail_uri": uri})
        for o in track.observations:
            if o.source in ("blob", "coast") and o.frame % sample and o is not first:
                continue
            x, y, w, h = (round(v) for v in o.box)
            out.rows["video_detections"].append({
                **key, "track_id": track_id, "frame_index": o.frame, "detected_at": clip.at(o.frame),
                "object_class": track.cls, "x": x, "y": y, "w": w, "h": h, "frame_width": clip.width,
                "frame_height": clip.height, "score": round(o.score, 3), "source": o.source})
    out.rows["video_minute_counts"] = _minutes(clip, key, line_x)
    events = detect_events(clip, config)
    for event in events:
        event_id = f"{clip.segment_id}:{event.event_type}:{event.first_frame}"
        uri = None
        image = clip.snapshots.get("crowd") if event.event_type == "crowd" else None
        if event.event_type == "stopped_vehicle":
            image = next((t.thumbnail for t in clip.tracks if t.track_no == event.track_no), None)
        if image is not None:
            relative = thumbnail_path(clip.camera_id, day, clip.segment_id, f"event-{event.event_type}-{event.first_frame}")
            out.thumbnails[relative] = _jpeg(image)
            uri = f"{object_prefix}/{relative}"
        out.rows["video_events"].append({
            **key, "event_id": event_id, "event_type": event.event_type, "started_at": clip.at(event.first_frame),
            "ended_at": clip.at(event.last_frame), "severity": event.severity, "value": event.value,
            "threshold": event.threshold, "track_id": track_ids.get(event.track_no), "detail": event.detail,
            "thumbnail_uri": uri})
    out.rows["video_segments_indexed"].append({
        **key, "start_time": clip.start_time, "status": "indexed", "error": None, "frames": clip.frames,
        "gate_frames": clip.gate_frames, "detector_frames": clip.detector_frames, "seconds": round(clip.seconds, 3),
        "indexer_fps": round(clip.indexer_fps, 1), "tracks": len(clip.tracks), "events": len(events),
        "detector": clip.detector, "config_digest": config.digest, "indexed_at": indexed_at})
    return out


def failed_records(segment_id: str, camera_id: str, start_time: datetime, error: str, config: IndexerConfig,
                   indexed_at: datetime | None = None) -> SegmentRecords:
    """A clip that could not be indexed: one row saying why, nothing else (and nothing lost:
    the clip stays in the object area for a re-run)."""
    out = SegmentRecords()
    out.rows["video_segments_indexed"].append({
        "segment_id": segment_id, "camera_id": camera_id, "segment_date": start_time.astimezone(UTC).date(),
        "start_time": start_time, "status": "failed", "error": error[:500], "frames": 0, "gate_frames": 0,
        "detector_frames": 0, "seconds": 0.0, "indexer_fps": 0.0, "tracks": 0, "events": 0, "detector": None,
        "config_digest": config.digest, "indexed_at": indexed_at or datetime.now(UTC)})
    return out


def _minutes(clip: ClipIndex, key: dict, line_x: float) -> list[dict]:
    start = clip.start_time.astimezone(UTC)
    first_minute = start.replace(second=0, microsecond=0)
    minute_of = [int((clip.at(f).astimezone(UTC) - first_minute).total_seconds() // 60) for f in clip.log.frames]
    people_now = people_per_frame(clip)
    rows = []
    per_gate = clip.frames / max(clip.gate_frames, 1) / clip.fps  # seconds one gate frame stands for
    crossings = [(crossing(t, line_x), clip.at(_crossing_frame(t, line_x))) for t in clip.tracks]
    for m in sorted(set(minute_of)):
        lo = first_minute + timedelta(minutes=m)
        hi = lo + timedelta(minutes=1)
        idx = [i for i, mm in enumerate(minute_of) if mm == m]
        frames = [clip.log.frames[i] for i in idx]
        f0, f1 = min(frames), max(frames)
        present = [t for t in clip.tracks if t.first.frame <= f1 and t.last.frame >= f0]
        vehicles_now = [sum(t.cls == "vehicle" and t.first.frame <= clip.log.frames[i] <= t.last.frame
                            for t in clip.tracks) for i in idx]
        rows.append({**key, "minute": lo, "people": sum(t.cls == "person" for t in present),
                     "vehicles": sum(t.cls == "vehicle" for t in present),
                     "people_peak": int(max(people_now[i] for i in idx)), "vehicles_peak": int(max(vehicles_now)),
                     "crossings_in": sum(d == "in" and lo <= at < hi for d, at in crossings),
                     "crossings_out": sum(d == "out" and lo <= at < hi for d, at in crossings),
                     "seconds_observed": round(len(idx) * per_gate, 1),
                     "seconds_dark": round(sum(clip.log.blackout[i] for i in idx) * per_gate, 1)})
    return rows


def _crossing_frame(track, line_x: float) -> int:
    for a, b in zip(track.observations, track.observations[1:], strict=False):
        ca, cb = a.box[0] + a.box[2] / 2, b.box[0] + b.box[2] / 2
        if min(ca, cb) < line_x <= max(ca, cb):
            return b.frame
    return track.first.frame
