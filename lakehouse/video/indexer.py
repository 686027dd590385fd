"""One clip into an index: tracks, detections, per-minute counts, events, thumbnails.

Cheap first, expensive only where needed (the NoScope / Focus lesson). Every frame is
decoded, but only ``gate_fps`` frames a second are converted and looked at, on a copy
``gate_width`` pixels wide: brightness is normalised (a cloud is not motion), a MOG2
background model finds moving blobs, and blobs that continue a track are followed without
the detector. The detector runs only on blobs nobody is tracking yet, on a slow re-check of
what is tracked, and on a full-frame heartbeat. A blackout (the signal lost), a covered or
defocused lens, and a camera knocked to a new view are read off the same cheap copy.

``mode="per_frame"`` is the expensive reference: full-resolution background model and the
detector on the whole of every frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from lakehouse.video.config import IndexerConfig
from lakehouse.video.detectors import Box, ClassicDetector, Detection, Detector, iou, shape_class
from lakehouse.video.tracker import Track, Tracker


class VideoDecodeError(ValueError):
    """The clip cannot be opened or has no decodable frame."""


@dataclass
class FrameLog:
    """What the gate saw, one entry per gate frame (for events and counts)."""

    frames: list[int] = field(default_factory=list)
    blackout: list[bool] = field(default_factory=list)
    sharpness: list[float] = field(default_factory=list)
    scene_change: list[int] = field(default_factory=list)


@dataclass
class ClipIndex:
    segment_id: str
    camera_id: str
    start_time: datetime
    fps: float
    width: int
    height: int
    frames: int = 0  # decoded
    gate_frames: int = 0  # looked at
    detector_frames: int = 0  # the detector ran
    seconds: float = 0.0  # wall time
    detector: str = ""
    tracks: list[Track] = field(default_factory=list)  # kept tracks (long enough, classified)
    log: FrameLog = field(default_factory=FrameLog)
    snapshots: dict[str, np.ndarray] = field(default_factory=dict)  # name -> BGR image (thumbnails)

    def at(self, frame: int) -> datetime:
        return self.start_time + timedelta(seconds=frame / self.fps)

    @property
    def indexer_fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


def _blobs(mask: np.ndarray, min_area: float, scale: float) -> list[Box]:
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return [(float(x * scale), float(y * scale), float(w * scale), float(h * scale))
            for x, y, w, h, area in stats[1:count] if area >= min_area]


def _crop(frame: np.ndarray, box: Box, width: int) -> np.ndarray:
    x, y, w, h = box
    mx, my = 0.15 * w, 0.15 * h
    x0, y0 = int(max(x - mx, 0)), int(max(y - my, 0))
    x1, y1 = int(min(x + w + mx, frame.shape[1])), int(min(y + h + my, frame.shape[0]))
    crop = frame[y0:y1, x0:x1]
    if crop.size == 0:
        return frame[:1, :1].copy()
    factor = min(1.0, width / max(crop.shape[1], 1))
    return cv2.resize(crop, (max(int(crop.shape[1] * factor), 1), max(int(crop.shape[0] * factor), 1)))


class ClipIndexer:
    """Indexes one clip at a time; the detector (and HOG's model) is built once per task."""

    def __init__(self, config: IndexerConfig | None = None, detector: Detector | None = None) -> None:
        self.config = config or IndexerConfig()
        self.detector = detector or ClassicDetector(person_roi_height=self.config.person_roi_height,
                                                    hog_threshold=self.config.hog_threshold)

    def index(self, path: Path | str, *, segment_id: str, camera_id: str, start_time: datetime) -> ClipIndex:
        config = self.config.for_camera(camera_id)
        capture = cv2.VideoCapture(str(path))
        if not capture.isOpened():
            raise VideoDecodeError(f"cannot open video {path} (missing or not a video container)")
        started = time.perf_counter()
        try:
            fps = float(capture.get(cv2.CAP_PROP_FPS)) or 25.0
            width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            clip = ClipIndex(segment_id, camera_id, start_time, fps, width, height, detector=self.detector.name)
            _Run(self, config, clip, capture).run()
        finally:
            capture.release()
        if clip.frames == 0:
            raise VideoDecodeError(f"video {path} has no decodable frames (truncated or corrupt)")
        clip.seconds = time.perf_counter() - started
        return clip


class _Run:
    """The state of one clip's pass."""

    def __init__(self, indexer: ClipIndexer, config: IndexerConfig, clip: ClipIndex, capture) -> None:
        self.config, self.clip, self.capture, self.detector = config, clip, capture, indexer.detector
        per_frame = config.mode == "per_frame"
        self.step = 1 if per_frame else max(1, round(clip.fps / config.gate_fps))
        gate_fps = clip.fps / self.step
        self.gate_w = clip.width if per_frame else min(config.gate_width, clip.width)
        self.gate_h = max(1, round(clip.height * self.gate_w / clip.width))
        self.scale = clip.width / self.gate_w
        self.min_area = config.min_blob_area * self.gate_w * self.gate_h
        self.history = int(config.background_seconds * gate_fps)
        self.background = self._new_background()
        self.kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.joiner = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 5))  # joins a body's parts, taller than wide
        self.tracker = Tracker(max_missed=max(1, math.ceil(config.max_missed_seconds * gate_fps)))
        self.recheck = max(1, int(config.recheck_seconds * clip.fps))
        self.heartbeat = max(1, int(config.heartbeat_seconds * clip.fps))
        self.stationary_px = config.stationary_speed * clip.width / clip.fps  # pixels per frame
        self.hold_frames = int(config.stationary_hold_seconds * clip.fps)
        self.bootstrap = max(3, int(gate_fps))  # gate frames learnt at OpenCV's fast start-up rate
        self.last_check = -self.recheck
        self.last_detect = -1
        self.crowd_peak = 0
        self.last_full = -self.heartbeat
        self.reference_luma: float | None = None
        self.per_frame = per_frame

    def _new_background(self):
        return cv2.createBackgroundSubtractorMOG2(history=max(self.history, 10),
                                                  varThreshold=self.config.background_threshold,
                                                  detectShadows=False)

    def run(self) -> None:
        clip, index = self.clip, 0
        while True:
            if index % self.step:
                if not self.capture.grab():
                    break
            else:
                ok, frame = self.capture.read()
                if not ok:
                    break
                self.look(index, frame)
            index += 1
        clip.frames = index
        tracks = self.tracker.close()
        min_frames = self.config.min_track_seconds * clip.fps
        clip.tracks = [t for t in tracks if t.cls != "object" and t.last.frame - t.first.frame >= min_frames
                       and not _ghost(t)]

    def look(self, index: int, frame: np.ndarray) -> None:
        clip, log = self.clip, self.clip.log
        clip.gate_frames += 1
        small = frame if self.gate_w == clip.width else cv2.resize(frame, (self.gate_w, self.gate_h),
                                                                    interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        mean, std = (float(v[0][0]) for v in cv2.meanStdDev(gray))
        dark = mean < self.config.blackout_luma and std < self.config.blackout_contrast
        log.frames.append(index)
        log.blackout.append(dark)
        if dark:  # nothing to see: tracks wait for the picture to return, the background keeps what it knew
            log.sharpness.append(0.0)
            return
        if self.reference_luma is None:
            self.reference_luma = mean
        if abs(mean - self.reference_luma) > 2.0:  # global light change: normalise, not motion
            gray = cv2.convertScaleAbs(gray, alpha=self.reference_luma / max(mean, 1.0))
        log.sharpness.append(float(cv2.Laplacian(gray, cv2.CV_32F).var()))
        stopped = any(t.stationary_since is not None and index - t.stationary_since < self.hold_frames
                      for t in self.tracker.active)
        # A fixed, slow learning rate once the model has a first picture: OpenCV's default
        # (1 / frames seen) learns fast early on and swallows slow walkers in uniform clothes.
        rate = -1.0 if clip.gate_frames <= self.bootstrap else 1.0 / self.history
        mask = self.background.apply(gray, learningRate=0.0 if stopped else rate)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.kernel)
        mask = cv2.dilate(cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self.joiner), self.kernel, iterations=1)
        if clip.gate_frames > 10 and cv2.countNonZero(mask) > 0.5 * mask.size:
            log.scene_change.append(index)  # the whole view changed: the camera moved, relearn
            self.background = self._new_background()
            self.background.apply(gray, learningRate=1.0)
            self.tracker.age(index, seen=set())
            return
        blobs = _blobs(mask, self.min_area, self.scale)
        observations = self.observe(index, frame, blobs)
        self.associate(index, frame, observations)
        people = [t for t in self.tracker.active if t.sure_cls == "person" and len(t.observations) > 2]
        if len(people) >= max(self.config.crowd_threshold, self.crowd_peak + 1):
            self.crowd_peak = len(people)  # the crowd's thumbnail shows it at its largest
            clip.snapshots["crowd"] = self._snapshot(frame, people)

    def _snapshot(self, frame: np.ndarray, tracks: list[Track]) -> np.ndarray:
        """The frame, smaller, with the tracks boxed: what an event's thumbnail shows."""
        shot = frame.copy()
        for track in tracks:
            x, y, w, h = (int(v) for v in track.last.box)
            cv2.rectangle(shot, (x, y), (x + w, y + h), (0, 0, 255), max(1, frame.shape[0] // 240))
        factor = min(1.0, 2 * self.config.thumbnail_width / shot.shape[1])
        return cv2.resize(shot, None, fx=factor, fy=factor)

    def observe(self, index: int, frame: np.ndarray, blobs: list[Box]) -> list[Detection]:
        """The frame's observations: blobs followed cheaply, the detector where it is needed."""
        plain = [Detection(b, "object", 0.0, "blob") for b in blobs]
        if self.per_frame:
            return self.detect(index, frame, blobs, full=True)
        _, new = self.tracker.match(index, blobs)
        heartbeat = index - self.last_full >= self.heartbeat
        recheck = bool(self.tracker.active) and index - self.last_check >= self.recheck
        if heartbeat or (self.detector.full_frame and (new or recheck)):
            self.last_check = index
            return self.detect(index, frame, blobs, full=True)
        if not new and not recheck:
            return plain
        if recheck:
            self.last_check = index
        rois = blobs if recheck else [blobs[b] for b in new]
        found = self.detect(index, frame, rois, full=False)
        return found + [p for p in plain if p.box not in rois]

    def detect(self, index: int, frame: np.ndarray, blobs: list[Box], *, full: bool) -> list[Detection]:
        """Run the detector: on ``blobs`` only (``full=False``, the classic detector's crops),
        or on the whole frame, where it also finds what stands still (no blob)."""
        if index != self.last_detect:
            self.clip.detector_frames += 1
            self.last_detect = index
        if full:
            self.last_full = index
        if not full and not self.detector.full_frame:
            return self.detector.detect(frame, blobs)
        found = self.detector.detect(frame, None)
        # Blobs no detection explains are still observations: classified by shape, unless a
        # detection lies inside (then the blob is that object's, or a part of it).
        rest = [b for b in blobs if all(iou(b, d.box) < 0.2 for d in found)]
        if self.detector.full_frame:  # a trained model knows its classes: the rest is motion only
            return found + [Detection(b, "object", 0.0, "blob") for b in rest]
        shaped = []
        for b in rest:
            covered = any(_inside(d.box, b) for d in found)
            cls, score = ("object", 0.0) if covered else shape_class(b)
            shaped.append(Detection(b, cls, score, "shape"))
        return found + shaped

    def associate(self, index: int, frame: np.ndarray, observations: list[Detection]) -> None:
        seen: set[int] = set()
        # One blob over several tracks: they are passing each other. Each coasts on its own
        # prediction until they part, instead of one taking the merged box and the other dying.
        merges = self.tracker.merges(index, [o.box if o.source in ("blob", "shape") else (0, 0, 0, 0)
                                             for o in observations])
        for b, tracks in merges.items():
            for track in tracks:
                if track.track_no not in seen:
                    track.add(index, Detection(track.predict(index), "object", 0.0, "coast"), vote=False)
                    seen.add(track.track_no)
        rest = [b for b in range(len(observations)) if b not in merges]
        free = [t for t in self.tracker.active if t.track_no not in seen]
        local, local_new = self.tracker.match(index, [observations[b].box for b in rest], free)
        matched = {rest[k]: track for k, track in local.items()}
        new = [rest[k] for k in local_new]
        for b, track in matched.items():
            obs = observations[b]
            if track.track_no in seen:
                continue
            track.add(index, obs, vote=self._whole(obs))
            self._seen(track, index, frame, obs, seen)
        for b in new:
            obs = observations[b]
            if obs.source in ("blob", "shape") and self._fragment(index, obs.box):
                continue
            track = self.tracker.start(index, obs, vote=self._whole(obs))
            self._seen(track, index, frame, obs, seen)
        for track in self.tracker.active:
            self._update_stationary(track, index)
        self._absorb_duplicates(seen)
        self.tracker.age(index, seen)

    def _absorb_duplicates(self, seen: set[int]) -> None:
        """Two tracks on one object (it entered in pieces): a young track lying mostly inside
        an older one's box is dropped. Two real objects crossing are both old: both kept."""
        young = self.clip.fps  # frames
        current = [t for t in self.tracker.active if t.track_no in seen]
        drop = set()
        for a in current:
            for b in current:
                if a is b or b.track_no in drop or a.track_no in drop:
                    continue
                if b.last.frame - b.first.frame < young and len(b.observations) < len(a.observations):
                    ax, ay, aw, ah = a.last.box
                    bx, by, bw, bh = b.last.box
                    w = min(ax + aw, bx + bw) - max(ax, bx)
                    h = min(ay + ah, by + bh) - max(ay, by)
                    if w > 0 and h > 0 and w * h >= 0.6 * bw * bh:
                        drop.add(b.track_no)
        if drop:
            self.tracker.active = [t for t in self.tracker.active if t.track_no not in drop]

    def _seen(self, track: Track, index: int, frame: np.ndarray, obs: Detection, seen: set[int]) -> None:
        seen.add(track.track_no)
        if index == self.last_full and obs.source not in ("blob", "shape", "coast"):
            # Found by a whole-frame detection (it may stand still, with no blob to follow):
            # it stays until the detector looks again.
            track.hold_until = index + max(self.recheck, self.step) + self.step
        self._keep_thumbnail(track, frame, obs)

    def _whole(self, obs: Detection) -> bool:
        """Shape votes only from boxes clear of the frame's edges; detector votes always."""
        if obs.source not in ("shape", "blob"):
            return True
        x, y, w, h = obs.box
        margin = 2 * self.scale
        return x > margin and y > margin and x + w < self.clip.width - margin and y + h < self.clip.height - margin

    def _fragment(self, index: int, box: Box) -> bool:
        """A piece of something already tracked (two people crossing split into limbs), not
        a new object: mostly inside a tracked object's predicted box."""
        area = max(box[2] * box[3], 1.0)
        for track in self.tracker.active:
            px, py, pw, ph = track.predict(index)
            w = min(box[0] + box[2], px + pw) - max(box[0], px)
            h = min(box[1] + box[3], py + ph) - max(box[1], py)
            if w > 0 and h > 0 and w * h / area >= 0.6:
                return True
        return False

    def _update_stationary(self, track: Track, index: int) -> None:
        window = [o for o in track.observations if o.frame >= index - self.clip.fps]
        if len(window) < 3 or window[-1].frame - window[0].frame < 0.8 * self.clip.fps:
            return
        a, b = window[0].box, window[-1].box
        moved = abs((b[0] + b[2] / 2) - (a[0] + a[2] / 2)) + abs((b[1] + b[3] / 2) - (a[1] + a[3] / 2))
        still = moved / (window[-1].frame - window[0].frame) < self.stationary_px
        if still and track.stationary_since is None:
            track.stationary_since = window[0].frame
            track.stops.append([window[0].frame, index])
        elif still:
            track.stops[-1][1] = index
        else:
            track.stationary_since = None

    def _keep_thumbnail(self, track: Track, frame: np.ndarray, obs: Detection) -> None:
        if not self.config.thumbnails:
            return
        if track.thumbnail is None or (obs.source != "blob" and obs.score > track.thumbnail_score):
            track.thumbnail = _crop(frame, obs.box, self.config.thumbnail_width)
            track.thumbnail_score = obs.score if obs.source != "blob" else -1.0


def _ghost(track: Track) -> bool:
    """Still from its first frame to its last and never confirmed by the detector: what the
    background model left behind where something stood when it started (or a flicker)."""
    still = bool(track.stops) and track.stops[0][0] <= track.first.frame and track.stops[-1][1] >= track.last.frame - 1
    return still and all(o.source in ("shape", "blob") for o in track.observations)


def _inside(inner: Box, outer: Box) -> bool:
    cx, cy = inner[0] + inner[2] / 2, inner[1] + inner[3] / 2
    return outer[0] <= cx <= outer[0] + outer[2] and outer[1] <= cy <= outer[1] + outer[3]
