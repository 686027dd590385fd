"""File drops: ``<landing_root>/<contract location>/incoming → processed | failed``.

A file is only moved once its rows are safely in the lake (processed) or once it is known it
can never be read against its contract (failed, with a ``.reason.txt`` beside it). A crash in
between leaves it in ``incoming``; the next run re-reads it and the batch id, a hash of the
file's bytes, makes the re-run a no-op for anything already landed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import polars as pl

from lakehouse.contracts import Contract
from lakehouse.ingest.bronze import LandResult, land
from lakehouse.ingest.parse import (
    ROW_NUMBER,
    FileRejected,
    ParseOptions,
    normalise_header,
    parse,
    records_to_frame,
)
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
SUPPORTED = {".xlsx": "xlsx", ".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".txt": "csv"}


@dataclass(frozen=True)
class LandingZone:
    root: Path

    @classmethod
    def for_contract(cls, contract: Contract, settings: Settings | None = None) -> LandingZone:
        settings = settings or get_settings()
        return cls(Path(settings.landing_root) / contract.source.location)

    @property
    def incoming(self) -> Path:
        return self.root / "incoming"

    @property
    def processed(self) -> Path:
        return self.root / "processed"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    def pending(self) -> list[Path]:
        if not self.incoming.is_dir():
            return []
        return sorted(p for p in self.incoming.iterdir() if p.is_file() and p.suffix.lower() in SUPPORTED)

    def move(self, path: Path, area: Path, reason: str | None = None) -> Path:
        area.mkdir(parents=True, exist_ok=True)
        target = area / path.name
        if target.exists():  # same name delivered again with other content: keep both
            target = area / f"{path.stem}.{file_digest(path)[:8]}{path.suffix}"
        shutil.move(str(path), target)
        if reason:
            target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")
        return target


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def decode(raw: bytes, contract: Contract) -> str:
    encoding = str(contract.source.options.get("encoding", "utf-8-sig"))
    if encoding.lower().replace("_", "-") in ("cp1258", "windows-1258"):
        # Legacy code pages decode almost any bytes, so a UTF-8 export would pass as mojibake.
        try:
            raw.decode("utf-8")
            if any(b > 0x7F for b in raw):
                raise FileRejected(f"file is UTF-8 but the contract declares {encoding}")
        except UnicodeDecodeError:
            pass
    try:
        # cp1258 carries tones as combining marks; one Unicode form (NFC) for everything after.
        return unicodedata.normalize("NFC", raw.decode(encoding))
    except UnicodeDecodeError as exc:
        raise FileRejected(f"file is not valid {encoding}: {exc}") from exc


def read_sheets(path: Path, contract: Contract) -> dict[str, pl.DataFrame]:
    """Every sheet/part of a delivery as string columns, keyed by a part name."""
    kind = contract.source.format or SUPPORTED[path.suffix.lower()]
    options = contract.source.options
    if kind == "xlsx":
        header_row = int(options.get("header_row", 1)) - 1
        try:  # fastexcel (calamine) is what Polars' read_excel uses; sheet by sheet, as text
            workbook = fastexcel.read_excel(path)
            sheets = {name: workbook.load_sheet(name, header_row=header_row, dtypes="string").to_polars()
                      for name in workbook.sheet_names}
        except Exception as exc:  # calamine raises its own types for corrupt workbooks
            raise FileRejected(f"cannot read workbook: {exc}") from exc
        return {name: frame for name, frame in sheets.items() if frame.width}
    text = decode(path.read_bytes(), contract)
    if not text.strip():
        raise FileRejected("file is empty")
    if kind == "csv":
        delimiter = str(options.get("delimiter", ","))
        frame = pl.read_csv(io.StringIO(text), separator=delimiter, infer_schema=False,
                            skip_rows=int(options.get("header_row", 1)) - 1)
        return {"": frame}
    if kind == "jsonl":
        return {"": records_to_frame([json.loads(line) for line in text.splitlines() if line.strip()])}
    if kind == "json":
        data = json.loads(text)
        return {"": records_to_frame(data if isinstance(data, list) else data.get("items", []))}
    raise FileRejected(f"unsupported format {kind}")


def data_sheets(sheets: dict[str, pl.DataFrame], contract: Contract) -> dict[str, pl.DataFrame]:
    """Workbooks carry notes and cover sheets beside the data: a sheet with none of the
    contract's headers is not data and is skipped (logged); one with only some of them is a
    drifted header and rejects the file. A workbook with no data sheet at all is rejected."""
    if len(sheets) == 1:
        return sheets  # a single sheet is the data; a drifted header is reported by parse
    wanted = {normalise_header(c.source_name or c.name) for c in contract.delivered_columns}
    kept = {}
    for name, frame in sheets.items():
        if wanted & {normalise_header(h) for h in frame.columns}:
            kept[name] = frame
        else:
            log.info("%s: sheet %r has none of the contract's columns; skipped", contract.name, name)
    if not kept:
        raise FileRejected(f"no sheet has the contract's columns; sheets are {sorted(sheets)}")
    return kept


@dataclass
class FileIngestResult:
    file: str
    status: str  # processed | failed
    batches: list[LandResult] = field(default_factory=list)
    reason: str | None = None

    @property
    def bronze_rows(self) -> int:
        return sum(b.bronze_rows for b in self.batches)

    @property
    def quarantined_rows(self) -> int:
        return sum(b.quarantined_rows for b in self.batches)


def _ingest_bulk(path: Path, contract: Contract, zone: LandingZone, settings: Settings,
                 digest: str) -> FileIngestResult:
    """Very large CSV exports: DuckDB parses and writes the Parquet, delta-rs commits it;
    the same contract semantics and reasons as the Polars path (tested for parity)."""
    from lakehouse.ingest.bulk_csv import ingest_csv_bulk

    try:
        landed = ingest_csv_bulk(contract, path, batch_id=f"{contract.name}:{digest[:16]}",
                                 source=path.name, settings=settings)
    except FileRejected as exc:
        zone.move(path, zone.failed, str(exc))
        return FileIngestResult(path.name, "failed", reason=str(exc))
    zone.move(path, zone.processed)
    return FileIngestResult(path.name, "processed", batches=[landed])


def ingest_file(path: Path, contract: Contract, zone: LandingZone, settings: Settings) -> FileIngestResult:
    digest = file_digest(path)
    kind = contract.source.format or SUPPORTED[path.suffix.lower()]
    if kind == "csv" and path.stat().st_size >= settings.bulk_csv_min_bytes and settings.is_local_lake:
        return _ingest_bulk(path, contract, zone, settings, digest)
    try:
        sheets = data_sheets(read_sheets(path, contract), contract)
        options = ParseOptions.from_contract(contract, settings.timezone)
        parsed = {part: parse(frame.with_row_index(ROW_NUMBER, offset=1).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64)),
                              contract, options) for part, frame in sheets.items()}
    except FileRejected as exc:
        moved = zone.move(path, zone.failed, str(exc))
        log.warning("%s → failed: %s", moved, exc)
        return FileIngestResult(path.name, "failed", reason=str(exc))
    result = FileIngestResult(path.name, "processed")
    for part, outcome in parsed.items():
        batch_id = f"{contract.name}:{digest[:16]}" + (f":{part}" if part else "")
        source = f"{path.name}#{part}" if part else path.name
        result.batches.append(land(contract, outcome.parsed, outcome.rejected, batch_id=batch_id,
                                   source=source, settings=settings))
    zone.move(path, zone.processed)
    return result


def ingest_landing(contract: Contract, settings: Settings | None = None) -> list[FileIngestResult]:
    """Ingest every file waiting in the contract's landing zone, oldest name first."""
    settings = settings or get_settings()
    zone = LandingZone.for_contract(contract, settings)
    return [ingest_file(path, contract, zone, settings) for path in zone.pending()]
