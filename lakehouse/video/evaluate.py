"""Scoring an index against ground truth (or against another index).

Matching rule, at the level of tracked objects: a track *matches* a reference object when
they have the same class and, over the frames where the object is visible (at least half of
its box inside the frame) and the track has a box, the track's box overlaps the object's with
IoU ≥ 0.3 in at least half of the object's visible frames the indexer looked at. Each track
matches at most one object and each object at most one track (greedy, best overlap first).
Recall = matched objects / reference objects; precision = matched tracks / tracks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lakehouse.generate.footage import visible_box
from lakehouse.generate.manifest import ObjectTruth
from lakehouse.video.detectors import Box, iou
from lakehouse.video.tracker import Track

MIN_IOU = 0.3
MIN_SHARE = 0.5


@dataclass(frozen=True)
class Score:
    reference: int
    tracks: int
    matched: int
    by_class: dict[str, tuple[int, int, int]]  # class -> (reference, tracks, matched)
    missed: tuple[int, ...] = ()  # reference items no track matched (their positions)
    spurious: tuple[int, ...] = ()  # track numbers that matched nothing

    @property
    def recall(self) -> float:
        return self.matched / self.reference if self.reference else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.tracks if self.tracks else 1.0

    def __str__(self) -> str:
        return (f"recall {self.recall:.3f} ({self.matched}/{self.reference}), "
                f"precision {self.precision:.3f} ({self.matched}/{self.tracks})")


def _boxes(track: Track) -> dict[int, Box]:
    return {o.frame: o.box for o in track.observations}


def _match(reference: list[tuple[str, Callable[[int], Box | None], list[int]]], tracks: list[Track]) -> Score:
    candidates = []
    track_boxes = [_boxes(t) for t in tracks]
    for r, (cls, box_at, frames) in enumerate(reference):
        for t, track in enumerate(tracks):
            if track.cls != cls:
                continue
            looked = [f for f in frames if box_at(f) is not None]
            if not looked:
                continue
            hits = sum(1 for f in looked if f in track_boxes[t] and iou(box_at(f), track_boxes[t][f]) >= MIN_IOU)
            share = hits / len(looked)
            if share >= MIN_SHARE:
                candidates.append((share, r, t))
    used_r, used_t = set(), set()
    for _, r, t in sorted(candidates, reverse=True):
        if r not in used_r and t not in used_t:
            used_r.add(r)
            used_t.add(t)
    by_class = {}
    for cls in sorted({c for c, _, _ in reference} | {t.cls for t in tracks}):
        refs = [r for r, item in enumerate(reference) if item[0] == cls]
        mine = [t for t, track in enumerate(tracks) if track.cls == cls]
        by_class[cls] = (len(refs), len(mine), sum(r in used_r for r in refs))
    missed = tuple(r for r in range(len(reference)) if r not in used_r)
    spurious = tuple(track.track_no for t, track in enumerate(tracks) if t not in used_t)
    return Score(len(reference), len(tracks), len(used_r), by_class, missed, spurious)


def score_against_truth(objects: list[ObjectTruth], tracks: list[Track], frames: list[int],
                        width: int, height: int, blackouts: list[tuple[int, int]] = ()) -> Score:
    """``frames``: the frames the indexer looked at (its gate frames); ``blackouts``: the
    ``[first, last)`` frames with no picture, where nothing is visible to anyone."""
    frames = [f for f in frames if not any(a <= f < b for a, b in blackouts)]
    reference = []
    for obj in objects:
        def box_at(f: int, obj: ObjectTruth = obj) -> Box | None:
            return visible_box(obj, f, width, height)
        visible = [f for f in frames if box_at(f) is not None]
        if len(visible) >= 3:  # an object glimpsed in fewer gate frames cannot be tracked by anyone
            reference.append((obj.kind, box_at, visible))
    return _match(reference, tracks)


def score_against_tracks(reference_tracks: list[Track], tracks: list[Track], frames: list[int]) -> Score:
    """Recall of ``tracks`` against another index's tracks (e.g. the per-frame detector's),
    compared on the frames both looked at."""
    reference = []
    frame_set = set(frames)
    for ref in reference_tracks:
        boxes = _boxes(ref)
        shared = [f for f in boxes if f in frame_set]
        if len(shared) >= 3:
            reference.append((ref.cls, boxes.get, shared))
    return _match(reference, tracks)
