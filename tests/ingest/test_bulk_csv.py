"""The DuckDB bulk CSV path lands exactly what the Polars path lands, once, or nothing."""

from __future__ import annotations

import csv
import io
import json
import logging
import random
import unicodedata
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from lakehouse.contracts import Column, Contract
from lakehouse.ingest import bulk_csv
from lakehouse.ingest.bronze import land
from lakehouse.ingest.bulk_csv import ingest_csv_bulk
from lakehouse.ingest.bulk_native import fast_expr, fast_values, typed
from lakehouse.ingest.files import decode
from lakehouse.ingest.parse import ROW_NUMBER, FileRejected, ParseOptions, parse, typed_expr
from lakehouse.lake import delta, duck
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.lake.schema import contract_schema
from lakehouse.settings import Settings

GOOD = ["01/06/2025", "KS0001", "Khách sạn Mường Thanh", "4", "193", "120", "80", "1.250.000,5"]


def write_delivery(path: Path, contract: Contract, rows: list[list[str | None]], *,
                   headers: list[str] | None = None, encoding: str | None = None) -> Path:
    """A department export: delivered headers, the contract's delimiter and encoding."""
    options = contract.source.options
    headers = headers or [c.source_name or c.name for c in contract.columns]
    with open(path, "w", encoding=encoding or str(options.get("encoding", "utf-8")), newline="") as out:
        writer = csv.writer(out, delimiter=str(options.get("delimiter", ",")), lineterminator="\n")
        writer.writerow(headers)
        writer.writerows([["" if v is None else v for v in row] for row in rows])
    return path


def cp1258_text(text: str) -> str:
    """Vietnamese as cp1258 spells it: base letters (ơ, â ...) precomposed, tones combining."""
    tones = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
    out, marks = [], []
    for char in unicodedata.normalize("NFD", text) + " ":
        if unicodedata.combining(char) and char in tones:
            marks.append(char)
        elif unicodedata.combining(char):
            out[-1] = unicodedata.normalize("NFC", out[-1] + char)
        else:
            out.extend(marks)
            marks = []
            out.append(char)
    return "".join(out[:-1])


def hotel_row(**changes: str | None) -> list[str | None]:
    names = ["report_date", "hotel_id", "hotel_name", "star_rating", "unit_code",
             "rooms_available", "rooms_occupied", "average_rate_vnd"]
    row = dict(zip(names, GOOD, strict=True)) | changes
    return [row[n] for n in names]


def bronze(contract: Contract, settings: Settings) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(table_uri(Tier.bronze, contract.name, settings)).to_pyarrow_table())


def quarantine(contract: Contract, settings: Settings) -> pl.DataFrame:
    table = DeltaTable(table_uri(Tier.quarantine, contract.name, settings)).to_pyarrow_table()
    return pl.from_arrow(table).sort("_row_number")


def parquet_files(uri: str) -> set[Path]:
    root = Path(uri)
    return set(root.rglob("*.parquet")) if root.exists() else set()


def assert_as_polars_path(contract: Contract, path: Path, settings: Settings) -> None:
    """Bronze and quarantine hold exactly what ``files.ingest_file`` (the Polars path) would
    land from ``path``: the same typed rows, the same rejects in the same words."""
    options = contract.source.options  # files.read_sheets for a CSV, whatever the declared format
    frame = pl.read_csv(io.StringIO(decode(path.read_bytes(), contract)), separator=str(options.get("delimiter", ",")),
                        infer_schema=False, skip_rows=int(options.get("header_row", 1)) - 1)
    frame = frame.with_row_index(ROW_NUMBER, offset=1).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))
    expected = parse(frame, contract, ParseOptions.from_contract(contract, settings.timezone))
    names = [c.name for c in contract.columns]
    got = bronze(contract, settings).select(names).sort(names, nulls_last=True)
    want = pl.from_arrow(
        expected.parsed.select(names).to_arrow().cast(contract_schema(contract, lineage=False))
    ).sort(names, nulls_last=True)
    assert_frame_equal(got, want)
    columns = ["_row_number", "_rule", "_reason", "_raw"]
    assert_frame_equal(quarantine(contract, settings).select(columns),
                       expected.rejected.select(columns).sort("_row_number"))


def variant_rows(base: list[str], variants: dict[int, list[str]]) -> list[list[str]]:
    """``base``, then one row per variant value, each changing one column of ``base``."""
    rows = [list(base)]
    for index, values in variants.items():
        for value in values:
            row = list(base)
            row[index] = value
            rows.append(row)
    return rows


def slow_rows_logged(records: list[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if getattr(r, "bulk_phase", ("",))[0].startswith("slow rows")]


@pytest.fixture
def hotel(catalog) -> Contract:
    return catalog["hotel_occupancy"]


# --------------------------------------------------------------------------- rows and reasons


def test_bad_rows_are_quarantined_with_reasons_and_good_rows_typed(tmp_path, hotel, lake_settings):
    rows = [
        hotel_row(),
        hotel_row(report_date="31/02/2025", hotel_id="KS0002"),
        hotel_row(hotel_id=None),
        hotel_row(hotel_id="KS0003", rooms_available="abc"),
        hotel_row(hotel_id="KS0004", rooms_occupied="12,5"),
        hotel_row(hotel_id=" KS0005\u00a0", hotel_name="  Hạ Long Bay ", star_rating="",
                  rooms_available=" 1 234 ", rooms_occupied="12,0", average_rate_vnd=None),
        hotel_row(hotel_id="KS0006", hotel_name="   "),
    ]
    path = write_delivery(tmp_path / "occupancy.csv", hotel, rows)
    result = ingest_csv_bulk(hotel, path, batch_id="b1", source="tourism/occupancy.csv")

    assert (result.bronze_rows, result.quarantined_rows, result.skipped) == (2, 5, False)
    assert result.rows_in == len(rows)
    rejected = quarantine(hotel, lake_settings)
    assert rejected.select("_row_number", "_rule", "_reason").rows() == [
        (2, "parse.report_date", 'bad_date: report_date="31/02/2025" is not a valid date'),
        (3, "required.hotel_id", "missing_key: hotel_id is empty"),
        (4, "parse.rooms_available", 'wrong_type: rooms_available="abc" is not a valid int'),
        (5, "parse.rooms_occupied", 'wrong_type: rooms_occupied="12,5" is not a valid int'),
        (7, "required.hotel_name", "missing_value: hotel_name is empty"),
    ]
    assert set(rejected["_batch_id"]) == {"b1"} and set(rejected["_stage"]) == {"parse"}
    assert delta.batch_committed(table_uri(Tier.quarantine, hotel.name, lake_settings), "b1:parse")
    raw = json.loads(rejected["_raw"][2])
    assert raw["rooms_available"] == "abc" and raw["hotel_name"] == "Khách sạn Mường Thanh"
    assert json.loads(rejected["_raw"][1])["hotel_id"] is None

    good = bronze(hotel, lake_settings).sort("hotel_id")
    assert good.select(c.name for c in hotel.columns).rows() == [
        (date(2025, 6, 1), "KS0001", "Khách sạn Mường Thanh", 4, "193", 120, 80, 1250000.5),
        (date(2025, 6, 1), "KS0005", "Hạ Long Bay", None, "193", 1234, 12, None),
    ]
    assert set(good["_source"]) == {"tourism/occupancy.csv"} and set(good["_batch_id"]) == {"b1"}


def test_bronze_schema_is_the_contract_schema_for_delta_rs_and_duckdb(tmp_path, hotel, lake_settings):
    ingest_csv_bulk(hotel, write_delivery(tmp_path / "a.csv", hotel, [hotel_row()]), batch_id="b1")
    uri = table_uri(Tier.bronze, hotel.name, lake_settings)
    assert DeltaTable(uri).to_pyarrow_table().schema.remove_metadata() == contract_schema(hotel)
    con = duck.connect()
    row = con.execute(
        f"SELECT report_date, star_rating, average_rate_vnd, typeof(star_rating), typeof(_ingested_at) "
        f"FROM delta_scan('{uri}')"
    ).fetchone()
    assert row == (date(2025, 6, 1), 4, 1250000.5, "INTEGER", "TIMESTAMP WITH TIME ZONE")


def test_same_delivery_as_polars_path(tmp_path, catalog, lake_settings):
    """Tricky values, each typed or rejected exactly as ``parse.parse`` does it."""
    contract = catalog["traffic_flow_observed"]  # text, ISO timestamps, int, double, boolean
    base = ["urn:tfo:1", "dev-1", "QL18", "2025-06-01T08:00:00+07:00", "12", "0.5", "40", "true", "107.1", "21.0"]
    rows = variant_rows(base, {
        3: ["2025-06-01 08:00:00", "2025-06-01T08:00", "2025-06-01", "2025-06-01T08:00:00Z",
            " 2025-06-01T08:00:00 ", "2025-06-01T08:00:00.123456", "2025-06-01T08:00+07:00", "01/06/2025",
            "infinity", "epoch"],
        4: ["12.0", "1,234", "12.5", "abc", "1_000", " 7 ", "\u00a07\u00a0", "1 234", "1e3", "", "99999999999",
            "+7", "007", "-0", "0x10", "0b11", "2147483648", "1.234"],
        5: [".5", "1,234.5", "inf", "-0", "1e-3", "0x10", "5%", "\u2009", "+-1", "1_000", "nan", "+.5", "1,234,567.5"],
        7: ["Có", "KHÔNG", " yes ", "maybe", "1", "0", "f", ""],
        0: [" padded ", "\u00a0nbsp\u00a0", "tab\t", "", "   ", "Quảng Ninh", "Đà Nẵng", "Hà", "x\u3000"],
    })
    path = write_delivery(tmp_path / "flow.csv", contract, rows)
    result = ingest_csv_bulk(contract, path, batch_id="b1", settings=lake_settings)
    assert result.rows_in == len(rows)
    assert_as_polars_path(contract, path, lake_settings)


def test_decimal_comma_delivery_as_polars_path(tmp_path, hotel, lake_settings, caplog):
    """The fast/slow split on a decimal-comma, dd/mm/yyyy contract: every value that only
    Polars reads right goes to ``parse``, every value it reads goes to bronze as Polars
    types it, every reject carries the Polars path's rule, reason and raw row."""
    rows = variant_rows(hotel_row(hotel_id="KS0001"), {
        0: ["1/6/2025", " 01/06/2025", "01/06/2025 ", "31/02/2025", "2025-06-01", "infinity", "epoch",
            "01/06/25", "\u00a001/06/2025", "", "29/02/2024"],
        1: [" KS0005\u00a0", "\tKS0006", "KS0007 ", "", "   ", "\u3000", "Đ0001", "KS0008\u2009"],
        2: ["Hà", "  Hạ Long Bay ", "Ủy ban", "x\u00a0", "   ", "Khách sạn\u3000"],
        3: ["04", "+4", "4.0", "4,0", "1_0", "0x4", "1e0", "", " 4 ", "4,5", "-0", "99999999999"],
        5: ["1.234", "1.2.3", "12,0", "1_000", " 1 234 ", "1e3", "abc", "-5", "2147483648", "1.000.000"],
        7: ["1.400,00", "1,5", "-0,5", "1_000,0", "+-1", "+1", "nan", "inf", " 1.234,5 ", "\u00a01,5",
            "1.234.567,891", ",5", "5,", "1e3", "abc", "", "1,234.5"],
    })
    path = write_delivery(tmp_path / "occupancy.csv", hotel, rows)
    with caplog.at_level(logging.DEBUG, logger="lakehouse.ingest.bulk_csv"):
        result = ingest_csv_bulk(hotel, path, batch_id="b1", settings=lake_settings)
    assert result.rows_in == len(rows)
    assert_as_polars_path(hotel, path, lake_settings)
    assert slow_rows_logged(caplog.records)  # both halves ran
    stats = pl.from_arrow(pa.table(DeltaTable(table_uri(Tier.bronze, hotel.name, lake_settings))
                                   .get_add_actions(flatten=True)))
    assert stats["min._batch_id"].to_list() == ["b1"] * stats.height  # lineage bounds
    fast_file = stats.sort("num_records").row(-1, named=True)  # the other one holds rescued rows
    assert fast_file["min.average_rate_vnd"] is None  # it holds the NaN: no float bounds


def test_decimal_column_as_polars_path(tmp_path, hotel, lake_settings):
    priced = hotel.model_copy(update={"columns": [
        c.model_copy(update={"type": "decimal(14,2)"}) if c.name == "average_rate_vnd" else c for c in hotel.columns
    ]})
    rows = variant_rows(hotel_row(), {7: ["1.400,00", "1,005", "0,125", "2,675", "1.234,5", "-0,005", "1", "abc",
                                          " 1,5", ""]})
    path = write_delivery(tmp_path / "priced.csv", priced, rows)
    ingest_csv_bulk(priced, path, batch_id="b1", settings=lake_settings)
    assert_as_polars_path(priced, path, lake_settings)


def test_thousands_separators_stay_on_the_fast_path(tmp_path, hotel, lake_settings, caplog):
    """A column where separators are common is read with them, not row by row in ``parse``."""
    rows = [hotel_row(hotel_id=f"KS{i:04d}", rooms_available=f"1.{i % 1000:03d}", rooms_occupied=str(i % 900))
            for i in range(2000)]
    path = write_delivery(tmp_path / "big_hotels.csv", hotel, rows)
    with caplog.at_level(logging.DEBUG, logger="lakehouse.ingest.bulk_csv"):
        result = ingest_csv_bulk(hotel, path, batch_id="b1", settings=lake_settings)
    assert (result.bronze_rows, result.quarantined_rows) == (2000, 0)
    assert ["(0 rows)" in m for m in slow_rows_logged(caplog.records)] == [True]
    assert sorted(bronze(hotel, lake_settings)["rooms_available"].unique().to_list())[:2] == [1000, 1001]
    assert_as_polars_path(hotel, path, lake_settings)


TRICKY = ["", " ", "\u00a0", "\t", "-0", "+7", "007", "1_000", "0x10", "1e3", "1e-3", "12.5", "12,5", "1.234",
          "1,234", "1.234,5", "1,234.5", ".5", "5.", ",5", "+-1", "nan", "inf", "-inf", "2147483648",
          "9007199254740993", "99999999999999999999", "1/6/2025", "01/06/2025", " 01/06/2025", "31/02/2025",
          "2025-06-01", " 2025-06-01", "2025-06-01T08:00", "infinity", "epoch", "Hà", " x ", "\u3000x"]


@pytest.mark.parametrize("decimal_comma", [False, True])
def test_fast_values_never_read_a_text_differently(decimal_comma):
    """Fuzz: wherever a fast value is given, it is ``typed_expr``'s value (text: always)."""
    rng = random.Random(20250601)
    alphabet = list("0123456789.,-+eE_ /:T") + ["\u00a0", "\t"]
    texts = TRICKY + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))) for _ in range(20_000)]
    texts += [f"{rng.choice(['', ' ', '0'])}{rng.randint(0, 40)}/{rng.randint(0, 14)}/{rng.randint(0, 2100)}"
              f"{rng.choice(['', ' ', 'x'])}" for _ in range(5_000)]
    options = ParseOptions(decimal_comma=decimal_comma)
    columns = [Column(name="n", type="int"), Column(name="b", type="bigint"), Column(name="x", type="double"),
               Column(name="d", type="date", source_format="%d/%m/%Y"), Column(name="i", type="date"),
               Column(name="s", type="string"), Column(name="m", type="decimal(38,2)")]
    for column in columns:
        # Overflowing decimals raise on both paths alike; keep the fuzz to values that fit.
        values = [t for t in texts if "e" not in t.lower() and "inf" not in t and len(t) < 20] \
            if column.decimal_precision else texts
        frame = pl.DataFrame({column.name: values}, schema={column.name: pl.String})
        want = frame.select(typed_expr(column, options).alias("want"))["want"]
        for thorough in (False, True):
            got = frame.select(fast_expr(column, options, thorough=thorough).alias("got"))["got"]
            both = pl.DataFrame({"text": values, "got": got, "want": want})
            wrong = both.filter(pl.col("got").is_not_null() & pl.col("got").ne_missing(pl.col("want"))
                                & ~(pl.col("got").cast(pl.Float64, strict=False).is_nan().fill_null(False)
                                    & pl.col("want").cast(pl.Float64, strict=False).is_nan().fill_null(False)))
            assert wrong.is_empty(), (column.type, thorough, wrong.head(5).rows())
            if column.type == "string":
                assert got.to_list() == want.to_list()


def test_settled_rows_are_rows_parse_accepts_as_is(hotel):
    """The invariant the fast path rests on: a settled row is one ``parse`` accepts, with the
    very values the fast path gives it; a row ``parse`` rejects is never settled."""
    rows = [hotel_row(), hotel_row(hotel_id=" "), hotel_row(star_rating=" 4 "), hotel_row(star_rating=None),
            hotel_row(rooms_available="x"), hotel_row(rooms_occupied="1.200"), hotel_row(report_date="1/6/2025"),
            hotel_row(average_rate_vnd="n/a"), hotel_row(hotel_name="\u00a0Hà\u00a0")]
    names = [c.name for c in hotel.columns]
    frame = pl.DataFrame(rows, schema=names, orient="row").with_row_index(ROW_NUMBER, offset=1)
    fast = fast_values(frame, hotel, ParseOptions.from_contract(hotel))
    expected = parse(frame.with_columns(pl.col(ROW_NUMBER).cast(pl.Int64)), hotel, ParseOptions.from_contract(hotel))
    accepted = {row[ROW_NUMBER]: row for row in expected.parsed.iter_rows(named=True)}
    for row in fast.iter_rows(named=True):
        if row["_settled"]:
            assert {n: row[typed(n)] for n in names} == {n: accepted[row[ROW_NUMBER]][n] for n in names}
    assert set(expected.rejected[ROW_NUMBER]).isdisjoint(fast.filter("_settled")[ROW_NUMBER])
    assert fast["_settled"].sum() >= 5


def test_row_numbers_hold_across_a_parallel_read(tmp_path, hotel, lake_settings):
    """Large enough for the reader to split the file between threads: the reported row
    numbers still point at the delivered rows."""
    total = 400_000  # ~28 MB: several of the reader's per-thread ranges
    bad = {17, 65_537, 131_071, 199_999, 333_333, total}
    rows = [hotel_row(hotel_id=f"KS{i % 10000:04d}", rooms_available="x" if i in bad else "120")
            for i in range(1, total + 1)]
    path = write_delivery(tmp_path / "big.csv", hotel, rows)
    result = ingest_csv_bulk(hotel, path, batch_id="big", threads=2)
    assert (result.bronze_rows, result.quarantined_rows) == (total - len(bad), len(bad))
    assert quarantine(hotel, lake_settings)["_row_number"].to_list() == sorted(bad)


# --------------------------------------------------------------------------- once or nothing


def test_same_batch_twice_is_stored_once(tmp_path, hotel, lake_settings):
    path = write_delivery(tmp_path / "a.csv", hotel, [hotel_row(), hotel_row(rooms_available="abc")])
    first = ingest_csv_bulk(hotel, path, batch_id="b1")
    uri = table_uri(Tier.bronze, hotel.name, lake_settings)
    version = DeltaTable(uri).version()
    again = ingest_csv_bulk(hotel, path, batch_id="b1")
    assert (first.bronze_rows, first.quarantined_rows, again.skipped) == (1, 1, True)
    assert DeltaTable(uri).version() == version
    assert bronze(hotel, lake_settings).height == 1 and quarantine(hotel, lake_settings).height == 1


@pytest.mark.parametrize("table_exists", [True, False])
def test_failed_commit_leaves_table_and_folder_as_before(tmp_path, hotel, lake_settings, monkeypatch,
                                                         table_exists):
    uri = table_uri(Tier.bronze, hotel.name, lake_settings)
    if table_exists:
        ingest_csv_bulk(hotel, write_delivery(tmp_path / "a.csv", hotel, [hotel_row()]), batch_id="b0")
    version = DeltaTable(uri).version() if table_exists else None
    files = parquet_files(uri)

    def broken_commit(*args, **kwargs):
        raise OSError("object store went away")

    monkeypatch.setattr(bulk_csv, "commit_files", broken_commit)
    path = write_delivery(tmp_path / "b.csv", hotel, [hotel_row(hotel_id="KS0009"), hotel_row(rooms_available="?")])
    with pytest.raises(OSError, match="went away"):
        ingest_csv_bulk(hotel, path, batch_id="b1")

    assert parquet_files(uri) == files
    if table_exists:
        assert DeltaTable(uri).version() == version and bronze(hotel, lake_settings).height == 1
    else:
        assert not Path(uri).exists()
    # The quarantine half landed first; a re-run repairs the batch without duplicating it.
    monkeypatch.undo()
    result = ingest_csv_bulk(hotel, path, batch_id="b1")
    assert (result.bronze_rows, result.quarantined_rows) == (1, 1)
    assert quarantine(hotel, lake_settings).height == 1
    assert bronze(hotel, lake_settings).height == 1 + table_exists


def test_unreadable_delivery_writes_nothing(tmp_path, hotel, lake_settings):
    headers = [c.source_name for c in hotel.columns if c.name != "rooms_occupied"]
    path = write_delivery(tmp_path / "a.csv", hotel, [GOOD[:-1]], headers=headers)
    with pytest.raises(FileRejected, match="lacks columns"):
        ingest_csv_bulk(hotel, path, batch_id="b1")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text(";".join(c.source_name for c in hotel.columns) + "\n" + ";".join(GOOD) + ";extra;x\n",
                      encoding="utf-8")
    with pytest.raises(FileRejected):
        ingest_csv_bulk(hotel, ragged, batch_id="b2")
    assert not Path(table_uri(Tier.bronze, hotel.name, lake_settings)).exists()
    assert not Path(table_uri(Tier.quarantine, hotel.name, lake_settings)).exists()


# --------------------------------------------------------------------------- one table, two writers


def test_polars_path_appends_onto_a_bulk_table_and_back(tmp_path, hotel, lake_settings):
    ingest_csv_bulk(hotel, write_delivery(tmp_path / "a.csv", hotel, [hotel_row()]), batch_id="bulk-1")
    frame = pl.DataFrame([dict(zip([c.source_name for c in hotel.columns], hotel_row(hotel_id="KS0002"),
                                   strict=True))])
    parsed = parse(frame, hotel)
    landed = land(hotel, parsed.parsed, parsed.rejected, batch_id="polars-1", source="api")
    assert landed.bronze_rows == 1
    ingest_csv_bulk(hotel, write_delivery(tmp_path / "b.csv", hotel, [hotel_row(hotel_id="KS0003")]),
                    batch_id="bulk-2")
    uri = table_uri(Tier.bronze, hotel.name, lake_settings)
    assert delta.batch_committed(uri, "polars-1") and delta.batch_committed(uri, "bulk-2")
    table = bronze(hotel, lake_settings).sort("hotel_id")
    assert table["hotel_id"].to_list() == ["KS0001", "KS0002", "KS0003"]
    assert table["_batch_id"].to_list() == ["bulk-1", "polars-1", "bulk-2"]
    con = duck.connect()
    assert con.execute(f"SELECT count(*) FROM delta_scan('{uri}')").fetchone() == (3,)


def test_file_statistics_let_readers_skip_files_correctly(tmp_path, hotel, lake_settings):
    for day in (1, 2, 3):
        rows = [hotel_row(report_date=f"0{day}/06/2025", hotel_id=f"KS{i:04d}") for i in range(50)]
        ingest_csv_bulk(hotel, write_delivery(tmp_path / f"{day}.csv", hotel, rows), batch_id=f"d{day}")
    uri = table_uri(Tier.bronze, hotel.name, lake_settings)
    actions = pl.from_arrow(pa.table(DeltaTable(uri).get_add_actions(flatten=True)))
    assert actions["num_records"].sum() == 150
    assert sorted(actions["min.report_date"].to_list()) == [date(2025, 6, d) for d in (1, 2, 3)]
    con = duck.connect()
    assert con.execute(
        f"SELECT count(*) FROM delta_scan('{uri}') WHERE report_date = DATE '2025-06-02'"
    ).fetchone() == (50,)
    assert DeltaTable(uri).to_pyarrow_table(filters=[("report_date", ">=", date(2025, 6, 2))]).num_rows == 100


def test_partitioned_contract(tmp_path, hotel, lake_settings):
    by_date = hotel.model_copy(update={"partition_by": ["report_date"]})
    rows = [hotel_row(report_date=d, hotel_id=f"KS{i:04d}") for i, d in enumerate(["01/06/2025", "02/06/2025"] * 3)]
    ingest_csv_bulk(by_date, write_delivery(tmp_path / "a.csv", by_date, rows), batch_id="b1")
    uri = table_uri(Tier.bronze, hotel.name, lake_settings)
    table = DeltaTable(uri)
    assert table.metadata().partition_columns == ["report_date"]
    assert sorted(table.partitions(), key=str) == [{"report_date": "2025-06-01"}, {"report_date": "2025-06-02"}]
    assert table.to_pyarrow_table(filters=[("report_date", "=", date(2025, 6, 2))]).num_rows == 3
    assert duck.connect().execute(f"SELECT count(DISTINCT report_date) FROM delta_scan('{uri}')").fetchone() == (2,)


# --------------------------------------------------------------------------- encodings and time


def test_legacy_code_page_decomposed_text_and_local_time(tmp_path, catalog, lake_settings):
    contract = catalog["water_quality_observed"]  # cp1258, "%d/%m/%Y %H:%M" local time
    rows = [["NN01", "01/06/2025 07:30", "7.2", "6.5", "12", "29.5", "30.1", "107.05", "20.95"],
            ["NN02", "31/06/2025 07:30", "7.2", "6.5", "12", "29.5", "30.1", "107.05", "20.95"]]
    headers = [cp1258_text(c.source_name) for c in contract.columns]  # tones as combining marks
    path = write_delivery(tmp_path / "nuoc.csv", contract, rows, headers=headers, encoding="cp1258")
    result = ingest_csv_bulk(contract, path, batch_id="b1")
    assert (result.bronze_rows, result.quarantined_rows) == (1, 1)
    row = bronze(contract, lake_settings).row(0, named=True)
    assert row["sampled_at"] == datetime(2025, 6, 1, 0, 30, tzinfo=UTC)  # 07:30 in Hạ Long
    assert quarantine(contract, lake_settings)["_rule"].to_list() == ["parse.sampled_at"]

    utf8 = write_delivery(tmp_path / "utf8.csv", contract, rows[:1], encoding="utf-8")
    with pytest.raises(FileRejected, match="UTF-8"):  # would load as mojibake otherwise
        ingest_csv_bulk(contract, utf8, batch_id="b2")


def test_decomposed_utf8_text_is_stored_composed(tmp_path, hotel, lake_settings):
    name = "Khách sạn Hạ Long"
    rows = [hotel_row(hotel_name=unicodedata.normalize("NFD", name)),
            hotel_row(hotel_id="KS0002", rooms_available=unicodedata.normalize("NFD", "mười"))]
    ingest_csv_bulk(hotel, write_delivery(tmp_path / "nfd.csv", hotel, rows), batch_id="b1")
    assert bronze(hotel, lake_settings)["hotel_name"].to_list() == [name]
    assert quarantine(hotel, lake_settings)["_reason"][0] == 'wrong_type: rooms_available="mười" is not a valid int'


def test_utf16_tab_delivery(tmp_path, catalog, lake_settings):
    contract = catalog["disease_surveillance"]  # UTF-16, tab separated
    row = ["C001", "02/06/2025", "A90", "30/05/2025", "193", "F", "34", "recovered", "Nguyễn Thị A",
           "012345678901", "0912345678", "sốt"]
    result = ingest_csv_bulk(contract, write_delivery(tmp_path / "ca.csv", contract, [row]), batch_id="b1")
    assert result.bronze_rows == 1
    stored = bronze(contract, lake_settings).row(0, named=True)
    assert stored["patient_name"] == "Nguyễn Thị A" and stored["age_years"] == 34
