"""The indexer's settings: one frozen object, hashed into every output row's ``config_digest``
so an index can always be traced to the settings that built it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Literal


@dataclass(frozen=True)
class IndexerConfig:
    """How a clip is indexed.

    ``mode="gated"`` is the indexer: a cheap motion gate on a downscaled copy of each frame
    decides where something new appeared and the detector runs only there (plus a periodic
    re-check of what is being tracked and a full-frame heartbeat for what stands still).
    ``mode="per_frame"`` runs the full detector on every decoded frame: the reference the
    benchmark compares against.
    """

    mode: Literal["gated", "per_frame"] = "gated"
    gate_width: int = 320  # the gate works on a copy this wide
    gate_fps: float = 10.0  # frames per second the gate looks at (others are decoded, not converted)
    background_seconds: float = 60.0  # MOG2 history
    background_threshold: float = 25.0  # MOG2 varThreshold
    min_blob_area: float = 0.0006  # fraction of the frame
    recheck_seconds: float = 2.0  # re-run the detector on what is tracked this often
    heartbeat_seconds: float = 30.0  # full-frame detection even when nothing moves
    person_roi_height: int = 112  # a blob's crop is scaled so the blob is this tall for HOG
    hog_threshold: float = 0.3
    max_missed_seconds: float = 0.8  # a track unseen this long has ended
    min_track_seconds: float = 0.6  # shorter tracks are noise, not objects
    stationary_speed: float = 0.01  # fraction of the frame width per second
    stationary_hold_seconds: float = 300.0  # the background does not learn a stopped object before this
    stopped_vehicle_seconds: float = 5.0
    crowd_threshold: int = 5  # people at once
    crowd_min_seconds: float = 2.0
    count_line: float = 0.5  # a vertical line at this fraction of the width counts crossings
    blackout_luma: float = 20.0
    blackout_contrast: float = 8.0
    blackout_min_seconds: float = 1.0
    tamper_sharpness_ratio: float = 0.25  # sharpness below this share of the camera's usual: covered or defocused
    tamper_min_seconds: float = 3.0
    sample_seconds: float = 1.0  # one detection row per track per this many seconds (plus every detector hit)
    thumbnails: bool = True
    thumbnail_width: int = 192
    per_camera: dict[str, dict] = field(default_factory=dict)  # camera_id -> overrides (crowd_threshold, count_line…)

    def for_camera(self, camera_id: str) -> IndexerConfig:
        overrides = self.per_camera.get(camera_id) or {}
        return replace(self, **overrides) if overrides else self

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:12]
