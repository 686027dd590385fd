"""Landing zone: processed / failed areas, nothing lost, re-runs never duplicate."""

from __future__ import annotations

import shutil
import unicodedata

import pytest
import xlsxwriter
from deltalake import DeltaTable

from lakehouse.ingest import bronze, files
from lakehouse.ingest.files import LandingZone, ingest_landing
from lakehouse.lake import Tier, read, table_uri


def _workbook(path, contract, sheets):
    book = xlsxwriter.Workbook(str(path))
    for sheet, rows in sheets.items():
        ws = book.add_worksheet(sheet)
        ws.write(0, 0, "SỞ DU LỊCH TỈNH QUẢNG NINH")
        ws.write(1, 0, "BÁO CÁO LƯỢT KHÁCH THEO NGÀY")
        for i, column in enumerate(contract.columns):
            ws.write(3, i, column.source_name)
        for r, row in enumerate(rows):
            for i, value in enumerate(row):
                ws.write(4 + r, i, value)
    book.close()


GOOD = ["01/06/2025", "DL001", "Vịnh Hạ Long", "193", 12000, 3000, 900000000]


@pytest.fixture
def tourism(catalog, lake_settings):
    contract = catalog["tourism_daily_arrivals"]
    zone = LandingZone.for_contract(contract, lake_settings)
    zone.incoming.mkdir(parents=True)
    return contract, zone


def test_multi_sheet_workbook_lands_with_reasons(tourism, lake_settings):
    contract, zone = tourism
    _workbook(zone.incoming / "arrivals.xlsx", contract, {
        "Hạ Long": [GOOD, ["02/06/2025", "DL001", "Vịnh Hạ Long", "193", "không rõ", 1, 1]],
        "Địa phương khác": [["01/06/2025", "DL010", "Chùa Yên Tử", "196", 800, 20, 1000]],
    })
    [result] = ingest_landing(contract, lake_settings)
    assert result.status == "processed"
    assert (result.bronze_rows, result.quarantined_rows) == (2, 1)
    assert (zone.processed / "arrivals.xlsx").exists() and not any(zone.incoming.iterdir())
    quarantine = read(table_uri(Tier.quarantine, contract.name, lake_settings)).to_pylist()
    assert quarantine[0]["_source"] == "arrivals.xlsx#Hạ Long" and quarantine[0]["_row_number"] == 2
    assert quarantine[0]["_reason"] == 'wrong_type: domestic_visitors="không rõ" is not a valid int'
    bronze_rows = read(table_uri(Tier.bronze, contract.name, lake_settings))
    assert set(bronze_rows.column("_source").to_pylist()) == {"arrivals.xlsx#Hạ Long", "arrivals.xlsx#Địa phương khác"}


def test_unreadable_delivery_goes_to_failed_with_reason(tourism, lake_settings):
    contract, zone = tourism
    (zone.incoming / "broken.xlsx").write_bytes(b"this is not a workbook")
    book = zone.incoming / "wrong_columns.xlsx"
    _workbook(book, contract, {"S": [GOOD]})
    # Drop a required column by rewriting the header cell.
    wb = xlsxwriter.Workbook(str(book))
    ws = wb.add_worksheet("S")
    for i, column in enumerate(contract.columns[:-2]):
        ws.write(3, i, column.source_name)
    wb.close()
    results = {r.file: r for r in ingest_landing(contract, lake_settings)}
    assert results["broken.xlsx"].status == "failed" and "cannot read workbook" in results["broken.xlsx"].reason
    assert results["wrong_columns.xlsx"].status == "failed" and "lacks columns" in results["wrong_columns.xlsx"].reason
    assert (zone.failed / "broken.xlsx").exists()
    assert "lacks columns" in (zone.failed / "wrong_columns.xlsx.reason.txt").read_text(encoding="utf-8")
    assert DeltaTable.is_deltatable(table_uri(Tier.bronze, contract.name, lake_settings)) is False


def test_crash_between_quarantine_and_bronze_is_repaired_by_rerun(tourism, lake_settings, monkeypatch):
    contract, zone = tourism
    _workbook(zone.incoming / "a.xlsx", contract, {"S": [GOOD, ["x", "DL002", "A", "193", 1, 1, 1]]})
    real_append = bronze.delta.append

    def crash_on_bronze(uri, *args, **kwargs):
        if "/bronze/" in uri:
            raise OSError("worker killed")
        return real_append(uri, *args, **kwargs)

    monkeypatch.setattr(bronze.delta, "append", crash_on_bronze)
    with pytest.raises(OSError):
        ingest_landing(contract, lake_settings)
    assert (zone.incoming / "a.xlsx").exists(), "an unprocessed file is never moved or deleted"
    monkeypatch.setattr(bronze.delta, "append", real_append)
    [result] = ingest_landing(contract, lake_settings)
    assert result.status == "processed"
    assert read(table_uri(Tier.bronze, contract.name, lake_settings)).num_rows == 1
    assert read(table_uri(Tier.quarantine, contract.name, lake_settings)).num_rows == 1


def test_same_file_delivered_twice_is_landed_once(tourism, lake_settings, tmp_path):
    contract, zone = tourism
    _workbook(tmp_path / "a.xlsx", contract, {"S": [GOOD]})
    for _ in range(2):
        shutil.copy(tmp_path / "a.xlsx", zone.incoming / "a.xlsx")
        ingest_landing(contract, lake_settings)
    assert read(table_uri(Tier.bronze, contract.name, lake_settings)).num_rows == 1
    assert len(list(zone.processed.iterdir())) == 2  # both deliveries kept for audit


TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def _encode(text: str, encoding: str) -> bytes:
    """cp1258 has precomposed vowels (â, ơ, ư...) but tones only as combining marks."""
    if encoding != "cp1258":
        return text.encode(encoding)
    out = []
    for char in text:
        base, *marks = unicodedata.normalize("NFD", char)
        tones = [m for m in marks if m in TONES]
        shape = unicodedata.normalize("NFC", base + "".join(m for m in marks if m not in TONES))
        out.append(shape + "".join(tones))
    return "".join(out).encode("cp1258")


@pytest.mark.parametrize("declared, written, ok", [
    ("utf-16", "utf-16", True), ("cp1258", "cp1258", True), ("cp1258", "utf-8", False),
    ("utf-8-sig", "utf-8-sig", True), ("utf-8-sig", "cp1258", False),
])
def test_encodings_are_honoured_or_the_file_rejected(catalog, declared, written, ok):
    contract = catalog["water_quality_observed"].model_copy(
        update={"source": catalog["water_quality_observed"].source.model_copy(update={"options": {"encoding": declared}})})
    raw = _encode("Mã trạm,Độ đục (NTU)\nNN01,12\n", written)
    if ok:
        assert files.decode(raw, contract).startswith("Mã trạm")
    else:
        with pytest.raises(files.FileRejected):
            files.decode(raw, contract)


@pytest.fixture
def hotels(catalog, lake_settings):
    contract = catalog["hotel_occupancy"]
    zone = LandingZone.for_contract(contract, lake_settings)
    zone.incoming.mkdir(parents=True)
    header = ";".join(c.source_name for c in contract.delivered_columns)
    return contract, zone, header


def _csv(zone, name, text):
    (zone.incoming / name).write_bytes(text.encode("utf-8-sig"))


def test_empty_and_header_only_files(hotels, lake_settings):
    contract, zone, header = hotels
    _csv(zone, "empty.csv", "")
    _csv(zone, "header_only.csv", header + "\n")
    results = {r.file: r for r in ingest_landing(contract, lake_settings)}
    assert results["empty.csv"].status == "failed" and "empty" in results["empty.csv"].reason
    assert results["header_only.csv"].status == "processed" and results["header_only.csv"].bronze_rows == 0


def test_truncated_file_keeps_good_rows_and_quarantines_the_cut_line(hotels, lake_settings):
    contract, zone, header = hotels
    good = "01/06/2025;KS0001;Khách sạn Mường Thanh;4;193;120;80;1.250.000,5"
    _csv(zone, "cut.csv", f"{header}\n{good}\n02/06/2025;KS0001;Khách sạn Mườ")
    [result] = ingest_landing(contract, lake_settings)
    assert (result.bronze_rows, result.quarantined_rows) == (1, 1)
    [row] = read(table_uri(Tier.bronze, contract.name, lake_settings)).to_pylist()
    assert row["average_rate_vnd"] == 1250000.5  # decimal comma and thousands dots
    [bad] = read(table_uri(Tier.quarantine, contract.name, lake_settings)).to_pylist()
    assert bad["_row_number"] == 2 and "is empty" in bad["_reason"]


def test_header_drift(hotels, lake_settings):
    contract, zone, header = hotels
    row = "01/06/2025;KS0001;Khách sạn A;3;193;10;5;900000"
    _csv(zone, "extra_column.csv", f"{header};Ghi chú\n{row};mới\n")
    _csv(zone, "renamed.csv", header.replace("Số buồng có khách", "Buồng đã bán") + f"\n{row}\n")
    results = {r.file: r for r in ingest_landing(contract, lake_settings)}
    assert results["extra_column.csv"].status == "processed" and results["extra_column.csv"].bronze_rows == 1
    assert results["renamed.csv"].status == "failed"
    assert "lacks columns ['Số buồng có khách']" in results["renamed.csv"].reason


def test_notes_sheet_is_skipped_and_a_workbook_without_data_is_rejected(tourism, lake_settings):
    contract, zone = tourism
    book = xlsxwriter.Workbook(str(zone.incoming / "with_notes.xlsx"))
    notes = book.add_worksheet("Ghi chú")
    notes.write(0, 0, "Số liệu tạm tính, sẽ cập nhật")
    data = book.add_worksheet("Số liệu")
    for i, column in enumerate(contract.columns):
        data.write(3, i, column.source_name)
    for i, value in enumerate(GOOD):
        data.write(4, i, value)
    book.close()
    _workbook(zone.incoming / "wrong_sheet.xlsx", contract, {})
    wb = xlsxwriter.Workbook(str(zone.incoming / "wrong_sheet.xlsx"))
    for name in ("Bìa", "Ghi chú"):
        wb.add_worksheet(name).write(0, 0, "không phải dữ liệu")
    wb.close()
    results = {r.file: r for r in ingest_landing(contract, lake_settings)}
    assert results["with_notes.xlsx"].status == "processed" and results["with_notes.xlsx"].bronze_rows == 1
    assert results["wrong_sheet.xlsx"].status == "failed"
    assert "no sheet has the contract's columns" in results["wrong_sheet.xlsx"].reason


def test_large_csv_takes_the_bulk_path_with_the_same_outcome(catalog, lake_settings, monkeypatch, tmp_path):
    contract = catalog["hotel_occupancy"]
    header = ";".join(c.source_name for c in contract.delivered_columns)
    rows = ["01/06/2025;KS0001;Khách sạn A;3;193;10;5;900000",
            "02/06/2025;KS0001;Khách sạn A;3;193;10;mười;900000",
            "31/02/2025;KS0002;Khách sạn B;4;193;20;5;1.250.000,5"]
    delivery = tmp_path / "hotels.csv"
    delivery.write_bytes((header + "\n" + "\n".join(rows) + "\n").encode("utf-8-sig"))

    outcomes = {}
    for path_name, threshold in (("polars", 10**9), ("bulk", 1)):
        monkeypatch.setenv("IOC_BULK_CSV_MIN_BYTES", str(threshold))
        monkeypatch.setenv("IOC_LAKE_ROOT", str(tmp_path / path_name / "lake"))
        monkeypatch.setenv("IOC_LANDING_ROOT", str(tmp_path / path_name / "landing"))
        from lakehouse.settings import get_settings, reset_settings_cache
        reset_settings_cache()
        settings = get_settings()
        zone = LandingZone.for_contract(contract, settings)
        zone.incoming.mkdir(parents=True)
        shutil.copy(delivery, zone.incoming / "hotels.csv")
        [result] = ingest_landing(contract, settings)
        quarantine = read(table_uri(Tier.quarantine, contract.name, settings)).sort_by("_row_number")
        bronze = read(table_uri(Tier.bronze, contract.name, settings))
        outcomes[path_name] = (result.status, bronze.drop(["_batch_id", "_ingested_at", "_source"]).to_pylist(),
                               quarantine.select(["_row_number", "_rule", "_reason"]).to_pylist())
        assert (zone.processed / "hotels.csv").exists()
    assert outcomes["bulk"] == outcomes["polars"]
    assert outcomes["bulk"][0] == "processed" and len(outcomes["bulk"][1]) == 1
