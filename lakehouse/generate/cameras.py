"""Camera video segments: synthetic street-camera clips plus the VMS segment listing.

The clips come from :mod:`lakehouse.generate.footage` (vehicles and people crossing a street
scene, every object's box known per frame). Each demo camera's two segments show something
the IOC should see: traffic, a group of people (a crowd), a vehicle stopped on the road, a
blackout, a cloud passing (a change of light that is not motion). The manifest keeps every
clip's ground truth, so the video index is scored, not guessed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from lakehouse.contracts import Contract
from lakehouse.generate.context import Built, GenContext, Part, landing_file
from lakehouse.generate.footage import FootageSpec, synth_clip
from lakehouse.generate.manifest import VideoTruth
from lakehouse.generate.registries import VIDEO_CAMERAS_PER_SCALE
from lakehouse.generate.sites import cameras

WIDTH, HEIGHT, FPS, SECONDS = 320, 180, 10.0, 30
SEGMENT_STARTS = ((7, 30), (17, 30))  # both rush hours of the run's first day


def segment_spec(camera_index: int, segment_index: int) -> FootageSpec:
    """What a demo segment shows, by camera (cycling every four) and segment."""
    base = FootageSpec(width=WIDTH, height=HEIGHT, fps=FPS, seconds=SECONDS,
                       vehicles_per_minute=10.0 if segment_index == 0 else 6.0, people_per_minute=6.0)
    kind = (camera_index % 4, segment_index)
    if kind == (0, 1):
        return replace(base, crowd_at=0.5, crowd_size=6, people_per_minute=0.0)
    if kind[0] == 1 and segment_index == 0:
        return replace(base, stop_at=6.0, stop_seconds=8.0)
    if kind == (2, 1):
        return replace(base, blackout=(9.0, 12.0))
    if kind == (3, 0):
        return replace(base, lighting=(4.0, 9.0, 0.7))
    return base


def video_segments(ctx: GenContext, contract: Contract) -> Built:
    rows, truths, aux = [], [], []
    for c, cam in enumerate(cameras(ctx)[: VIDEO_CAMERAS_PER_SCALE * ctx.scale]):
        for s, (hour, minute) in enumerate(SEGMENT_STARTS):
            start = ctx.at(ctx.start, hour, minute)
            segment_id = f"{cam.code}-{start:%Y%m%dT%H%M%S}"
            # NVR export: clips beside the listing, the listing's uri relative to it.
            uri = f"{cam.code}/{segment_id}.mp4"
            landed = landing_file(contract, uri)
            spec = segment_spec(c, s)
            scene = synth_clip(ctx.path(landed), spec, ctx.rng(f"video:{segment_id}"))
            aux.append(landed)
            rows.append(
                {
                    "segment_id": segment_id,
                    "camera_id": cam.code,
                    "start_time": start,
                    "end_time": start + timedelta(seconds=spec.seconds),
                    "uri": uri,
                    "fps": FPS,
                    "width": WIDTH,
                    "height": HEIGHT,
                    "size_bytes": (ctx.out_dir / landed).stat().st_size,
                }
            )
            truths.append(
                VideoTruth(
                    segment_id=segment_id,
                    camera_id=cam.code,
                    uri=landed,
                    frames=spec.frames,
                    fps=FPS,
                    width=WIDTH,
                    height=HEIGHT,
                    counts=scene.counts(),
                    objects=scene.objects,
                    blackouts=scene.blackouts,
                    lighting=scene.lighting,
                )
            )
    part = Part(landing_file(contract, "segments.jsonl"), rows)
    return Built([part], aux_files=aux, extra={"video": truths})
