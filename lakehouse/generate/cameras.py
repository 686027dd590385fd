"""Camera video segments: short synthetic mp4 clips plus the VMS segment listing.

Each clip is a static street scene (sky, sidewalk, a four-lane road, grass) with per-frame
noise, a few rectangles driving along the lanes ("vehicles") and small upright blobs
walking on the sidewalk ("people"). Every object stays fully in frame for the whole clip
and objects never overlap, so the ground truth recorded in the manifest (count and kind
per segment, start box and velocity per object) is exactly what a video indexer should
find.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np

from lakehouse.contracts import Contract
from lakehouse.generate.context import Built, GenContext, Part, landing_file
from lakehouse.generate.manifest import ObjectTruth, VideoTruth
from lakehouse.generate.registries import VIDEO_CAMERAS_PER_SCALE
from lakehouse.generate.sites import cameras

WIDTH, HEIGHT, FPS, SECONDS = 320, 180, 10.0, 3
FRAMES = int(FPS * SECONDS)
SEGMENT_STARTS = ((7, 30), (17, 30))  # both rush hours of the run's first day
SIDEWALK = (58, 76)
LANES = (92, 112, 132, 152)  # lane centre rows; the first two drive right, the others left
ROAD = (80, 164)


def _background(rng: np.random.Generator) -> np.ndarray:
    frame = np.zeros((HEIGHT, WIDTH, 3), dtype=np.uint8)
    for y in range(SIDEWALK[0]):  # sky, lighter towards the horizon (BGR)
        frame[y, :] = (200 + y // 2, 160 + y // 2, 110 + y // 2)
    for _ in range(int(rng.integers(3, 6))):  # buildings on the horizon
        x = int(rng.integers(0, WIDTH - 40))
        w, h = int(rng.integers(20, 50)), int(rng.integers(15, 40))
        shade = int(rng.integers(70, 120))
        frame[SIDEWALK[0] - h : SIDEWALK[0], x : x + w] = (shade, shade, shade + 10)
    frame[SIDEWALK[0] : ROAD[0]] = (165, 165, 160)
    frame[ROAD[0] : ROAD[1]] = (85, 85, 85)
    for x in range(0, WIDTH, 24):  # dashed lane lines and a solid centre line
        for y in (102, 142):
            frame[y : y + 2, x : x + 12] = (230, 230, 230)
    frame[121:123, :] = (40, 200, 230)
    frame[ROAD[1] :] = (60, 130, 70)
    return frame


def _objects(rng: np.random.Generator) -> list[ObjectTruth]:
    found: list[ObjectTruth] = []
    travel = FRAMES - 1
    for lane in sorted(rng.choice(len(LANES), size=int(rng.integers(1, 4)), replace=False)):
        w, h = int(rng.integers(30, 47)), int(rng.integers(14, 19))
        speed = float(rng.integers(3, 7))
        vx = speed if lane < 2 else -speed
        span = WIDTH - w - 4 - speed * travel
        x0 = (
            2 + float(rng.integers(0, int(span)))
            if vx > 0
            else WIDTH - w - 2 - float(rng.integers(0, int(span)))
        )
        found.append(
            ObjectTruth(
                kind="vehicle", x0=x0, y0=float(LANES[lane] - h // 2), w=w, h=h, vx=vx, vy=0.0
            )
        )
    n_people = int(rng.integers(0, 3))
    slots = rng.choice(4, size=n_people, replace=False)
    for slot in sorted(slots):
        vx = float(rng.choice([-1.0, 1.0])) * float(rng.uniform(0.5, 1.2))
        x0 = 40.0 + 70.0 * float(slot)
        found.append(
            ObjectTruth(
                kind="person", x0=x0, y0=float(SIDEWALK[0] + 1), w=7, h=16, vx=round(vx, 2), vy=0.0
            )
        )
    return found


def _draw(frame: np.ndarray, obj: ObjectTruth, index: int, color: tuple[int, int, int]) -> None:
    x, y = round(obj.x0 + obj.vx * index), round(obj.y0 + obj.vy * index)
    if obj.kind == "vehicle":
        cv2.rectangle(frame, (x, y), (x + obj.w - 1, y + obj.h - 1), color, thickness=-1)
        cv2.rectangle(
            frame,
            (x + obj.w // 4, y + 2),
            (x + 3 * obj.w // 4, y + obj.h // 2),
            (40, 40, 40),
            thickness=-1,
        )
    else:
        cv2.circle(frame, (x + obj.w // 2, y + 3), 3, (60, 80, 120), thickness=-1)
        cv2.rectangle(frame, (x + 1, y + 6), (x + obj.w - 2, y + obj.h - 1), color, thickness=-1)


def synth_clip(path: Path, rng: np.random.Generator) -> list[ObjectTruth]:
    """Write one clip; return its objects. Deterministic for a given generator state."""
    background = _background(rng)
    objects = _objects(rng)
    colors = [tuple(int(c) for c in rng.integers(0, 256, size=3)) for _ in objects]
    colors = [
        c if o.kind == "vehicle" else (30, 30, int(rng.integers(60, 160)))
        for c, o in zip(colors, objects, strict=True)
    ]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v video to {path}")
    try:
        for index in range(FRAMES):
            frame = background.copy()
            for obj, color in zip(objects, colors, strict=True):
                _draw(frame, obj, index, color)
            noise = rng.integers(-5, 6, size=(HEIGHT, WIDTH, 1), dtype=np.int16)
            writer.write(np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8))
    finally:
        writer.release()
    return objects


def video_segments(ctx: GenContext, contract: Contract) -> Built:
    rows, truths, aux = [], [], []
    for cam in cameras(ctx)[: VIDEO_CAMERAS_PER_SCALE * ctx.scale]:
        for hour, minute in SEGMENT_STARTS:
            start = ctx.at(ctx.start, hour, minute)
            segment_id = f"{cam.code}-{start:%Y%m%dT%H%M%S}"
            # NVR export: clips beside the listing, the listing's uri relative to it.
            uri = f"{cam.code}/{segment_id}.mp4"
            landed = landing_file(contract, uri)
            objects = synth_clip(ctx.path(landed), ctx.rng(f"video:{segment_id}"))
            aux.append(landed)
            rows.append(
                {
                    "segment_id": segment_id,
                    "camera_id": cam.code,
                    "start_time": start,
                    "end_time": start + timedelta(seconds=SECONDS),
                    "uri": uri,
                    "fps": FPS,
                    "width": WIDTH,
                    "height": HEIGHT,
                    "size_bytes": (ctx.out_dir / landed).stat().st_size,
                }
            )
            counts = {
                "vehicle": sum(o.kind == "vehicle" for o in objects),
                "person": sum(o.kind == "person" for o in objects),
            }
            truths.append(
                VideoTruth(
                    segment_id=segment_id,
                    camera_id=cam.code,
                    uri=landed,
                    frames=FRAMES,
                    fps=FPS,
                    width=WIDTH,
                    height=HEIGHT,
                    counts=counts,
                    objects=objects,
                )
            )
    part = Part(landing_file(contract, "segments.jsonl"), rows)
    return Built([part], aux_files=aux, extra={"video": truths})
