import unicodedata
from datetime import UTC, date, datetime

import polars as pl
import pytest

from lakehouse.ingest.parse import FileRejected, ParseOptions, parse


def _delivery(catalog, rows, name="tourism_daily_arrivals", headers=None):
    contract = catalog[name]
    headers = headers or [c.source_name for c in contract.columns]
    return contract, pl.DataFrame([dict(zip(headers, r)) for r in rows], schema={h: pl.String for h in headers})


def test_vietnamese_formats_parse(catalog):
    contract, frame = _delivery(catalog, [["01/06/2025", "DL001", "Vịnh Hạ Long", "193", "12000", "3400", "1,5e9"]])
    frame = frame.with_columns(pl.lit("1500000000").alias("Doanh thu (VNĐ)"))
    result = parse(frame, contract)
    assert result.rejected.height == 0
    row = result.parsed.row(0, named=True)
    assert row["report_date"] == date(2025, 6, 1)
    assert row["domestic_visitors"] == 12000 and row["site_name"] == "Vịnh Hạ Long"


def test_headers_match_across_unicode_forms_and_spacing(catalog):
    contract = catalog["tourism_daily_arrivals"]
    headers = ["  " + unicodedata.normalize("NFD", c.source_name).upper() + " " for c in contract.columns]
    _, frame = _delivery(catalog, [["01/06/2025", "DL001", "A", "193", "1", "2", "3"]], headers=headers)
    assert parse(frame, contract).parsed.height == 1


def test_missing_column_rejects_the_file(catalog):
    contract, frame = _delivery(catalog, [["01/06/2025", "DL001", "A", "193", "1", "2", "3"]])
    with pytest.raises(FileRejected, match="lacks columns \\['Khách quốc tế'\\]"):
        parse(frame.drop("Khách quốc tế"), contract)


def test_every_rejected_row_has_a_reason_and_nothing_is_lost(catalog):
    rows = [
        ["01/06/2025", "DL001", "A", "193", "10", "1", "5"],
        ["31/02/2025", "DL002", "A", "193", "10", "1", "5"],   # impossible date
        ["02/06/2025", "", "A", "193", "10", "1", "5"],         # missing key
        ["02/06/2025", "DL003", "A", "193", "mười", "1", "5"],  # text in a number
        ["02/06/2025", "DL004", "A", "193", "12.5", "1", "5"],  # fraction of a person
    ]
    contract, frame = _delivery(catalog, rows)
    result = parse(frame, contract)
    assert result.parsed.height + result.rejected.height == len(rows)
    reasons = dict(zip(result.rejected["_row_number"], result.rejected["_reason"]))
    assert reasons[2].startswith("bad_date: report_date=\"31/02/2025\"")
    assert reasons[3] == "missing_key: site_code is empty"
    assert reasons[4] == 'wrong_type: domestic_visitors="mười" is not a valid int'
    assert reasons[5].startswith("wrong_type: domestic_visitors")
    assert '"site_code":"DL003"' in result.rejected.filter(pl.col("_row_number") == 4)["_raw"][0]


def test_decimal_comma_and_local_time(catalog):
    contract = catalog["water_quality_observed"]
    headers = [c.source_name for c in contract.columns]
    frame = pl.DataFrame([dict(zip(headers, ["NN01", "01/06/2025 07:30", "7,2", "6,5", "12", "29,5", "30,1", "107,05", "20,95"]))])
    result = parse(frame, contract, ParseOptions(decimal_comma=True))
    row = result.parsed.row(0, named=True)
    assert row["ph"] == pytest.approx(7.2) and row["lon"] == pytest.approx(107.05)
    # 07:30 in Hạ Long is 00:30 UTC.
    assert row["sampled_at"] == datetime(2025, 6, 1, 0, 30, tzinfo=UTC)


def test_iso_timestamps_with_and_without_offset(catalog):
    contract = catalog["water_levels"]
    headers = [c.source_name for c in contract.columns]
    frame = pl.DataFrame([dict(zip(headers, r)) for r in [
        ["TV01", "2025-06-01T08:00:00+07:00", "120.5", "0"],
        ["TV01", "2025-06-01T09:00:00", "121", "0"],
        ["TV01", "2025-06-01T02:00:00Z", "122", "0"],
    ]])
    times = parse(frame, contract).parsed["observed_at"].to_list()
    assert [t.hour for t in times] == [1, 2, 2]


def test_reason_quoting_matches_json():
    import json

    from lakehouse.ingest.parse import quote_expr

    values = ["mười", 'a"b', "back\\slash", "line\nbreak", "tab\there", "cr\rx", 'Hạ "Long" \\ end', ""]
    quoted = pl.DataFrame({"v": values}).select(quote_expr(pl.col("v")).alias("v"))["v"].to_list()
    assert quoted == [json.dumps(v, ensure_ascii=False) for v in values]
