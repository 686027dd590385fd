"""The manifest: what the generator wrote and what the pipeline is expected to make of it.

Tests and the end-to-end checks compare the lake against ``expected`` here, so the
semantics of each defect kind are spelled out in :data:`SEMANTICS` and copied into every
``manifest.json``.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ROW_DEFECT_KINDS = ("bad_date", "wrong_type", "missing_key", "out_of_range", "duplicate")
PARSE_DEFECT_KINDS = ("bad_date", "wrong_type", "missing_key")
GATE_DEFECT_KINDS = ("out_of_range",)

SEMANTICS: dict[str, str] = {
    "bad_date": "Unparseable value in a non-null date/timestamp column. Fails parsing: quarantined at bronze.",
    "wrong_type": "Text in a numeric column (a JSON string where a number belongs). Fails parsing: quarantined at bronze.",
    "missing_key": "Empty primary-key value (empty cell, JSON null, NGSI-LD attribute absent). Fails parsing: quarantined at bronze.",
    "out_of_range": "Parses, but breaks a block-severity min/max or allowed_values check. Lands in bronze, quarantined by the gate before silver.",
    "duplicate": "Exact copy of a clean row later in the same file/sheet. Lands in bronze, removed by deduplication in silver.",
    "wrong_encoding": "File-level: an extra CSV re-sent in another encoding than the contract declares. Ingestion must reject the whole file; its rows are not in rows_total.",
    "row": "defect_rows[].row is the 1-based data row within its file/sheet (header and title rows not counted; JSON array index + 1; JSONL line number).",
    "expected": "bronze = rows_total - parse failures; quarantine_gate = out_of_range rows; silver = distinct primary keys of clean rows (soft_deleted of them carry the soft-delete flag).",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DefectRow(_Model):
    file: str
    sheet: str | None = None
    row: int = Field(description="1-based data row within the file/sheet")
    kind: str
    column: str | None = Field(default=None, description="Contract column the defect hit")


class FileDefect(_Model):
    file: str
    kind: Literal["wrong_encoding"] = "wrong_encoding"
    declared_encoding: str
    actual_encoding: str
    rows: int = Field(description="Data rows in the file (not counted in rows_total)")


class Expected(_Model):
    bronze: int
    quarantine_parse: int
    quarantine_gate: int
    silver: int
    soft_deleted: int = 0


class ObjectTruth(_Model):
    """One synthetic object: a box of w×h pixels, drawn from ``first_frame`` to ``last_frame``
    (inclusive), at (x0, y0) in its first frame and moving (vx, vy) pixels per frame, except
    for ``stop_frames`` frames from ``stop_from`` on, when it stands still."""

    object_id: int = 0
    kind: Literal["vehicle", "person"]
    x0: float
    y0: float
    w: int
    h: int
    vx: float
    vy: float
    first_frame: int = 0
    last_frame: int = 0
    stop_from: int | None = None
    stop_frames: int = 0

    def box_at(self, frame: int) -> tuple[float, float, float, float]:
        """``(x, y, w, h)`` in ``frame``, unclipped (it may reach past the frame's edges)."""
        moving = frame - self.first_frame
        if self.stop_from is not None and frame > self.stop_from:
            moving -= min(frame - self.stop_from, self.stop_frames)
        return self.x0 + self.vx * moving, self.y0 + self.vy * moving, float(self.w), float(self.h)


class VideoTruth(_Model):
    segment_id: str
    camera_id: str
    uri: str
    frames: int
    fps: float
    width: int
    height: int
    counts: dict[str, int]
    objects: list[ObjectTruth]
    blackouts: list[tuple[int, int]] = Field(default_factory=list, description="[first, last) frames of black")
    lighting: list[tuple[int, int, float]] = Field(
        default_factory=list, description="(first, last, gain): brightness ramps from 1 to gain and stays there")


class DatasetManifest(_Model):
    name: str
    source_kind: str
    format: str | None
    rows_total: int
    defects: dict[str, int]
    expected: Expected
    files: list[str] = Field(
        description="Files holding the dataset's rows, wrong-encoding ones included"
    )
    aux_files: list[str] = Field(default_factory=list)
    defect_rows: list[DefectRow] = Field(default_factory=list)
    file_defects: list[FileDefect] = Field(default_factory=list)
    video: list[VideoTruth] | None = None

    @property
    def defects_total(self) -> int:
        return sum(self.defects.values())

    @property
    def counted_files(self) -> list[str]:
        """Files whose rows make up rows_total (wrong-encoding re-sends excluded)."""
        rejected = {f.file for f in self.file_defects}
        return [f for f in self.files if f not in rejected]


class Manifest(_Model):
    generator: str = "lakehouse.generate"
    version: int = 1
    seed: int
    scale: int
    start: date
    days: int
    defect_rates: dict[str, float]
    semantics: dict[str, str] = Field(default_factory=lambda: dict(SEMANTICS))
    datasets: dict[str, DatasetManifest] = Field(default_factory=dict)
    skipped: list[str] = Field(default_factory=list, description="Contracts with no generator")

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        return cls.model_validate_json(text)

    @classmethod
    def load(cls, path: Path | str) -> Manifest:
        """Read ``manifest.json`` (or a directory holding one)."""
        path = Path(path)
        if path.is_dir():
            path = path / "manifest.json"
        return cls.from_json(path.read_text(encoding="utf-8"))

    def summary_rows(self) -> list[tuple[str, int, int, int, int]]:
        """(dataset, rows_total, defects_total, expected_bronze, expected_quarantine) per
        dataset, quarantine being parse plus gate failures; for the CLI's summary table."""
        return [
            (
                name,
                ds.rows_total,
                ds.defects_total,
                ds.expected.bronze,
                ds.expected.quarantine_parse + ds.expected.quarantine_gate,
            )
            for name, ds in self.datasets.items()
        ]
