"""The indexer on synthetic footage with ground truth (lakehouse.generate.footage).

Matching rule (lakehouse/video/evaluate.py): a track matches a true object when the class is
the same and the boxes overlap with IoU ≥ 0.3 in at least half of the object's visible gate
frames; one-to-one, best overlap first. Recall = matched objects / objects, precision =
matched tracks / tracks, summed over every clip below.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from lakehouse.generate.footage import FootageSpec, synth_clip
from lakehouse.video.config import IndexerConfig
from lakehouse.video.evaluate import score_against_truth
from lakehouse.video.events import detect_events
from lakehouse.video.indexer import ClipIndexer, VideoDecodeError

T0 = datetime(2025, 6, 1, 10, 30, tzinfo=UTC)
SCENES = {
    "traffic": FootageSpec(seconds=30, vehicles_per_minute=10, people_per_minute=6),
    "crowd": FootageSpec(seconds=30, crowd_at=0.5, crowd_size=6, people_per_minute=0, vehicles_per_minute=4),
    "stopped": FootageSpec(seconds=30, stop_at=6.0, stop_seconds=8.0, people_per_minute=4),
    "blackout": FootageSpec(seconds=30, blackout=(9.0, 12.0), vehicles_per_minute=8, people_per_minute=4),
    "cloud": FootageSpec(seconds=30, lighting=(4.0, 9.0, 0.7), vehicles_per_minute=6, people_per_minute=4),
    "quiet": FootageSpec(seconds=30, quiet=((0.0, 20.0),), vehicles_per_minute=6, people_per_minute=6),
}


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    folder = tmp_path_factory.mktemp("footage")
    indexer = ClipIndexer(IndexerConfig())
    out = {}
    for i, (name, spec) in enumerate(SCENES.items()):
        for seed in (1, 2):
            path = folder / f"{name}-{seed}.mp4"
            scene = synth_clip(path, spec, np.random.default_rng(100 * i + seed))
            clip = indexer.index(path, segment_id=f"{name}-{seed}", camera_id="CAM-0001", start_time=T0)
            out[(name, seed)] = (scene, clip)
    return out


def test_tracked_objects_recall_and_precision_on_ground_truth(indexed):
    matched = reference = tracks = 0
    scores = {}
    for (name, seed), (scene, clip) in indexed.items():
        score = score_against_truth(scene.objects, clip.tracks, clip.log.frames, scene.spec.width, scene.spec.height,
                                    scene.blackouts)
        matched, reference, tracks = matched + score.matched, reference + score.reference, tracks + score.tracks
        scores[f"{name}-{seed}"] = str(score)
    assert reference >= 60, "the scenes should hold enough objects to measure"
    assert matched / reference >= 0.95, f"recall {matched}/{reference}: {scores}"
    assert matched / tracks >= 0.9, f"precision {matched}/{tracks}: {scores}"


def test_blackout_is_an_event_and_tracks_survive_it(indexed):
    for seed in (1, 2):
        scene, clip = indexed[("blackout", seed)]
        events = detect_events(clip, IndexerConfig())
        [blackout] = [e for e in events if e.event_type == "blackout"]
        first, last = scene.blackouts[0]
        assert abs(blackout.first_frame - first) <= 1 and abs(blackout.last_frame - (last - 1)) <= 1
        assert blackout.value == pytest.approx((last - first) / scene.spec.fps, abs=0.2)
    for (name, _), (_, clip) in indexed.items():  # and nowhere else
        if name != "blackout":
            assert not [e for e in detect_events(clip, IndexerConfig()) if e.event_type == "blackout"], name


def test_crowd_and_stopped_vehicle_events(indexed):
    config = IndexerConfig()
    for seed in (1, 2):
        crowd = [e for e in detect_events(indexed[("crowd", seed)][1], config) if e.event_type == "crowd"]
        assert crowd and crowd[0].value >= config.crowd_threshold
        _, clip = indexed[("stopped", seed)]
        stopped = [e for e in detect_events(clip, config) if e.event_type == "stopped_vehicle"]
        assert len(stopped) == 1 and stopped[0].value >= config.stopped_vehicle_seconds
        track = next(t for t in clip.tracks if t.track_no == stopped[0].track_no)
        assert track.cls == "vehicle"
    for name in ("traffic", "cloud", "quiet"):  # nothing to report where nothing happened
        for seed in (1, 2):
            events = detect_events(indexed[(name, seed)][1], config)
            assert not [e for e in events if e.event_type in ("crowd", "stopped_vehicle", "tampering")], name


def test_a_change_of_light_is_not_motion(indexed):
    for seed in (1, 2):
        scene, clip = indexed[("cloud", seed)]
        score = score_against_truth(scene.objects, clip.tracks, clip.log.frames, scene.spec.width, scene.spec.height,
                                    scene.blackouts)
        assert score.precision == 1.0, score
        assert not clip.log.scene_change


def test_the_detector_runs_only_where_something_is_new(indexed):
    for (name, _), (_, clip) in indexed.items():
        assert clip.gate_frames == clip.frames  # 10 fps footage: every frame looked at
        assert clip.detector_frames < 0.25 * clip.frames, name
    _, quiet = indexed[("quiet", 1)]
    assert quiet.detector_frames < 0.12 * quiet.frames


def test_per_frame_reference_runs_the_detector_on_every_frame(tmp_path):
    path = tmp_path / "short.mp4"
    scene = synth_clip(path, FootageSpec(seconds=6, vehicles_per_minute=20, people_per_minute=10),
                       np.random.default_rng(5))
    clip = ClipIndexer(IndexerConfig(mode="per_frame")).index(path, segment_id="s", camera_id="c", start_time=T0)
    assert clip.detector_frames == clip.frames == scene.spec.frames


def test_a_clip_that_does_not_decode_is_a_clear_error(tmp_path):
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(VideoDecodeError, match="broken.mp4"):
        ClipIndexer().index(broken, segment_id="s", camera_id="c", start_time=T0)
    with pytest.raises(VideoDecodeError):
        ClipIndexer().index(Path(tmp_path / "missing.mp4"), segment_id="s", camera_id="c", start_time=T0)
