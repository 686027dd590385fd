"""Detectors that need no downloaded weights, and a slot for one that does.

* :class:`ClassicDetector`: people with OpenCV's HOG people detector (its SVM ships inside
  OpenCV), either on the whole frame or on crops around moving blobs scaled so a person is
  the height HOG was trained on; vehicles are moving blobs classified by shape (wide, low).
* :class:`OnnxDetector`: any ONNX model exported with its NMS (e.g. a YOLO export with
  ``nms=True``: one output ``[1, N, 6]`` of ``x1, y1, x2, y2, score, class``), loaded with
  onnxruntime from the MLflow registry (``ioc_video_detector@champion``) when one is
  registered, so a province can drop in a trained model without touching the indexer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)

Box = tuple[float, float, float, float]  # x, y, w, h in full-frame pixels
VIDEO_DETECTOR = "ioc_video_detector"
CLASSES = ("person", "vehicle")


@dataclass(frozen=True)
class Detection:
    box: Box
    cls: str
    score: float
    source: str  # hog, shape, onnx


class Detector(Protocol):
    name: str
    full_frame: bool  # True: detect() ignores rois and looks at the whole frame

    def detect(self, frame: np.ndarray, rois: list[Box] | None = None) -> list[Detection]: ...


def iou(a: Box, b: Box) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w, h = min(ax2, bx2) - max(a[0], b[0]), min(ay2, by2) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def shape_class(box: Box) -> tuple[str, float]:
    """A moving blob's class from its shape: vehicles are wide and low, people tall and narrow."""
    aspect = box[2] / max(box[3], 1.0)
    if aspect >= 1.2:
        return "vehicle", min(0.5 + (aspect - 1.2) * 0.25, 0.9)
    if aspect <= 0.8:
        return "person", 0.4
    return "object", 0.3


def _nms(found: list[Detection], threshold: float = 0.4) -> list[Detection]:
    kept: list[Detection] = []
    for det in sorted(found, key=lambda d: -d.score):
        if all(iou(det.box, k.box) < threshold for k in kept):
            kept.append(det)
    return kept


class ClassicDetector:
    """HOG people plus blob shapes. With ``rois`` it looks only inside them (the indexer);
    without, HOG scans the whole frame at every scale (the per-frame reference)."""

    name = "classic-hog"
    full_frame = False

    def __init__(self, *, person_roi_height: int = 112, hog_threshold: float = 0.3) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self.person_roi_height = person_roi_height
        self.threshold = hog_threshold

    def people(self, frame: np.ndarray) -> list[Detection]:
        """Every person HOG finds on the whole frame (multi-scale)."""
        rects, weights = self.hog.detectMultiScale(frame, winStride=(8, 8), padding=(8, 8), scale=1.05)
        found = [Detection(_shrink(tuple(map(float, r))), "person", _score(w), "hog")
                 for r, w in zip(rects, np.ravel(weights), strict=False) if float(w) >= self.threshold]
        return _nms(found)

    def people_in(self, frame: np.ndarray, roi: Box) -> list[Detection]:
        """People inside one blob: the crop around it, scaled so the blob is as tall as the
        people HOG was trained on (64×128 windows hold a ≈100 px person)."""
        x, y, w, h = roi
        scale = self.person_roi_height / max(h, 1.0)
        mx, my = 0.5 * w + 8 / scale, 0.25 * h + 8 / scale
        x0, y0 = int(max(x - mx, 0)), int(max(y - my, 0))
        x1, y1 = int(min(x + w + mx, frame.shape[1])), int(min(y + h + my, frame.shape[0]))
        crop = frame[y0:y1, x0:x1]
        if crop.size == 0:
            return []
        crop = cv2.resize(crop, (max(int((x1 - x0) * scale), 1), max(int((y1 - y0) * scale), 1)))
        pad_w, pad_h = max(0, 72 - crop.shape[1]), max(0, 136 - crop.shape[0])
        if pad_w or pad_h:
            crop = cv2.copyMakeBorder(crop, pad_h // 2, pad_h - pad_h // 2, pad_w // 2, pad_w - pad_w // 2,
                                      cv2.BORDER_REPLICATE)
        rects, weights = self.hog.detectMultiScale(crop, winStride=(4, 4), padding=(8, 8), scale=1.1)
        found = []
        for r, weight in zip(rects, np.ravel(weights), strict=False):
            if float(weight) < self.threshold:
                continue
            rx, ry, rw, rh = _shrink(tuple(map(float, r)))
            box = (x0 + (rx - pad_w // 2) / scale, y0 + (ry - pad_h // 2) / scale, rw / scale, rh / scale)
            found.append(Detection(box, "person", _score(weight), "hog"))
        return _nms(found)

    def detect(self, frame: np.ndarray, rois: list[Box] | None = None) -> list[Detection]:
        if rois is None:
            return self.people(frame)
        found: list[Detection] = []
        for roi in rois:
            cls, score = shape_class(roi)
            people = self.people_in(frame, roi) if cls != "vehicle" else []
            found.extend(people or [Detection(roi, cls, score, "shape")])
        return found


def _shrink(rect: Box) -> Box:
    """HOG's window has a margin around the person (the person is ≈ the middle 3/4 of its
    height and half of its width): report the person, not the window."""
    x, y, w, h = rect
    return x + 0.22 * w, y + 0.1 * h, 0.56 * w, 0.8 * h


def _score(weight: float) -> float:
    return float(1.0 / (1.0 + np.exp(-2.0 * float(weight))))


class OnnxDetector:
    """An ONNX detector with NMS inside the model: input ``[1, 3, S, S]`` float RGB 0–1,
    output ``[1, N, 6]`` rows of ``x1, y1, x2, y2, score, class`` in input pixels."""

    full_frame = True

    def __init__(self, model_bytes: bytes, *, name: str = "onnx", classes: dict[int, str] | None = None,
                 threshold: float = 0.35) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one Spark task per core already
        self.model_bytes = model_bytes  # shipped to Spark tasks, which build their own session
        self.session = ort.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.size = int(model_input.shape[-1]) if isinstance(model_input.shape[-1], int) else 640
        self.classes = classes or {0: "person", 2: "vehicle", 3: "vehicle", 5: "vehicle", 7: "vehicle"}
        self.threshold = threshold
        self.name = name

    def detect(self, frame: np.ndarray, rois: list[Box] | None = None) -> list[Detection]:
        h, w = frame.shape[:2]
        image = cv2.cvtColor(cv2.resize(frame, (self.size, self.size)), cv2.COLOR_BGR2RGB)
        tensor = np.ascontiguousarray(image.transpose(2, 0, 1)[None], dtype=np.float32) / 255.0
        rows = np.asarray(self.session.run(None, {self.input_name: tensor})[0]).reshape(-1, 6)
        sx, sy = w / self.size, h / self.size
        found = []
        for x1, y1, x2, y2, score, cls in rows:
            label = self.classes.get(int(cls))
            if label is None or float(score) < self.threshold or x2 <= x1 or y2 <= y1:
                continue
            found.append(Detection((x1 * sx, y1 * sy, (x2 - x1) * sx, (y2 - y1) * sy), label, float(score), "onnx"))
        return found


def registered_detector(settings=None) -> OnnxDetector | None:
    """The ONNX detector registered as ``ioc_video_detector@champion``, if there is one."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from lakehouse.ml.tracking import configure_mlflow

    configure_mlflow(settings, experiment="video_detectors")
    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(VIDEO_DETECTOR, "champion")
    except MlflowException:
        return None
    model = mlflow.onnx.load_model(f"models:/{VIDEO_DETECTOR}@champion")
    log.info("video detector: %s v%s from the MLflow registry", VIDEO_DETECTOR, version.version)
    return OnnxDetector(model.SerializeToString(), name=f"onnx:{VIDEO_DETECTOR}/{version.version}")
