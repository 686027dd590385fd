"""The source generator: determinism, manifest arithmetic, native formats and ground truth.

The heart is :func:`test_manifest_matches_a_reference_parse`: a small, independent parser
reads every file back, parses each row by its contract and applies the block checks, and
the outcome (parse failure, gate failure, clean) must be exactly what the manifest says
row by row, down to the expected silver count.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import unicodedata
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import cv2
import numpy as np
import openpyxl
import polars as pl
import pytest

from lakehouse.contracts import load_catalog
from lakehouse.contracts.model import Severity, SourceKind
from lakehouse.generate import Manifest, flatten_entity, generate, ngsi_attribute_map
from lakehouse.generate.footage import visible_box
from lakehouse.generate.manifest import PARSE_DEFECT_KINDS
from lakehouse.reference import units_valid_on

QN_LON, QN_LAT = (106.3, 108.2), (20.6, 21.8)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def run(tmp_path_factory, catalog) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("gen_seed42")
    return out, generate(out, catalog=catalog)


def _hashes(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.suffix != ".mp4"
    }


# --- a reference reader/parser, independent of the generator's writers -------------------


def _decode(data: bytes, encoding: str) -> str:
    return unicodedata.normalize("NFC", data.decode(encoding))


def _read(out: Path, contract, file: str) -> list[tuple[str | None, list[dict]]]:
    """[(sheet, rows)] with rows as {column: raw value} for one delivered file."""
    path = out / file
    key = {c.source_name or c.name: c.name for c in contract.delivered_columns}
    if file.endswith(".xlsx"):
        header_row = int(contract.source.options["header_row"])
        book = openpyxl.load_workbook(path, read_only=True)
        sheets = []
        for sheet in book.worksheets:
            values = list(sheet.iter_rows(min_row=header_row, values_only=True))
            header = [key[h] for h in values[0]]
            sheets.append(
                (sheet.title, [dict(zip(header, row, strict=True)) for row in values[1:]])
            )
        return sheets
    if file.endswith(".csv"):
        options = contract.source.options
        text = _decode(path.read_bytes(), str(options.get("encoding", "utf-8")))
        reader = csv.reader(text.splitlines(), delimiter=str(options.get("delimiter", ",")))
        header, *body = list(reader)
        header = [key[h] for h in header]
        return [
            (
                None,
                [
                    {k: (v if v != "" else None) for k, v in zip(header, r, strict=True)}
                    for r in body
                ],
            )
        ]
    lines = path.read_text(encoding="utf-8")
    records = (
        json.loads(lines) if file.endswith(".json") else [json.loads(x) for x in lines.splitlines()]
    )
    if contract.source.kind is SourceKind.mqtt:
        return [(None, [flatten_entity(contract, r["payload"]) for r in records])]
    return [(None, [{key[k]: v for k, v in r.items()} for r in records])]


def _parse_value(column, raw, decimal_comma: bool):
    if raw is None or raw == "":
        return None
    kind = column.type
    if kind in ("int", "bigint") or (column.decimal_precision and column.decimal_precision[1] == 0):
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str) and re.fullmatch(r"-?\d+", raw):
            return int(raw)
        raise ValueError(raw)
    if kind == "double" or column.decimal_precision:
        if isinstance(raw, bool):
            raise ValueError
        if isinstance(raw, (int, float)):
            return float(raw)
        text = raw.replace(",", ".") if decimal_comma else raw
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            return float(text)
        raise ValueError(raw)
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw
        return {"true": True, "false": False}[raw]
    if kind == "date":
        return (
            datetime.strptime(raw, column.source_format).date()
            if column.source_format
            else date.fromisoformat(raw)
        )
    if kind == "timestamp":
        if column.source_format:
            return datetime.strptime(raw, column.source_format)
        value = datetime.fromisoformat(raw)
        if value.tzinfo is None:
            raise ValueError("naive timestamp")
        return value
    if not isinstance(raw, str):
        raise TypeError(raw)
    return raw


def _parse_row(contract, raw: dict, decimal_comma: bool) -> dict | None:
    row = {}
    for column in contract.delivered_columns:
        try:
            row[column.name] = _parse_value(column, raw.get(column.name), decimal_comma)
        except (ValueError, KeyError, TypeError):
            return None
        if row[column.name] is None and not column.nullable:
            return None
    return row


def _passes_gate(contract, row: dict) -> bool:
    for column in contract.delivered_columns:
        value, checks = row[column.name], column.checks
        if value is None or checks.severity is not Severity.block:
            continue
        if checks.min is not None and value < checks.min:
            return False
        if checks.max is not None and value > checks.max:
            return False
        if checks.allowed_values and value not in checks.allowed_values:
            return False
        if checks.pattern and not re.search(checks.pattern, str(value)):
            return False
    for rule in contract.rules:
        if rule.kind != "expression" or rule.severity is not Severity.block:
            continue
        named = [c.name for c in contract.delivered_columns if c.name in (rule.expression or "")]
        if all(row[n] is not None for n in named) and not eval(rule.expression, {}, dict(row)):
            return False
    return True


# --- tests ------------------------------------------------------------------------------


def test_every_contract_is_generated_and_manifest_written(run, catalog):
    out, manifest = run
    assert set(manifest.datasets) == {c.name for c in catalog}
    assert manifest.skipped == []
    assert (out / "manifest.json").read_text(encoding="utf-8") == manifest.to_json()
    assert Manifest.load(out) == manifest
    rows = manifest.summary_rows()
    assert len(rows) == len(catalog)
    for name, total, defects, bronze, quarantine in rows:
        ds = manifest.datasets[name]
        assert (total, defects, bronze) == (ds.rows_total, ds.defects_total, ds.expected.bronze)
        assert quarantine == ds.expected.quarantine_parse + ds.expected.quarantine_gate
    for ds in manifest.datasets.values():
        for file in ds.files + ds.aux_files:
            assert (out / file).is_file(), file


def test_same_seed_same_bytes_other_seed_differs(run, tmp_path, catalog):
    out, manifest = run
    again = generate(tmp_path / "again", catalog=catalog)
    assert again.to_json() == manifest.to_json()
    assert _hashes(tmp_path / "again") == _hashes(out)
    for clip in out.rglob("*.mp4"):
        twin = tmp_path / "again" / clip.relative_to(out)
        assert twin.stat().st_size == clip.stat().st_size
    other = generate(
        tmp_path / "other", seed=7, catalog=catalog, datasets=["hotel_occupancy", "water_levels"]
    )
    assert other.datasets["water_levels"] != manifest.datasets["water_levels"]
    theirs = _hashes(tmp_path / "other")
    assert all(
        theirs[f] != h
        for f, h in _hashes(out).items()
        if f in theirs and "hotel_occupancy_2025" in f
    )


def test_a_subset_gives_the_same_files(run, tmp_path, catalog):
    out, manifest = run
    subset = generate(
        tmp_path, catalog=catalog, datasets=["hotel_occupancy", "video_segments", "sensor_registry"]
    )
    ours = _hashes(tmp_path)
    full = _hashes(out)
    assert {f: full[f] for f in ours if f != "manifest.json"} == {
        f: h for f, h in ours.items() if f != "manifest.json"
    }
    assert subset.datasets["hotel_occupancy"] == manifest.datasets["hotel_occupancy"]


def test_manifest_arithmetic(run):
    _, manifest = run
    for name, ds in manifest.datasets.items():
        exp = ds.expected
        parse = sum(ds.defects[k] for k in PARSE_DEFECT_KINDS)
        assert ds.rows_total == exp.bronze + exp.quarantine_parse, name
        assert exp.quarantine_parse == parse, name
        assert exp.quarantine_gate == ds.defects["out_of_range"], name
        assert exp.silver == ds.rows_total - ds.defects_total, (
            name
        )  # each spoiled row loses its key
        assert Counter(r.kind for r in ds.defect_rows) == +Counter(ds.defects), name
        assert len({(r.file, r.sheet, r.row) for r in ds.defect_rows}) == len(ds.defect_rows), name
    assert manifest.datasets["admin_units"].defects_total == 0
    for name in (
        "traffic_flow_observed",
        "air_quality_observed",
        "hotel_occupancy",
        "tourism_daily_arrivals",
    ):
        assert all(v > 0 for v in manifest.datasets[name].defects.values()), name
    assert manifest.datasets["security_incidents"].expected.soft_deleted > 0
    encodings = {ds.name: ds.file_defects for ds in manifest.datasets.values() if ds.file_defects}
    assert set(encodings) == {"hotel_occupancy", "disease_surveillance", "water_quality_observed"}


def test_manifest_matches_a_reference_parse(run, catalog):
    """Read every file back and check each row's fate against the manifest."""
    out, manifest = run
    for name, ds in manifest.datasets.items():
        contract = catalog[name]
        decimal_comma = bool(contract.source.options.get("decimal_comma", False))
        tagged = {(r.file, r.sheet, r.row): r for r in ds.defect_rows}
        total, silver, deleted = 0, set(), set()
        soft_delete = contract.source.options.get("soft_delete")
        for file in ds.counted_files:
            for sheet, rows in _read(out, contract, file):
                seen: list[dict] = []
                for index, raw in enumerate(rows, start=1):
                    total += 1
                    defect = tagged.get((file, sheet, index))
                    kind = defect.kind if defect else None
                    parsed = _parse_row(contract, raw, decimal_comma)
                    where = f"{name} {file} {sheet} row {index} ({kind}): {raw}"
                    if kind in PARSE_DEFECT_KINDS:
                        assert parsed is None, where
                        continue
                    assert parsed is not None, where
                    assert _passes_gate(contract, parsed) == (kind != "out_of_range"), where
                    if kind == "duplicate":
                        assert raw in seen, where
                    if kind in (None, "duplicate"):
                        key = tuple(parsed[k] for k in contract.primary_key)
                        silver.add(key)
                        if soft_delete and parsed[soft_delete]:
                            deleted.add(key)
                    seen.append(raw)
        assert total == ds.rows_total, name
        assert len(silver) == ds.expected.silver, name
        assert len(deleted) == ds.expected.soft_deleted, name


def test_tourism_workbooks(run, catalog):
    out, manifest = run
    ds = manifest.datasets["tourism_daily_arrivals"]
    headers = [c.source_name for c in catalog["tourism_daily_arrivals"].delivered_columns]
    sheet_counts = []
    total = 0
    for file in ds.files:
        assert re.search(r"tourism_daily_arrivals_\d{4}_\d{2}\.xlsx$", file)
        book = openpyxl.load_workbook(out / file)
        sheet_counts.append(len(book.worksheets))
        for sheet in book.worksheets:
            assert "SỞ DU LỊCH" in sheet["A1"].value
            assert all(cell.value is None for cell in sheet[3])
            assert [cell.value for cell in sheet[4]] == headers
        frames = pl.read_excel(out / file, sheet_id=0, read_options={"header_row": 3})
        assert all(frame.columns == headers for frame in frames.values())
        total += sum(frame.height for frame in frames.values())
    assert max(sheet_counts) >= 2
    assert total == ds.rows_total


def test_csv_encodings(run, catalog):
    out, manifest = run
    for name in ("hotel_occupancy", "disease_surveillance", "water_quality_observed"):
        contract, ds = catalog[name], manifest.datasets[name]
        declared = str(contract.source.options["encoding"])
        delimiter = str(contract.source.options["delimiter"])
        expected_header = delimiter.join(c.source_name for c in contract.delivered_columns)
        good = (out / ds.counted_files[0]).read_bytes()
        assert _decode(good, declared).splitlines()[0] == expected_header
        (bad,) = ds.file_defects
        assert bad.declared_encoding == declared != bad.actual_encoding
        data = (out / bad.file).read_bytes()
        try:
            header = _decode(data, declared).splitlines()[0]
        except UnicodeDecodeError:
            header = None
        assert header != expected_header, name
        assert _decode(data, bad.actual_encoding).splitlines()[0] == expected_header
        assert len(_decode(data, bad.actual_encoding).splitlines()) == bad.rows + 1
    assert (out / manifest.datasets["disease_surveillance"].files[0]).read_bytes()[
        :2
    ] == b"\xff\xfe"
    assert (out / manifest.datasets["hotel_occupancy"].files[0]).read_bytes()[:3] == b"\xef\xbb\xbf"
    with pytest.raises(UnicodeDecodeError):  # cp1258 bytes are not UTF-8
        (out / manifest.datasets["water_quality_observed"].files[0]).read_bytes().decode("utf-8")
    hotel = _decode((out / manifest.datasets["hotel_occupancy"].files[0]).read_bytes(), "utf-8-sig")
    assert re.search(r";\d+,\d+\r?$", hotel.splitlines()[1])  # decimal comma


def test_ngsi_ld_messages(run, catalog):
    out, manifest = run
    for name in ("air_quality_observed", "traffic_flow_observed"):
        contract, ds = catalog[name], manifest.datasets[name]
        mapping = ngsi_attribute_map(contract)
        assert mapping["date_observed"] == "dateObserved" and mapping["lon"] == "location"
        spoiled = {r.row for r in ds.defect_rows if r.kind != "duplicate"}
        lines = (out / ds.files[0]).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, start=1):
            message = json.loads(line)
            entity = message["payload"]
            assert message["topic"].startswith(contract.source.location + "/")
            assert entity["type"] in (contract.standard or "") and entity["id"].startswith(
                f"urn:ngsi-ld:{entity['type']}:"
            )
            assert entity["dateObserved"]["type"] == "Property"
            assert entity["location"]["type"] == "GeoProperty"
            assert "@context" in entity
            if number in spoiled:
                continue
            lon, lat = entity["location"]["value"]["coordinates"]
            assert QN_LON[0] <= lon <= QN_LON[1] and QN_LAT[0] <= lat <= QN_LAT[1]
            flat = flatten_entity(contract, entity)
            device = flat["station_code"] if name == "air_quality_observed" else flat["device_id"]
            assert message["topic"].endswith("/" + device)
            assert (
                datetime.fromisoformat(entity["dateObserved"]["value"]["@value"])
                .utcoffset()
                .total_seconds()
                == 7 * 3600
            )


def test_open311_documents(run):
    out, _ = run
    services = json.loads((out / "api/open311/services.json").read_text(encoding="utf-8"))
    assert {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    } <= set(services[0])
    requests = json.loads((out / "api/open311/requests.json").read_text(encoding="utf-8"))
    fields = {
        "service_request_id",
        "service_code",
        "service_name",
        "status",
        "status_notes",
        "agency_responsible",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "lat",
        "long",
        "address",
        "description",
        "media_url",
        "email",
        "phone",
    }
    assert all(set(r) == fields for r in requests)
    assert any(
        re.search(r"[ạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ]", r["description"] or "")
        for r in requests
    )


def test_video_clips_and_ground_truth(run):
    out, manifest = run
    ds = manifest.datasets["video_segments"]
    listing = [json.loads(x) for x in (out / ds.files[0]).read_text(encoding="utf-8").splitlines()]
    assert len(ds.video) == len(listing) == 8
    folder = Path(ds.files[0]).parent  # the listing's uris are relative to it, as NVRs export
    sizes = {str(folder / row["uri"]): row["size_bytes"] for row in listing}
    for truth in ds.video:
        capture = cv2.VideoCapture(str(out / truth.uri))
        assert capture.isOpened(), truth.uri
        frames = []
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(frame)
        capture.release()
        assert len(frames) == truth.frames == 300
        assert frames[0].shape == (truth.height, truth.width, 3)
        assert sizes[truth.uri] == (out / truth.uri).stat().st_size
        assert sum(truth.counts.values()) == len(truth.objects) >= 1
        background = np.median(np.stack(frames[::5]), axis=0)
        for obj in truth.objects:  # something differs from the background where the truth says
            visible = [f for f in range(truth.frames) if visible_box(obj, f, truth.width, truth.height)
                       and not any(a <= f < b for a, b in truth.blackouts)]
            f = visible[len(visible) // 2]
            x, y, w, h = (int(v) for v in visible_box(obj, f, truth.width, truth.height))
            box = np.abs(frames[f][y : y + h, x : x + w].astype(float) - background[y : y + h, x : x + w])
            assert box.mean() > 8, (truth.segment_id, obj)
        for first, last in truth.blackouts:  # and a blackout is black
            assert frames[(first + last) // 2].mean() < 12


def test_units_follow_the_2025_reform(tmp_path, catalog):
    names = [
        "tourism_daily_arrivals",
        "traffic_incidents",
        "hotel_occupancy",
        "disease_surveillance",
    ]
    manifest = generate(tmp_path, catalog=catalog, start=date(2025, 6, 25), days=10, datasets=names)
    codes_on: dict[date, set[str]] = {}
    seen_new = 0
    for name in names:
        contract, ds = catalog[name], manifest.datasets[name]
        decimal_comma = bool(contract.source.options.get("decimal_comma", False))
        event = contract.column(contract.event_time)
        for file in ds.counted_files:
            for _, rows in _read(tmp_path, contract, file):
                for raw in rows:
                    parsed = _parse_row(contract, raw, decimal_comma)
                    if parsed is None or parsed["unit_code"] is None:
                        continue
                    day = parsed[event.name] if event.type == "date" else parsed[event.name].date()
                    if day not in codes_on:
                        codes_on[day] = set(units_valid_on(day)["unit_code"].to_list())
                    assert parsed["unit_code"] in codes_on[day], (name, day, parsed["unit_code"])
                    seen_new += parsed["unit_code"].startswith("250")
    assert seen_new > 0
    assert len(manifest.datasets["tourism_daily_arrivals"].files) == 2  # June and July workbooks


def test_scale_and_rates(tmp_path, catalog):
    one = generate(
        tmp_path / "one",
        catalog=catalog,
        datasets=["hotel_occupancy"],
        defect_rate=0,
        wrong_encoding=False,
    )
    two = generate(
        tmp_path / "two",
        catalog=catalog,
        scale=2,
        datasets=["hotel_occupancy"],
        progress=True,
        defect_rates={"duplicate": 0.1},
    )
    assert one.datasets["hotel_occupancy"].defects_total == 0
    assert one.datasets["hotel_occupancy"].file_defects == []
    assert two.datasets["hotel_occupancy"].expected.silver == 2 * one.datasets[
        "hotel_occupancy"
    ].rows_total - (
        two.datasets["hotel_occupancy"].defects_total
        - two.datasets["hotel_occupancy"].defects["duplicate"]
    )
    assert two.datasets["hotel_occupancy"].defects["duplicate"] == round(
        0.1 * 2 * one.datasets["hotel_occupancy"].rows_total
    )
    with pytest.raises(KeyError):
        generate(tmp_path / "bad", catalog=catalog, datasets=["no_such_dataset"])
    with pytest.raises(ValueError):
        generate(tmp_path / "bad", catalog=catalog, defect_rate=0.5)
