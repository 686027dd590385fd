"""The open-data catalogue as DCAT-AP style JSON-LD, so any portal (CKAN's DCAT harvester,
data.europa.eu-style harvesters, a script) can read it without asking anyone.

``dcat:Catalog`` → ``dcat:Dataset`` (title, description, publisher department in Vietnamese
and English, licence, ``dct:accrualPeriodicity`` from the EU frequency vocabulary derived
from the source's schedule, keywords, temporal coverage, modified = the table's last commit)
→ ``dcat:Distribution`` per file (download URL, IANA media type, EU file type, byte size,
SPDX SHA-256 checksum). Columns, with types and units, are a CSVW ``tableSchema``: DCAT has
no column vocabulary and CSVW is the W3C one for tabular data.
"""

from __future__ import annotations

import re
from typing import Any

from lakehouse.contracts import Department
from lakehouse.opendata.datasets import OpenDataset

FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "spdx": "http://spdx.org/rdf/terms#",
    "csvw": "http://www.w3.org/ns/csvw#",
    "schema": "https://schema.org/",
}
#: file extension → (IANA media type, EU file type)
MEDIA = {
    "parquet": ("https://www.iana.org/assignments/media-types/application/vnd.apache.parquet",
                "http://publications.europa.eu/resource/authority/file-type/PARQUET"),
    "csv": ("https://www.iana.org/assignments/media-types/text/csv",
            "http://publications.europa.eu/resource/authority/file-type/CSV"),
}
_PRESETS = {"@hourly": "HOURLY", "@daily": "DAILY", "@weekly": "WEEKLY", "@monthly": "MONTHLY",
            "@yearly": "ANNUAL", "@annually": "ANNUAL", "@once": "IRREG", "@continuous": "CONT"}
_MINUTES = {1: "1MIN", 5: "5MIN", 10: "10MIN", 15: "15MIN", 30: "30MIN"}
_HOURS = {1: "HOURLY", 2: "BIHOURLY", 3: "TRIHOURLY", 12: "12HRS"}
# Seconds between updates, to pick the most frequent of several sources.
_PERIOD = {"CONT": 0, "1MIN": 60, "5MIN": 300, "10MIN": 600, "15MIN": 900, "30MIN": 1800, "HOURLY": 3600,
           "BIHOURLY": 7200, "TRIHOURLY": 10800, "12HRS": 43200, "DAILY": 86400, "WEEKLY": 604800,
           "MONTHLY": 2629800, "ANNUAL": 31557600, "IRREG": 10**9, "OTHER": 10**9 + 1}
_STEP = re.compile(r"^\*/(\d+)$")
_NUMBER = re.compile(r"^\d+$")


def frequency_code(schedule: str) -> str:
    """EU frequency code of an Airflow schedule (``@daily``, ``*/10 * * * *``, ``0 6 * * 1``)."""
    schedule = schedule.strip()
    if schedule.startswith("@"):
        return _PRESETS.get(schedule, "OTHER")
    fields = schedule.split()
    if len(fields) != 5:
        return "OTHER"
    minute, hour, day, month, weekday = fields
    if (step := _STEP.match(minute)) and (hour, day, month, weekday) == ("*", "*", "*", "*"):
        return _MINUTES.get(int(step.group(1)), "OTHER")
    if minute == "*" and (hour, day, month, weekday) == ("*", "*", "*", "*"):
        return "1MIN"
    if not _NUMBER.match(minute) or month != "*":
        return "OTHER"
    if day == "*" and weekday == "*":
        if hour == "*":
            return "HOURLY"
        if step := _STEP.match(hour):
            return _HOURS.get(int(step.group(1)), "OTHER")
        return "DAILY" if _NUMBER.match(hour) else "OTHER"
    if _NUMBER.match(hour) and day == "*" and _NUMBER.match(weekday):
        return "WEEKLY"
    if _NUMBER.match(hour) and _NUMBER.match(day) and weekday == "*":
        return "MONTHLY"
    return "OTHER"


def accrual_periodicity(schedules: tuple[str, ...]) -> str:
    """The EU frequency URI of a dataset updated whenever any of its sources is."""
    codes = [frequency_code(s) for s in schedules] or ["OTHER"]
    return FREQUENCY + min(codes, key=_PERIOD.__getitem__)


def _literal(value: str, kind: str) -> dict[str, str]:
    return {"@value": value, "@type": f"xsd:{kind}"}


def agent(department: Department) -> dict[str, Any]:
    return {"@type": "foaf:Organization", "dct:identifier": department.code,
            "foaf:name": [{"@value": department.name_vi, "@language": "vi"},
                          {"@value": department.name_en, "@language": "en"}]}


def dataset_entry(dataset: OpenDataset, *, base_url: str, license_uri: str, version: int, modified: str,
                  columns: list[tuple[str, str]], temporal: tuple[str, str, str] | None,
                  files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One ``dcat:Dataset``. ``columns`` are (name, CSVW datatype) of the exported files,
    ``temporal`` (start, end, xsd type) or None, ``files`` extension → {byteSize, sha256}."""
    entry: dict[str, Any] = {
        "@id": f"{base_url}/opendata/catalog.json#{dataset.key}",
        "@type": "dcat:Dataset",
        "dct:identifier": dataset.key,
        "dct:title": dataset.title,
        "dct:description": dataset.description,
        "dct:publisher": agent(dataset.publisher),
        "dct:license": {"@id": license_uri},
        "dct:accessRights": {"@id": "http://publications.europa.eu/resource/authority/access-right/PUBLIC"},
        "dct:accrualPeriodicity": {"@id": accrual_periodicity(dataset.schedules)},
        "dcat:keyword": [*dataset.keywords, dataset.tier],
        "dct:modified": _literal(modified, "dateTime"),
        "dcat:version": str(version),
        "dct:source": list(dataset.sources),
    }
    if dataset.standard:
        entry["dct:conformsTo"] = {"dct:title": dataset.standard}
    if temporal is not None:
        start, end, kind = temporal
        entry["dct:temporal"] = {"@type": "dct:PeriodOfTime", "dcat:startDate": _literal(start, kind),
                                 "dcat:endDate": _literal(end, kind)}
    described = []
    for name, datatype in columns:
        doc = dataset.columns.get(name)
        column: dict[str, Any] = {"csvw:name": name, "csvw:datatype": datatype}
        if doc and doc.description:
            column["dct:description"] = " ".join(doc.description.split())
        if doc and doc.unit:
            column["schema:unitText"] = doc.unit
        described.append(column)
    entry["csvw:tableSchema"] = {"csvw:column": described}
    entry["dcat:distribution"] = [
        {"@id": f"{base_url}/opendata/{dataset.stem}.{ext}",
         "@type": "dcat:Distribution",
         "dct:title": f"{dataset.title} ({ext.upper()})",
         "dcat:downloadURL": {"@id": f"{base_url}/opendata/{dataset.stem}.{ext}"},
         "dcat:accessURL": {"@id": f"{base_url}/opendata/{dataset.stem}.{ext}"},
         "dcat:mediaType": {"@id": MEDIA[ext][0]},
         "dct:format": {"@id": MEDIA[ext][1]},
         "dct:license": {"@id": license_uri},
         "dcat:byteSize": _literal(str(meta["byteSize"]), "nonNegativeInteger"),
         "spdx:checksum": {"@type": "spdx:Checksum",
                           "spdx:algorithm": {"@id": "spdx:checksumAlgorithm_sha256"},
                           "spdx:checksumValue": meta["sha256"]}}
        for ext, meta in files.items()]
    return entry


def catalog_document(entries: list[dict[str, Any]], *, base_url: str, publisher: Department,
                     license_uri: str) -> dict[str, Any]:
    """The ``dcat:Catalog`` holding ``entries``; modified = the newest dataset's."""
    modified = max((e["dct:modified"]["@value"] for e in entries), default=None)
    document: dict[str, Any] = {
        "@context": CONTEXT,
        "@id": f"{base_url}/opendata/catalog.json",
        "@type": "dcat:Catalog",
        "dct:title": "Quảng Ninh open data: dữ liệu mở tỉnh Quảng Ninh",
        "dct:description": "Every dataset the province classifies as public, exported from the "
                           "Intelligent Operations Center's lakehouse as Parquet and CSV (UTF-8).",
        "dct:publisher": agent(publisher),
        "dct:license": {"@id": license_uri},
        "dct:language": {"@id": "http://publications.europa.eu/resource/authority/language/VIE"},
        "foaf:homepage": {"@id": f"{base_url}/opendata/catalog.json"},
        "dcat:dataset": entries,
    }
    if modified:
        document["dct:modified"] = _literal(modified, "dateTime")
    return document


__all__ = ["CONTEXT", "FREQUENCY", "MEDIA", "accrual_periodicity", "agent", "catalog_document", "dataset_entry",
           "frequency_code"]
