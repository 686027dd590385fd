"""Deterministic generator of every contracted source, in its native form, with defects
injected at known rates and a manifest saying what the pipeline must make of them.

Layout under ``out_dir`` (a contract with the ingestion code):

* file sources and the reference CSVs: ``landing/<source.location>/incoming/<file>``
  (tourism arrivals ``.xlsx`` per month, two sheets, header on ``options.header_row``;
  CSVs in the declared encoding/delimiter/decimal mark; JSON registries as arrays);
  the admin-units seed: ``landing/reference/admin_units/incoming/admin_units.csv``;
* department databases: ``db/<dataset>.jsonl`` (contract column names, typed values);
* REST APIs: ``api/<source.system>/<dataset>.json`` (``source_name`` keys);
* Open311: ``api/open311/requests.json`` and ``api/open311/services.json``;
* MQTT: ``mqtt/<dataset>.jsonl``, lines ``{"topic", "payload": <NGSI-LD entity>}``;
* video, as an NVR exports it: ``landing/cameras/segments/incoming/<camera_id>/<segment_id>.mp4``
  beside the listing ``segments.jsonl`` (its ``uri`` relative to the listing);
* ``manifest.json``: see :class:`Manifest`.

Defect semantics (also written into the manifest, :data:`SEMANTICS`): ``bad_date``,
``wrong_type`` and ``missing_key`` rows fail parsing and are quarantined at bronze;
``out_of_range`` rows parse, land in bronze and fail the gate before silver;
``duplicate`` rows land in bronze and are removed by deduplication in silver;
``wrong_encoding`` is a whole extra CSV in another encoding than declared, which ingestion
must reject (its rows are not counted). Each defective row has exactly one defect.

Determinism: every dataset draws from ``numpy.random.default_rng(seed + crc32(name))``
(defects from a second stream), so the same seed and scale give byte-identical files,
whichever subset of datasets is generated.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from lakehouse.contracts import Catalog, Contract, SourceKind, load_catalog
from lakehouse.generate.context import Built, GenContext, Part
from lakehouse.generate.defects import DEFAULT_RATE, MAX_RATE, inject, summarize
from lakehouse.generate.manifest import (
    ROW_DEFECT_KINDS,
    SEMANTICS,
    DatasetManifest,
    DefectRow,
    Expected,
    FileDefect,
    Manifest,
)
from lakehouse.generate.ngsi import flatten_entity, ngsi_attribute_map, write_mqtt
from lakehouse.generate.writers import (
    WRONG_ENCODING,
    declared_encoding,
    encode_text,
    write_csv,
    write_json_array,
    write_jsonl,
    write_xlsx,
)

Builder = Callable[[GenContext, Contract], Built]

#: Codes keep their contracted patterns up to here (DL### sites, CA-YYYY-DDDNNN cases).
MAX_SCALE = 50


def _builders() -> dict[str, Builder]:
    """Dataset name → builder. Imported lazily: importing the package stays cheap."""
    from lakehouse.generate import (
        cameras,
        citizens,
        environment,
        registries,
        safety,
        tourism,
        traffic,
    )

    return {
        "admin_dossiers": citizens.admin_dossiers,
        "admin_units": registries.admin_units,
        "air_quality_observed": environment.air_quality_observed,
        "camera_registry": registries.camera_registry,
        "citizen_requests": citizens.citizen_requests,
        "disease_surveillance": safety.disease_surveillance,
        "hotel_occupancy": tourism.hotel_occupancy,
        "hydro_stations": environment.hydro_stations,
        "security_incidents": safety.security_incidents,
        "sensor_registry": registries.sensor_registry,
        "tourism_daily_arrivals": tourism.tourism_daily_arrivals,
        "traffic_flow_observed": traffic.traffic_flow_observed,
        "traffic_incidents": traffic.traffic_incidents,
        "video_segments": cameras.video_segments,
        "water_levels": environment.water_levels,
        "water_quality_observed": environment.water_quality_observed,
    }


def _write_rows(ctx: GenContext, contract: Contract, parts: list[Part]) -> None:
    by_file: dict[str, list[Part]] = {}
    for part in parts:
        by_file.setdefault(part.file, []).append(part)
    for file, file_parts in by_file.items():
        if contract.source.kind is SourceKind.mqtt:
            for part in file_parts:
                write_mqtt(ctx, contract, part)
        elif file.endswith(".xlsx"):
            write_xlsx(ctx, contract, file_parts)
        elif file.endswith(".csv"):
            for part in file_parts:
                write_csv(ctx, contract, part)
        elif file.endswith(".jsonl"):
            for part in file_parts:
                write_jsonl(ctx, contract, part)
        elif file.endswith(".json"):
            for part in file_parts:
                write_json_array(ctx, contract, part)
        else:
            raise ValueError(f"{contract.name}: no writer for {file}")


def _takes_wrong_encoding(contract: Contract) -> bool:
    return (
        contract.source.kind is SourceKind.file
        and contract.source.format == "csv"
        and declared_encoding(contract) in WRONG_ENCODING
    )


def _generate_one(
    ctx: GenContext,
    contract: Contract,
    builder: Builder,
    rates: dict[str, float],
    wrong_encoding: bool,
) -> DatasetManifest:
    built = builder(ctx, contract)
    resend: Part | None = None
    if wrong_encoding and built.parts and _takes_wrong_encoding(contract):
        last = built.parts[-1]  # a re-send of the last file, clean rows, other encoding
        resend = Part(last.file.removesuffix(".csv") + "_resend.csv", [dict(r) for r in last.rows])
    if built.inject_defects:
        inject(contract, built, ctx.rng(f"{contract.name}:defects"), rates)
    if not built.written:
        _write_rows(ctx, contract, built.parts)
    files = list(dict.fromkeys(part.file for part in built.parts))
    file_defects = []
    if resend is not None:
        declared = declared_encoding(contract)
        actual = WRONG_ENCODING[declared]
        write_csv(ctx, contract, resend, encoding=actual)
        files.append(resend.file)
        file_defects.append(
            FileDefect(
                file=resend.file,
                declared_encoding=declared,
                actual_encoding=actual,
                rows=len(resend.rows),
            )
        )
    rows_total, counts, expected, defect_rows = summarize(contract, built)
    return DatasetManifest(
        name=contract.name,
        source_kind=contract.source.kind.value,
        format=contract.source.format,
        rows_total=rows_total,
        defects=counts,
        expected=expected,
        files=files,
        aux_files=built.aux_files,
        defect_rows=defect_rows,
        file_defects=file_defects,
        video=built.extra.get("video"),
    )


def generate(
    out_dir: Path,
    *,
    scale: int = 1,
    seed: int = 42,
    start: date = date(2025, 6, 1),
    days: int = 14,
    catalog: Catalog | None = None,
    datasets: list[str] | None = None,
    progress: bool = False,
    defect_rate: float = DEFAULT_RATE,
    defect_rates: dict[str, float] | None = None,
    wrong_encoding: bool = True,
) -> Manifest:
    """Write every contracted source (or ``datasets``) under ``out_dir`` plus
    ``manifest.json``; return the manifest.

    ``defect_rate`` applies to every row defect kind, ``defect_rates`` overrides per kind
    (``{"duplicate": 0.0}``); ``wrong_encoding=False`` skips the re-sent CSVs. Scale
    multiplies the number of sites, stations, devices, cameras and daily events.
    """
    if not 1 <= scale <= MAX_SCALE or days < 1 or seed < 0:
        raise ValueError(f"need 1 <= scale <= {MAX_SCALE}, days >= 1 and seed >= 0")
    rates = dict.fromkeys(ROW_DEFECT_KINDS, defect_rate) | dict(defect_rates or {})
    unknown_kinds = set(rates) - set(ROW_DEFECT_KINDS)
    if unknown_kinds:
        raise ValueError(f"unknown defect kinds {sorted(unknown_kinds)}; use {ROW_DEFECT_KINDS}")
    if any(not 0 <= r <= MAX_RATE for r in rates.values()):
        raise ValueError(f"defect rates must lie between 0 and {MAX_RATE}")
    catalog = catalog if catalog is not None else load_catalog()
    names = list(datasets) if datasets is not None else [c.name for c in catalog]
    missing = [n for n in names if n not in catalog.contracts]
    if missing:
        raise KeyError(f"no contract for {missing} in {catalog.root}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = GenContext(
        out_dir=out_dir, seed=seed, scale=scale, start=start, days=days, catalog=catalog
    )
    manifest = Manifest(seed=seed, scale=scale, start=start, days=days, defect_rates=rates)
    builders = _builders()

    def run(name: str) -> None:
        builder = builders.get(name)
        if builder is None:
            manifest.skipped.append(name)
        else:
            manifest.datasets[name] = _generate_one(
                ctx, catalog[name], builder, rates, wrong_encoding
            )

    if progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("Generating sources", total=len(names))
            for name in names:
                bar.update(task, description=f"Generating {name}")
                run(name)
                bar.advance(task)
    else:
        for name in names:
            run(name)

    (out_dir / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return manifest


__all__ = [
    "SEMANTICS",
    "DatasetManifest",
    "DefectRow",
    "Expected",
    "FileDefect",
    "Manifest",
    "encode_text",
    "flatten_entity",
    "generate",
    "ngsi_attribute_map",
]
