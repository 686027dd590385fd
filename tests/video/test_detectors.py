"""The ONNX detector slot: a model registered in MLflow as ioc_video_detector@champion is
loaded with onnxruntime and used by the indexer instead of HOG. The model here is built with
onnx.helper: its output is fixed boxes (a real YOLO export has the same input and output)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from lakehouse.generate.footage import FootageSpec, synth_clip
from lakehouse.video.detectors import VIDEO_DETECTOR, OnnxDetector, registered_detector
from lakehouse.video.indexer import ClipIndexer

SIZE = 64
# x1, y1, x2, y2, score, class in input pixels: a person, a car (COCO 2), a low score, a cat (15).
ROWS = [[8, 8, 24, 40, 0.9, 0], [32, 40, 60, 56, 0.8, 2], [0, 0, 10, 10, 0.1, 0], [40, 0, 50, 10, 0.9, 15]]


def _model() -> onnx.ModelProto:
    image = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])
    out = helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, len(ROWS), 6])
    boxes = helper.make_tensor("boxes", TensorProto.FLOAT, [1, len(ROWS), 6], np.asarray(ROWS, np.float32).ravel())
    # The scores are scaled by the image's mean brightness, so the input really flows through.
    nodes = [helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
             helper.make_node("Constant", [], ["rows"], value=boxes),
             helper.make_node("Constant", [], ["scale"], value=helper.make_tensor(
                 "s", TensorProto.FLOAT, [1, 1, 6], [1, 1, 1, 1, 0, 1])),
             helper.make_node("Constant", [], ["pick"], value=helper.make_tensor(
                 "p", TensorProto.FLOAT, [1, 1, 6], [0, 0, 0, 0, 1, 0])),
             helper.make_node("Mul", ["pick", "mean"], ["score_gain"]),
             helper.make_node("Add", ["scale", "score_gain"], ["gain"]),
             helper.make_node("Mul", ["rows", "gain"], ["output0"])]
    graph = helper.make_graph(nodes, "fixed_boxes", [image], [out])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model


def test_onnx_detections_are_mapped_to_the_frame_and_its_classes():
    detector = OnnxDetector(_model().SerializeToString())
    white = np.full((180, 320, 3), 255, np.uint8)  # mean brightness 1.0: scores as given
    found = detector.detect(white)
    assert [(d.cls, d.source) for d in found] == [("person", "onnx"), ("vehicle", "onnx")]
    person = found[0]
    assert person.box == pytest.approx((8 * 5, 8 * 180 / 64, 16 * 5, 32 * 180 / 64))
    assert person.score == pytest.approx(0.9)
    assert detector.detect(np.zeros((180, 320, 3), np.uint8)) == []  # black input: scores 0


def test_the_registered_champion_replaces_hog_in_the_indexer(mlflow_store, tmp_path):
    import mlflow

    assert registered_detector(mlflow_store) is None  # nothing registered: HOG
    mlflow.set_experiment("video_detectors")
    with mlflow.start_run():
        info = mlflow.onnx.log_model(_model(), name="detector", registered_model_name=VIDEO_DETECTOR)
    mlflow.MlflowClient().set_registered_model_alias(VIDEO_DETECTOR, "champion", info.registered_model_version)

    detector = registered_detector(mlflow_store)
    assert detector is not None and detector.name == f"onnx:{VIDEO_DETECTOR}/1"
    path = tmp_path / "clip.mp4"
    # Nothing moves: only a detector that looks at the whole frame sees the model's objects.
    synth_clip(path, FootageSpec(seconds=6, vehicles_per_minute=0, people_per_minute=0), np.random.default_rng(1))
    clip = ClipIndexer(detector=detector).index(path, segment_id="s", camera_id="c",
                                                start_time=datetime(2025, 6, 1, tzinfo=UTC))
    assert clip.detector == detector.name
    assert sorted(t.cls for t in clip.tracks) == ["person", "vehicle"]
    for track in clip.tracks:
        assert {o.source for o in track.observations} == {"onnx"}
        # One track each, held between the detector's runs (every recheck_seconds = 2 s).
        assert [o.frame for o in track.observations] == [0, 20, 40]
