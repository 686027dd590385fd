"""What the IOC acts on, read off a clip's index: a crowd above the camera's threshold, a
vehicle stopped too long, the picture lost (blackout) or the camera covered, defocused or
moved (tampering). Line crossings are counted per track (direction across the count line)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lakehouse.video.config import IndexerConfig
from lakehouse.video.indexer import ClipIndex
from lakehouse.video.tracker import Track

SEVERITY = {"crowd": 2, "stopped_vehicle": 2, "blackout": 3, "tampering": 3}


@dataclass(frozen=True)
class VideoEvent:
    event_type: str  # crowd, stopped_vehicle, blackout, tampering
    first_frame: int
    last_frame: int
    value: float  # people at the peak, seconds stopped, seconds dark…
    threshold: float
    track_no: int | None = None
    detail: str = ""

    @property
    def severity(self) -> int:
        return SEVERITY[self.event_type]


def _runs(flags: list[bool], frames: list[int]) -> list[tuple[int, int]]:
    """``[first, last]`` frames of each run of True."""
    runs, start, previous = [], None, None
    for flag, frame in zip(flags, frames, strict=True):
        if flag and start is None:
            start = frame
        elif not flag and start is not None:
            runs.append((start, previous))
            start = None
        previous = frame
    if start is not None:
        runs.append((start, frames[-1]))
    return runs


def people_per_frame(clip: ClipIndex) -> np.ndarray:
    """Confirmed person tracks present at each gate frame (from the final tracks, so a track
    counts from its first frame, not from when it was confirmed)."""
    frames = np.asarray(clip.log.frames)
    counts = np.zeros(len(frames), dtype=np.int32)
    for track in clip.tracks:
        if track.cls == "person":
            counts += (frames >= track.first.frame) & (frames <= track.last.frame)
    return counts


def detect_events(clip: ClipIndex, config: IndexerConfig) -> list[VideoEvent]:
    config = config.for_camera(clip.camera_id)
    log, fps, events = clip.log, clip.fps, []
    if not log.frames:
        return events
    for first, last in _runs(log.blackout, log.frames):
        if (last - first + 1) / fps >= config.blackout_min_seconds:
            events.append(VideoEvent("blackout", first, last, round((last - first + 1) / fps, 1),
                                     config.blackout_min_seconds, detail="no picture (signal lost or lens covered black)"))
    events.extend(_tampering(clip, config))
    counts = people_per_frame(clip)
    crowded = [bool(c >= config.crowd_threshold) for c in counts]
    for first, last in _runs(crowded, log.frames):
        if (last - first + 1) / fps >= config.crowd_min_seconds:
            inside = [c for c, f in zip(counts, log.frames, strict=True) if first <= f <= last]
            events.append(VideoEvent("crowd", first, last, float(max(inside)), float(config.crowd_threshold),
                                     detail=f"{max(inside)} people at once"))
    for track in clip.tracks:
        if track.cls != "vehicle":
            continue
        for first, last in track.stops:
            if (last - first) / fps >= config.stopped_vehicle_seconds and first > track.first.frame:
                events.append(VideoEvent("stopped_vehicle", first, last, round((last - first) / fps, 1),
                                         config.stopped_vehicle_seconds, track.track_no,
                                         detail="vehicle stopped on the carriageway"))
    return sorted(events, key=lambda e: (e.first_frame, e.event_type))


def _tampering(clip: ClipIndex, config: IndexerConfig) -> list[VideoEvent]:
    """The lens covered or defocused (sharpness far below the camera's usual while not dark)
    or the camera moved (the whole view changed at once)."""
    log, fps, events = clip.log, clip.fps, []
    lit = [s for s, dark in zip(log.sharpness, log.blackout, strict=True) if not dark and s > 0]
    if len(lit) >= 5:
        usual = float(np.percentile(lit, 75))
        low = [(not dark) and 0 < s < config.tamper_sharpness_ratio * usual
               for s, dark in zip(log.sharpness, log.blackout, strict=True)]
        for first, last in _runs(low, log.frames):
            if (last - first + 1) / fps >= config.tamper_min_seconds:
                events.append(VideoEvent("tampering", first, last, round((last - first + 1) / fps, 1),
                                         config.tamper_min_seconds, detail="view blurred or covered"))
    for frame in log.scene_change:
        events.append(VideoEvent("tampering", frame, frame, 1.0, 0.5, detail="camera moved: the whole view changed"))
    return events


def crossing(track: Track, line_x: float) -> str | None:
    """``"in"`` (left to right) or ``"out"`` when the track's centre crosses the vertical
    count line, else None."""
    first = track.first.box[0] + track.first.box[2] / 2
    last = track.last.box[0] + track.last.box[2] / 2
    if first < line_x <= last:
        return "in"
    if last < line_x <= first:
        return "out"
    return None
