"""The gold tables the video indexing job writes: their columns, fixed here (pyarrow only, so
the gold DAG can create them empty without loading OpenCV). dbt's ``video`` source, the
search command and the dashboards read them, and a column that is all null in one segment
must not change type."""

from __future__ import annotations

import pyarrow as pa

PARTITION_BY = ["segment_date"]
TS = pa.timestamp("us", tz="UTC")
_KEY = [("segment_id", pa.string()), ("camera_id", pa.string()), ("segment_date", pa.date32())]

SEGMENTS_SCHEMA = pa.schema([
    *_KEY, ("start_time", TS), ("status", pa.string()), ("error", pa.string()), ("frames", pa.int32()),
    ("gate_frames", pa.int32()), ("detector_frames", pa.int32()), ("seconds", pa.float64()),
    ("indexer_fps", pa.float64()), ("tracks", pa.int32()), ("events", pa.int32()), ("detector", pa.string()),
    ("config_digest", pa.string()), ("indexed_at", TS)])
DETECTIONS_SCHEMA = pa.schema([
    *_KEY, ("track_id", pa.string()), ("frame_index", pa.int32()), ("detected_at", TS),
    ("object_class", pa.string()), ("x", pa.int32()), ("y", pa.int32()), ("w", pa.int32()), ("h", pa.int32()),
    ("frame_width", pa.int32()), ("frame_height", pa.int32()), ("score", pa.float64()), ("source", pa.string())])
TRACKS_SCHEMA = pa.schema([
    *_KEY, ("track_id", pa.string()), ("object_class", pa.string()), ("first_seen", TS), ("last_seen", TS),
    ("duration_s", pa.float64()), ("observations", pa.int32()), ("detector_hits", pa.int32()),
    ("max_score", pa.float64()), ("speed_px_s", pa.float64()), ("crossing", pa.string()),
    ("stopped_s", pa.float64()), ("entry_x", pa.float64()), ("entry_y", pa.float64()),
    ("exit_x", pa.float64()), ("exit_y", pa.float64()), ("path", pa.string()), ("thumbnail_uri", pa.string())])
MINUTES_SCHEMA = pa.schema([
    *_KEY, ("minute", TS), ("people", pa.int32()), ("vehicles", pa.int32()), ("people_peak", pa.int32()),
    ("vehicles_peak", pa.int32()), ("crossings_in", pa.int32()), ("crossings_out", pa.int32()),
    ("seconds_observed", pa.float64()), ("seconds_dark", pa.float64())])
EVENTS_SCHEMA = pa.schema([
    *_KEY, ("event_id", pa.string()), ("event_type", pa.string()), ("started_at", TS), ("ended_at", TS),
    ("severity", pa.int32()), ("value", pa.float64()), ("threshold", pa.float64()), ("track_id", pa.string()),
    ("detail", pa.string()), ("thumbnail_uri", pa.string())])

# In the order the job writes them: the segment's status last, so a segment listed as indexed
# has all its rows in the others. lakehouse.video.INDEX_TABLES names them for the DAG.
SCHEMAS = {"video_detections": DETECTIONS_SCHEMA, "video_tracks": TRACKS_SCHEMA,
           "video_minute_counts": MINUTES_SCHEMA, "video_events": EVENTS_SCHEMA,
           "video_segments_indexed": SEGMENTS_SCHEMA}
