"""AI video indexing: camera segments into searchable detections, tracks, counts and events.

    from lakehouse.video import ClipIndexer, IndexerConfig, run_video_index, search, VideoQuery

    clip = ClipIndexer().index("clip.mp4", segment_id="s1", camera_id="CAM-0001", start_time=t0)
    run_video_index()  # every new bronze segment, on Spark, into gold.video_*

Heavy modules (OpenCV, Spark) load on first use, so importing this package is cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# The gold tables the indexing job writes (columns: lakehouse.video.tables), named here for
# the DAG, which must not import pyarrow at parse time.
INDEX_TABLES = ("video_detections", "video_tracks", "video_minute_counts", "video_events", "video_segments_indexed")

_EXPORTS = {
    "IndexerConfig": "lakehouse.video.config",
    "ClipIndexer": "lakehouse.video.indexer",
    "ClipIndex": "lakehouse.video.indexer",
    "VideoDecodeError": "lakehouse.video.indexer",
    "ClassicDetector": "lakehouse.video.detectors",
    "OnnxDetector": "lakehouse.video.detectors",
    "Detection": "lakehouse.video.detectors",
    "detect_events": "lakehouse.video.events",
    "clip_records": "lakehouse.video.records",
    "run_video_index": "lakehouse.video.job",
    "VideoIndexResult": "lakehouse.video.job",
    "VideoQuery": "lakehouse.video.search",
    "search": "lakehouse.video.search",
    "score_against_truth": "lakehouse.video.evaluate",
    "score_against_tracks": "lakehouse.video.evaluate",
}

__all__ = [
    "INDEX_TABLES",
    "ClassicDetector",
    "ClipIndex",
    "ClipIndexer",
    "Detection",
    "IndexerConfig",
    "OnnxDetector",
    "VideoDecodeError",
    "VideoIndexResult",
    "VideoQuery",
    "clip_records",
    "detect_events",
    "run_video_index",
    "score_against_tracks",
    "score_against_truth",
    "search",
]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'lakehouse.video' has no attribute {name!r}")
