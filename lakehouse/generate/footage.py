"""Synthetic camera footage with ground truth, at any resolution.

A fixed street camera: sky and buildings, a sidewalk where people walk (two rows, one per
direction), a four-lane road (upper lanes drive right, lower lanes left), grass. Vehicles and
people enter at one edge and leave at the other; every object's box in every frame is known
(:class:`ObjectTruth`), so what an indexer finds is scored, not guessed. A scene can also
hold quiet stretches (nothing arrives), a group of people walking together (a crowd), a
vehicle that stops for a while, a gradual change of light (a cloud) and a blackout (the
signal lost). Per-pixel sensor noise is added to every frame.

Geometry is in fractions of the frame, so the same scene renders at 320×180 for the demo and
at 1280×720 for the benchmark. People are drawn with head, torso, arms and swinging legs: at
720p they are tall enough (≈130 px) for OpenCV's HOG people detector on the full frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from lakehouse.generate.manifest import ObjectTruth

SIDEWALK = (0.30, 0.50)  # fractions of the height
ROAD = (0.52, 0.92)
PEOPLE_FEET = (0.45, 0.50)  # row walking right, row walking left
PERSON_HEIGHT = 0.18
LANES = (0.57, 0.66, 0.78, 0.87)  # lane centres; the first two drive right
LANE_SPEED = (0.010, 0.008, 0.009, 0.011)  # fraction of the width per frame at 10 fps
PERSON_SPEED = (0.0018, 0.0030)  # fraction of the width per frame at 10 fps (≈1.2–2 m/s)
NOISE_FRAMES = 8


@dataclass(frozen=True)
class FootageSpec:
    """What one clip shows. Times are in seconds from the clip's start."""

    width: int = 320
    height: int = 180
    fps: float = 10.0
    seconds: float = 30.0
    vehicles_per_minute: float = 6.0
    people_per_minute: float = 4.0
    quiet: tuple[tuple[float, float], ...] = ()  # nothing arrives in these spans
    crowd_at: float | None = None  # a group of people enters together
    crowd_size: int = 6
    stop_at: float | None = None  # a vehicle enters and stops mid-frame
    stop_seconds: float = 8.0
    blackout: tuple[float, float] | None = None
    lighting: tuple[float, float, float] | None = None  # (start, end, gain)
    noise: int = 5

    @property
    def frames(self) -> int:
        return round(self.fps * self.seconds)


@dataclass
class Scene:
    spec: FootageSpec
    objects: list[ObjectTruth] = field(default_factory=list)
    blackouts: list[tuple[int, int]] = field(default_factory=list)
    lighting: list[tuple[int, int, float]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {kind: sum(o.kind == kind for o in self.objects) for kind in ("vehicle", "person")}


def _arrivals(rng: np.random.Generator, per_minute: float, spec: FootageSpec, last: float) -> list[float]:
    """Poisson arrival times in [0, last), none inside a quiet span."""
    times, t = [], 0.0
    while per_minute > 0:
        t += float(rng.exponential(60.0 / per_minute))
        if t >= last:
            break
        if not any(a <= t < b for a, b in spec.quiet):
            times.append(t)
    return times


def _crossing(kind: str, object_id: int, frame: int, spec: FootageSpec, w: int, h: int, y: float,
              vx: float, *, stop_from: int | None = None, stop_frames: int = 0) -> ObjectTruth:
    """An object entering fully outside one edge and leaving past the other (or the clip's end)."""
    x0 = -float(w) if vx > 0 else float(spec.width)
    travel = (spec.width + w) / abs(vx)
    last = min(spec.frames - 1, frame + int(np.ceil(travel)) + stop_frames)
    return ObjectTruth(object_id=object_id, kind=kind, x0=x0, y0=y, w=w, h=h, vx=vx, vy=0.0,
                       first_frame=frame, last_frame=last, stop_from=stop_from, stop_frames=stop_frames)


def build_scene(spec: FootageSpec, rng: np.random.Generator) -> Scene:
    """Place every object so that vehicles in one lane never overlap (each lane has one speed
    and arrivals keep a gap) and the truth is exactly what is drawn."""
    W, H, step = spec.width, spec.height, 10.0 / spec.fps
    scene = Scene(spec)
    lane_free = [0] * len(LANES)  # first frame a lane's entry is clear again
    ids = iter(range(1, 1_000_000))
    stop_frame = None if spec.stop_at is None else int(spec.stop_at * spec.fps)
    last_arrival = max(spec.seconds - 2.0, 0.0)
    for t in _arrivals(rng, spec.vehicles_per_minute, spec, last_arrival):
        lane = int(rng.integers(len(LANES)))
        frame = max(int(t * spec.fps), lane_free[lane])
        w, h = int(W * rng.uniform(0.10, 0.15)), int(H * rng.uniform(0.075, 0.085))
        vx = LANE_SPEED[lane] * W * step * (1 if lane < 2 else -1)
        if frame >= spec.frames - 1:
            continue
        if stop_frame is not None and lane == 1:
            continue  # the stopping vehicle's lane is kept to itself
        scene.objects.append(_crossing("vehicle", next(ids), frame, spec, w, h, LANES[lane] * H - h / 2, vx))
        lane_free[lane] = frame + int(np.ceil((w + 0.08 * W) / abs(vx)))
    if stop_frame is not None:
        lane, w, h = 1, int(W * 0.13), int(H * 0.08)
        vx = LANE_SPEED[lane] * W * step
        frame = max(stop_frame - int((0.45 * W + w) / vx), lane_free[lane])
        stop_frames = int(spec.stop_seconds * spec.fps)
        scene.objects.append(_crossing("vehicle", next(ids), frame, spec, w, h, LANES[lane] * H - h / 2, vx,
                                       stop_from=frame + int((0.45 * W + w) / vx), stop_frames=stop_frames))
    people = [(t, int(rng.integers(2))) for t in _arrivals(rng, spec.people_per_minute, spec, last_arrival)]
    if spec.crowd_at is not None:  # walking right together, spaced by the row's minimum gap
        people += [(spec.crowd_at, 0, True)] * spec.crowd_size
    row_free = [0, 0]
    for t, row, *group in sorted((p if len(p) == 3 else (*p, False)) for p in people):
        h = int(H * PERSON_HEIGHT * rng.uniform(0.95, 1.05))
        w = int(h * 0.42)
        speed = PERSON_SPEED[0] * W * step if row == 0 else PERSON_SPEED[1] * W * step
        vx = speed if row == 0 else -speed
        frame = max(int(t * spec.fps), row_free[row])
        if frame >= spec.frames - 1:
            continue
        scene.objects.append(_crossing("person", next(ids), frame, spec, w, h, PEOPLE_FEET[row] * H - h, vx))
        # A group walks closer together than strangers do (still a body's width apart).
        row_free[row] = frame + int(np.ceil((w * (2.0 if group and group[0] else 2.6)) / speed))
    if spec.blackout:
        scene.blackouts.append((int(spec.blackout[0] * spec.fps), int(spec.blackout[1] * spec.fps)))
    if spec.lighting:
        start, end, gain = spec.lighting
        scene.lighting.append((int(start * spec.fps), int(end * spec.fps), gain))
    scene.objects.sort(key=lambda o: (o.first_frame, o.object_id))
    return scene


def _background(spec: FootageSpec, rng: np.random.Generator) -> np.ndarray:
    W, H = spec.width, spec.height
    frame = np.zeros((H, W, 3), dtype=np.uint8)
    top = int(SIDEWALK[0] * H)
    for y in range(top):  # sky, lighter towards the horizon (BGR)
        frame[y, :] = (190 + 40 * y // top, 150 + 40 * y // top, 100 + 40 * y // top)
    for _ in range(int(rng.integers(4, 8))):  # buildings on the horizon
        x, w = int(rng.integers(0, W)), int(W * rng.uniform(0.06, 0.16))
        h, shade = int(H * rng.uniform(0.08, 0.22)), int(rng.integers(70, 125))
        frame[top - h : top, x : x + w] = (shade, shade, shade + 10)
    frame[top : int(ROAD[0] * H)] = (165, 168, 165)
    frame[int(ROAD[0] * H) : int(ROAD[1] * H)] = (85, 85, 85)
    dash, thick = max(W // 40, 4), max(H // 150, 1)
    for x in range(0, W, 2 * dash):  # dashed lane lines and a solid centre line
        for y in (0.615, 0.825):
            frame[int(y * H) : int(y * H) + thick, x : x + dash] = (225, 225, 225)
    frame[int(0.72 * H) : int(0.72 * H) + thick + 1, :] = (40, 200, 230)
    frame[int(ROAD[1] * H) :] = (60, 130, 70)
    return frame


def _draw_vehicle(frame: np.ndarray, box: tuple[float, float, float, float], color: tuple[int, int, int]) -> None:
    x, y, w, h = (round(v) for v in box)
    cv2.rectangle(frame, (x, y), (x + w - 1, y + h - 1), color, thickness=-1)
    cv2.rectangle(frame, (x + w // 4, y + max(h // 8, 1)), (x + 3 * w // 4, y + h // 2), (40, 40, 40), -1)
    r = max(h // 6, 1)
    for cx in (x + w // 5, x + 4 * w // 5):
        cv2.circle(frame, (cx, y + h - 1), r, (20, 20, 20), -1)


def _draw_person(frame: np.ndarray, box: tuple[float, float, float, float], color: tuple[int, int, int],
                 phase: float) -> None:
    x, y, w, h = box
    s = h / 100.0
    cx = round(x + w / 2)
    top = round(y)
    width = max(1, round(5 * s))
    cv2.ellipse(frame, (cx, top + round(9 * s)), (max(1, round(7 * s)), max(1, round(9 * s))), 0, 0, 360,
                (90, 120, 170), -1)  # head
    cv2.ellipse(frame, (cx, top + round(8 * s)), (max(1, round(7 * s)), max(1, round(8 * s))), 0, 180, 360,
                (30, 30, 30), -1)  # hair
    torso = np.array([[cx - round(11 * s), top + round(20 * s)], [cx + round(11 * s), top + round(20 * s)],
                      [cx + round(9 * s), top + round(55 * s)], [cx - round(9 * s), top + round(55 * s)]], np.int32)
    cv2.fillPoly(frame, [torso], color)
    swing = np.sin(phase)
    for side in (-1, 1):
        cv2.line(frame, (cx + side * round(11 * s), top + round(22 * s)),
                 (cx + side * round(13 * s) + side * round(8 * s * swing), top + round(52 * s)), color, width)
        cv2.line(frame, (cx + side * round(5 * s), top + round(55 * s)),
                 (cx + side * round(5 * s) + side * round(10 * s * swing), top + round(98 * s)), (50, 40, 30),
                 max(1, round(7 * s)))


def render(path: Path, scene: Scene, rng: np.random.Generator, *, fourcc: str = "mp4v") -> None:
    """Write the scene to ``path``. Deterministic for a given generator state."""
    spec = scene.spec
    background = _background(spec, rng)
    colors = {o.object_id: tuple(int(c) for c in rng.integers(30, 230, size=3)) if o.kind == "vehicle"
              else (int(rng.integers(20, 90)), int(rng.integers(20, 60)), int(rng.integers(60, 160)))
              for o in scene.objects}
    noise = [rng.integers(-spec.noise, spec.noise + 1, size=(spec.height, spec.width, 1), dtype=np.int16)
             for _ in range(NOISE_FRAMES)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), spec.fps, (spec.width, spec.height))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} video to {path}")
    try:
        for index in range(spec.frames):
            writer.write(_frame(index, scene, background, colors, noise[index % NOISE_FRAMES]))
    finally:
        writer.release()


def _gain(index: int, scene: Scene) -> float:
    gain = 1.0
    for start, end, target in scene.lighting:
        if index >= end:
            gain *= target
        elif index > start:
            gain *= 1.0 + (target - 1.0) * (index - start) / max(end - start, 1)
    return gain


def _frame(index: int, scene: Scene, background: np.ndarray, colors: dict, noise: np.ndarray) -> np.ndarray:
    if any(a <= index < b for a, b in scene.blackouts):
        return np.clip(np.broadcast_to(noise, background.shape) + 4, 0, 255).astype(np.uint8)
    frame = background.copy()
    for obj in scene.objects:
        if obj.first_frame <= index <= obj.last_frame:
            box = obj.box_at(index)
            if obj.kind == "vehicle":
                _draw_vehicle(frame, box, colors[obj.object_id])
            else:
                _draw_person(frame, box, colors[obj.object_id], phase=(box[0] - obj.x0) / max(box[3] * 0.12, 1.0))
    pixels = frame.astype(np.int16) + noise
    gain = _gain(index, scene)
    if gain != 1.0:
        pixels = (pixels * gain).astype(np.int16)
    return np.clip(pixels, 0, 255).astype(np.uint8)


def synth_clip(path: Path, spec: FootageSpec, rng: np.random.Generator) -> Scene:
    """Build a scene for ``spec``, render it to ``path`` and return its ground truth."""
    scene = build_scene(spec, rng)
    render(path, scene, rng)
    return scene


def visible_box(obj: ObjectTruth, frame: int, width: int, height: int,
                min_visible: float = 0.5) -> tuple[float, float, float, float] | None:
    """The object's box clipped to the frame, or None when it is not drawn in ``frame`` or
    less than ``min_visible`` of it is inside the frame (entering or leaving)."""
    if not obj.first_frame <= frame <= obj.last_frame:
        return None
    x, y, w, h = obj.box_at(frame)
    x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + w, float(width)), min(y + h, float(height))
    if x2 <= x1 or y2 <= y1 or (x2 - x1) * (y2 - y1) < min_visible * w * h:
        return None
    return x1, y1, x2 - x1, y2 - y1
