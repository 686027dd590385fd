"""Export every public table as Parquet and CSV (UTF-8, header) with a DCAT catalogue.

Layout under ``settings.opendata_path`` (served by the public API at ``/opendata/``)::

    catalog.json                  DCAT-AP JSON-LD, the entry point for harvesters
    silver/<dataset>.parquet|csv  a public contract's silver table
    gold/<mart>.parquet|csv       a public gold mart

Tables are read with DuckDB over ``delta_scan`` (no lock on writers) and written sorted on
every column, so the same table version always gives byte-identical files. The export is

* **atomic per file**: each file is written beside its target and renamed over it, and the
  catalogue (whose checksums name the files) is replaced last;
* **idempotent**: a table whose Delta version and columns are those the catalogue already
  records is not read again; a file whose new bytes equal the old is not replaced; a
  catalogue with nothing new is not rewritten;
* **exact**: any exported file of a table that is no longer public (a contract reclassified)
  is removed, so the folder holds the public tables and nothing else. Platform lineage
  columns (``_batch_id``, ``_ingested_at``, ``_source``) are not data and are not exported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lakehouse.opendata.datasets import OpenDataset, public_datasets
from lakehouse.opendata.dcat import MEDIA, catalog_document, dataset_entry
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)
CATALOG = "catalog.json"
TIERS = ("silver", "gold")
_TMP = ".tmp"
_CSVW = {"VARCHAR": "string", "DOUBLE": "double", "FLOAT": "float", "BIGINT": "long", "INTEGER": "integer",
         "SMALLINT": "short", "TINYINT": "byte", "HUGEINT": "integer", "BOOLEAN": "boolean", "DATE": "date",
         "TIMESTAMP WITH TIME ZONE": "dateTimeStamp", "TIMESTAMP": "dateTime", "TIME": "time"}


@dataclass
class ExportResult:
    folder: Path
    datasets: list[str] = field(default_factory=list)  # identifiers in the catalogue
    written: list[str] = field(default_factory=list)  # files replaced (relative paths)
    unchanged: list[str] = field(default_factory=list)  # files whose bytes were already there
    removed: list[str] = field(default_factory=list)  # files of tables no longer public
    waiting: list[str] = field(default_factory=list)  # public tables not in the lake yet


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _settle(tmp: Path, target: Path, result: ExportResult, folder: Path) -> None:
    """Rename ``tmp`` over ``target`` unless ``target`` already holds the same bytes."""
    relative = str(target.relative_to(folder))
    if target.exists() and target.stat().st_size == tmp.stat().st_size and _sha256(target) == _sha256(tmp):
        tmp.unlink()
        result.unchanged.append(relative)
    else:
        os.replace(tmp, target)
        result.written.append(relative)


def _datatype(duck_type: str) -> str:
    if duck_type.startswith("DECIMAL"):
        return "decimal"
    return _CSVW.get(duck_type, "string")


def _iso(value: Any) -> tuple[str, str]:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(), "dateTime"
    if isinstance(value, date):
        return value.isoformat(), "date"
    return str(value), "string"


def _temporal(con, uri: str, dataset: OpenDataset, types: dict[str, str]) -> tuple[str, str, str] | None:
    """(start, end, xsd type) over the contract's event time, or a mart's first date/time column."""
    column = dataset.event_time if dataset.event_time in types else next(
        (c for c, t in types.items() if t == "DATE" or t.startswith("TIMESTAMP")), None)
    if column is None:
        return None
    low, high = con.execute(f"select min(\"{column}\"), max(\"{column}\") from delta_scan('{uri}')").fetchone()
    if low is None:
        return None
    (start, kind), (end, _) = _iso(low), _iso(high)
    return start, end, kind


def _previous(folder: Path) -> dict[str, dict[str, Any]]:
    path = folder / CATALOG
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return {e["dct:identifier"]: e for e in document.get("dcat:dataset", [])}
    except (ValueError, KeyError, TypeError):
        log.warning("%s is not a catalogue this export wrote: rebuilding it", path)
        return {}


def _reusable(entry: dict[str, Any] | None, version: int, names: list[str], folder: Path,
              dataset: OpenDataset) -> dict[str, dict[str, Any]] | None:
    """The files the previous export wrote for this version and these columns, if intact."""
    if entry is None or entry.get("dcat:version") != str(version):
        return None
    if [c["csvw:name"] for c in entry.get("csvw:tableSchema", {}).get("csvw:column", [])] != names:
        return None
    files = {}
    for distribution in entry.get("dcat:distribution", []):
        ext = distribution["@id"].rsplit(".", 1)[-1]
        path = folder / f"{dataset.stem}.{ext}"
        size = int(distribution["dcat:byteSize"]["@value"])
        if not path.exists() or path.stat().st_size != size:
            return None
        files[ext] = {"byteSize": size, "sha256": distribution["spdx:checksum"]["spdx:checksumValue"]}
    return files if set(files) == set(MEDIA) else None


def _write_files(con, uri: str, names: list[str], dataset: OpenDataset, folder: Path,
                 result: ExportResult) -> dict[str, dict[str, Any]]:
    target_dir = folder / dataset.tier
    target_dir.mkdir(parents=True, exist_ok=True)
    select = ", ".join(f'"{n}"' for n in names)
    query = f"select {select} from delta_scan('{uri}') order by all"
    files: dict[str, dict[str, Any]] = {}
    for ext, options in (("parquet", "format parquet, compression zstd"), ("csv", "format csv, header true")):
        target = target_dir / f"{dataset.name}.{ext}"
        tmp = target_dir / f".{dataset.name}.{ext}{_TMP}"
        con.execute(f"copy ({query}) to '{tmp}' ({options})")
        _settle(tmp, target, result, folder)
        files[ext] = {"byteSize": target.stat().st_size, "sha256": _sha256(target)}
    return files


def _prune(folder: Path, keep: set[str], result: ExportResult) -> None:
    """Remove exported files (and leftovers of a crashed export) not in ``keep``."""
    for path in folder.glob(f".*{_TMP}"):
        path.unlink()
    for tier in TIERS:
        for path in sorted((folder / tier).glob("*")) if (folder / tier).is_dir() else []:
            relative = str(path.relative_to(folder))
            exported = path.suffix.lstrip(".") in MEDIA or path.name.endswith(_TMP)
            if path.is_file() and exported and relative not in keep:
                path.unlink()
                result.removed.append(relative)


def export_open_data(settings: Settings | None = None, *, datasets: list[OpenDataset] | None = None) -> ExportResult:
    """Export the public tables (default: :func:`public_datasets`) and write the catalogue."""
    from lakehouse.access import OPERATIONS
    from lakehouse.contracts import load_catalog
    from lakehouse.lake.delta import try_open
    from lakehouse.lake.duck import connect
    from lakehouse.lake.paths import storage_options, table_uri
    from lakehouse.lake.schema import LINEAGE_COLUMNS

    settings = settings or get_settings()
    datasets = public_datasets(settings) if datasets is None else datasets
    folder = settings.opendata_path
    folder.mkdir(parents=True, exist_ok=True)
    result = ExportResult(folder)
    previous = _previous(folder)
    entries, keep = [], {CATALOG}
    con = connect(settings=settings)
    try:
        con.execute("set TimeZone = 'UTC'")  # CSV timestamps in UTC, whatever the host's zone
        for dataset in datasets:
            uri = table_uri(dataset.tier, dataset.name, settings)
            table = try_open(uri, storage_options(settings))
            if table is None:
                result.waiting.append(dataset.key)
                continue
            version = table.version()
            commit = table.history(1)[0]["timestamp"]  # ms since the epoch
            modified = datetime.fromtimestamp(commit / 1000, UTC).isoformat()
            types = {name: kind for name, kind, *_ in con.execute(
                f"describe select * from delta_scan('{uri}')").fetchall() if name not in LINEAGE_COLUMNS}
            names = list(types)
            entry = previous.get(dataset.key)
            files = _reusable(entry, version, names, folder, dataset)
            if files is None:
                files = _write_files(con, uri, names, dataset, folder, result)
                temporal = _temporal(con, uri, dataset, types)
            else:
                result.unchanged += [f"{dataset.stem}.{ext}" for ext in files]
                period = entry.get("dct:temporal")
                temporal = None if period is None else (period["dcat:startDate"]["@value"],
                                                        period["dcat:endDate"]["@value"],
                                                        period["dcat:startDate"]["@type"].removeprefix("xsd:"))
            keep |= {f"{dataset.stem}.{ext}" for ext in files}
            entries.append(dataset_entry(dataset, base_url=settings.public_url, license_uri=settings.opendata_license,
                                         version=version, modified=modified,
                                         columns=[(n, _datatype(types[n])) for n in names],
                                         temporal=temporal, files=files))
            result.datasets.append(dataset.key)
    finally:
        con.close()
    publisher = load_catalog(settings.catalog_dir).departments[OPERATIONS]
    document = catalog_document(entries, base_url=settings.public_url, publisher=publisher,
                                license_uri=settings.opendata_license)
    tmp = folder / f".{CATALOG}{_TMP}"
    tmp.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    _settle(tmp, folder / CATALOG, result, folder)
    _prune(folder, keep, result)
    return result


__all__ = ["CATALOG", "ExportResult", "export_open_data"]
