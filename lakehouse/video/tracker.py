"""Detections into tracks: greedy IoU association against each track's predicted box
(constant velocity), with a centroid-distance fallback for small fast objects, and coasting
through short gaps (an occlusion, two people passing each other)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lakehouse.video.detectors import Box, Detection, iou

CENTROID_CREDIT = 0.05  # below any real overlap: a box that overlaps always wins


@dataclass
class Observation:
    frame: int
    box: Box
    score: float
    source: str  # hog, shape, onnx, blob (tracked between detector runs)


@dataclass
class Track:
    track_no: int
    observations: list[Observation] = field(default_factory=list)
    votes: Counter = field(default_factory=Counter)
    edge_votes: Counter = field(default_factory=Counter)  # shapes cut by the frame's edge: a last resort
    missed: int = 0
    hold_until: int = -1  # seen by a whole-frame detection: not missed before its next run
    stationary_since: int | None = None  # frame the track stopped moving
    stops: list[list[int]] = field(default_factory=list)  # [first, last] frame of each standstill
    thumbnail: Any = None  # BGR crop of the best detection
    thumbnail_score: float = -1.0

    @property
    def sure_cls(self) -> str | None:
        """The class from whole views only (not shapes cut by the frame's edge), or None."""
        ranked = [c for c, _ in self.votes.most_common() if c != "object"]
        return ranked[0] if ranked else None

    @property
    def cls(self) -> str:
        for votes in (self.votes, self.edge_votes):
            ranked = [c for c, _ in votes.most_common() if c != "object"]
            if ranked:
                return ranked[0]
        return "object"

    @property
    def first(self) -> Observation:
        return self.observations[0]

    @property
    def last(self) -> Observation:
        return self.observations[-1]

    def velocity(self, span: int = 5) -> tuple[float, float]:
        """Pixels per frame of the box centre over the last few observations."""
        recent = self.observations[-span:]
        if len(recent) < 2:
            return 0.0, 0.0
        (a, b) = recent[0], recent[-1]
        frames = max(b.frame - a.frame, 1)
        return ((b.box[0] + b.box[2] / 2) - (a.box[0] + a.box[2] / 2)) / frames, \
               ((b.box[1] + b.box[3] / 2) - (a.box[1] + a.box[3] / 2)) / frames

    def predict(self, frame: int) -> Box:
        vx, vy = self.velocity()
        x, y, w, h = self.last.box
        gap = frame - self.last.frame
        return x + vx * gap, y + vy * gap, w, h

    def add(self, frame: int, det: Detection, *, vote: bool = True) -> None:
        """``vote=False``: the box counts for the path, not for the class (a shape cut by the
        frame's edge says nothing about what the object is)."""
        self.observations.append(Observation(frame, det.box, det.score, det.source))
        if vote and (det.cls != "object" or not self.votes):
            self.votes[det.cls] += det.score
        elif not vote and det.cls != "object":
            self.edge_votes[det.cls] += det.score
        self.missed = 0


def _close(track_box: Box, box: Box) -> float:
    """Association score: IoU, or for no overlap a small credit when the centres are close
    relative to the object's size (fast or small objects between sparse frames)."""
    overlap = iou(track_box, box)
    if overlap > 0:
        return overlap
    cx, cy = track_box[0] + track_box[2] / 2, track_box[1] + track_box[3] / 2
    bx, by = box[0] + box[2] / 2, box[1] + box[3] / 2
    size = max(track_box[2], track_box[3], 1.0)
    distance = ((cx - bx) ** 2 + (cy - by) ** 2) ** 0.5 / size
    return CENTROID_CREDIT if distance < 0.5 else 0.0


class Tracker:
    def __init__(self, *, max_missed: int, min_iou: float = 0.15) -> None:
        self.max_missed = max_missed
        self.min_iou = min_iou
        self.active: list[Track] = []
        self.finished: list[Track] = []
        self._numbers = iter(range(1, 10_000_000))

    def match(self, frame: int, boxes: list[Box], tracks: list[Track] | None = None,
              ) -> tuple[dict[int, Track], list[int]]:
        """``{box index: track}`` for boxes that continue a track, and the indices of new boxes."""
        tracks = self.active if tracks is None else tracks
        pairs = []
        for t, track in enumerate(tracks):
            predicted = track.predict(frame)
            for b, box in enumerate(boxes):
                score = _close(predicted, box)
                if score >= self.min_iou or score == CENTROID_CREDIT:
                    pairs.append((score, t, b))
        matched: dict[int, Track] = {}
        used: set[int] = set()
        for _, t, b in sorted(pairs, reverse=True):
            if t in used or b in matched:
                continue
            matched[b] = tracks[t]
            used.add(t)
        return matched, [b for b in range(len(boxes)) if b not in matched]

    def merges(self, frame: int, boxes: list[Box]) -> dict[int, list[Track]]:
        """Boxes that hold the predicted centres of two or more tracks: objects passing each
        other, seen as one blob. ``{box index: tracks}``."""
        found = {}
        predicted = [(t, t.predict(frame)) for t in self.active if len(t.observations) >= 3]
        for b, (x, y, w, h) in enumerate(boxes):
            inside = [t for t, (px, py, pw, ph) in predicted
                      if x <= px + pw / 2 <= x + w and y <= py + ph / 2 <= y + h]
            if len(inside) >= 2:
                found[b] = inside
        return found

    def start(self, frame: int, det: Detection, *, vote: bool = True) -> Track:
        track = Track(next(self._numbers))
        track.add(frame, det, vote=vote)
        self.active.append(track)
        return track

    def age(self, frame: int, seen: set[int]) -> None:
        """End the tracks unseen for too long."""
        still = []
        for track in self.active:
            if track.track_no not in seen and frame > track.hold_until:
                track.missed += 1
            if track.missed > self.max_missed:
                self.finished.append(track)
            else:
                still.append(track)
        self.active = still

    def close(self) -> list[Track]:
        self.finished.extend(self.active)
        self.active = []
        return sorted(self.finished, key=lambda t: t.track_no)
