"""Shared state of one generator run and the small value types every builder uses.

Builders never write files for rows themselves: they return :class:`Built` (clean, typed
rows grouped into :class:`Part` objects), the defect injector mutates those rows, and the
writers render them in the source's native form. Keeping the three apart is what lets the
manifest state exact counts: the injector knows every row it touched and where it landed.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from lakehouse.contracts import Catalog, Contract

#: Quảng Ninh local time. ``datetime.isoformat()`` renders it as ``+07:00``.
TZ = timezone(timedelta(hours=7))

#: Fixed "file creation" stamp for formats that embed one (xlsx), so output hashes are stable.
FIXED_CREATED = datetime(2025, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Raw:
    """A value written verbatim whatever the column type: how defects put text where a
    date or a number belongs (``Raw("hôm qua")`` in a timestamp column)."""

    text: str


@dataclass
class Part:
    """One delivered unit of rows: a file, or one sheet of a workbook.

    ``kinds``/``columns`` run parallel to ``rows`` once defects are injected: the defect kind
    of each row (``None`` for a clean row) and the column it hit.
    """

    file: str  # posix path relative to out_dir
    rows: list[dict[str, Any]]
    sheet: str | None = None
    title: list[str] = field(default_factory=list)  # title block above the header (xlsx)
    kinds: list[str | None] = field(default_factory=list)
    columns: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.kinds:
            self.kinds = [None] * len(self.rows)
            self.columns = [None] * len(self.rows)


@dataclass
class Built:
    """What a dataset builder hands back.

    ``protect`` lists (part index, row index) pairs the injector must leave clean (e.g. the
    cameras that have recorded video). ``aux_files`` are files the builder wrote itself that
    hold no rows of the dataset (mp4 clips, the Open311 service list). ``written`` means the
    builder also wrote the row files (the admin-units seed is a byte copy).
    """

    parts: list[Part]
    aux_files: list[str] = field(default_factory=list)
    protect: set[tuple[int, int]] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)
    written: bool = False
    inject_defects: bool = True


@dataclass
class GenContext:
    """Everything a builder may depend on. Builders must draw randomness only from
    :meth:`rng` so that each dataset is reproducible on its own (generating a subset of
    datasets yields byte-identical files for that subset)."""

    out_dir: Path
    seed: int
    scale: int
    start: date
    days: int
    catalog: Catalog

    def rng(self, stream: str) -> np.random.Generator:
        """A generator for one named stream: seed + CRC32 of the name (stable across
        processes, unlike ``hash()``)."""
        return np.random.default_rng(self.seed + zlib.crc32(stream.encode("utf-8")))

    @property
    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def at(self, day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=TZ)

    def path(self, rel: str) -> Path:
        """Absolute path for a relative output path, parents created."""
        target = self.out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def write_bytes(self, rel: str, data: bytes) -> str:
        self.path(rel).write_bytes(data)
        return rel


def landing_file(contract: Contract, filename: str) -> str:
    """``landing/<source.location>/incoming/<filename>``: the contract with ingestion."""
    return f"landing/{contract.source.location.strip('/')}/incoming/{filename}"


def key_of(column) -> str:
    """The field/header name the department delivers for a column."""
    return column.source_name or column.name


def round_float(value: float, digits: int) -> float:
    """Round and normalise -0.0, so renderings are stable."""
    result = round(float(value), digits)
    return 0.0 if result == 0 else result
