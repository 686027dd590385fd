"""Fast path for very large CSV deliveries: DuckDB parses, types and writes Parquet straight
into the bronze Delta table's folder, and delta-rs only *commits* those files.

The Polars path (``parse.parse`` + ``bronze.land``) holds a delivery in memory as strings,
then as typed columns, then hands it to delta-rs to encode again; for department exports of
millions of rows that is several copies of the file in RAM. Here DuckDB's parallel reader
reads the CSV once, every value is converted by SQL built from the contract, the (few)
failures are fetched to Python for their reasons, and ``COPY ... TO`` writes the good rows
as Parquet inside the table folder, which delta-rs adds to the log in one transaction.

Same semantics as the Polars path:

* delivered headers are matched by ``parse.map_headers`` itself (same normal form, same
  ``FileRejected`` for missing columns);
* conversions are the SQL twins of ``parse.typed_expr`` (Unicode whitespace trimming,
  decimal commas and thousands separators, whole-number ints, ``source_format`` dates,
  naive local times read in ``settings.timezone``); rejects carry the same ``_rule`` /
  ``_reason`` / ``_raw`` wording and the 1-based data ``_row_number``;
* quarantine is appended first (``append_quarantine``, batch ``<batch_id>:parse``), then
  bronze with the batch's Delta app transaction: re-running after a crash repairs the
  batch, re-running after success is a no-op, ``rows in = bronze + quarantine`` holds and
  is checked before the bronze commit.

Design, measured on the 2-core dev box (5M-row hotel_occupancy CSV, 463 MB, see
``benchmarks/ingest.py``): the delivery is converted once into a DuckDB temp table (typed
values; delivered text only for failing rows; ``rowid`` is the row number because the
insert keeps file order) and the good rows are copied from there: 3.3 s for stage + copy.
Reading the CSV twice instead, failures first then ``COPY`` straight from the CSV, converts
every value twice: 4.7 s with a flags-only temp table for the row numbers, 6.3 s with a
streaming ``row_number() OVER ()``, which also serialises its pipeline. Two passes only
win on memory (~0.4 vs ~1 GiB peak RSS), and DuckDB spills the temp table to disk if needed.

If anything fails after Parquet files are written and before the commit lands, the folder
this call wrote is deleted, so the table stays at its previous version with no new files.
"""

from __future__ import annotations

import codecs
import json
import logging
import math
import mmap
import os
import re
import shutil
import tempfile
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import Schema
from deltalake.transaction import AddAction, create_table_with_add_actions

from lakehouse.contracts import Column, Contract
from lakehouse.ingest.bronze import LandResult, append_quarantine
from lakehouse.ingest.parse import (
    _FALSE,
    _TRUE,
    ROW_NUMBER,
    FileRejected,
    ParseOptions,
    _failure,
    _quote,
    map_headers,
)
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.lake.schema import contract_schema
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

# Unicode White_Space: what Polars' ``strip_chars()`` and regex ``\s`` remove on the Polars
# path, so trimming and "1 234" digit grouping give the same values here.
WHITESPACE = "".join(
    chr(c)
    for c in (
        *range(0x09, 0x0E), 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    )
)

# Python codec name -> DuckDB read_csv encoding; the rest (UTF-16, code pages) is transcoded
# to NFC UTF-8 first, as ``files.decode`` turns every delivery into NFC text.
_DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-8-sig": "utf-8", "iso8859-1": "latin-1"}
_MOJIBAKE_GUARDED = {"cp1258"}  # as files.decode: legacy pages that decode any UTF-8 bytes
_TRANSCODE_CHUNK = 1 << 24  # bytes per read while transcoding: bounded memory

# Partition values are stored as text in the Delta log; these types print the same in both.
_PARTITION_TYPES = ("string", "int", "bigint", "date", "boolean")
_STATS_COLUMNS = 32  # delta.dataSkippingNumIndexedCols default: stats for the first 32 columns

# DuckDB errors that mean "this file is not a CSV of this shape", not "the machine failed".
_UNREADABLE = (duckdb.InvalidInputException, duckdb.ConversionException)


# --------------------------------------------------------------------------- SQL text


def _lit(text: str) -> str:
    """A SQL string literal (views cannot take bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _is_text(column: Column) -> bool:
    return column.type in ("string", "json")


def _is_number(column: Column) -> bool:
    return column.type in ("int", "bigint", "double") or column.decimal_precision is not None


# --------------------------------------------------------------------------- conversions


def edge_whitespace_sql(raws: Sequence[str]) -> str:
    """TRUE where some text value of the row starts or ends with whitespace (or is empty).

    ``trim`` with a Unicode character set costs ~6x a plain read per value, so it only runs
    on rows this flags. Looking the first and last code point (``x[1]``, ``x[-1]``) up in
    ``WHITESPACE`` measured ~1.7x cheaper than one regex over the joined row and ~2.5x
    cheaper than ``ascii()`` range tests (DuckDB plans ``IN (...)`` lists as joins)."""
    haystack = _lit(WHITESPACE)
    return " OR ".join(f"contains({haystack}, {raw}[1]) OR contains({haystack}, {raw}[-1])" for raw in raws)


def _trimmed(raw: str) -> str:
    """``parse._clean``: stripped of Unicode whitespace, NULL when nothing is left."""
    return f"NULLIF(trim({raw}, {_lit(WHITESPACE)}), '')"


def blank_sql(raw: str) -> str:
    """Not delivered: missing, empty or only whitespace."""
    return f"({raw} IS NULL OR trim({raw}, {_lit(WHITESPACE)}) = '')"


def _number(raw: str, options: ParseOptions, *, thorough: bool) -> str:
    """``parse._number_text`` then a cast to DOUBLE. The quick form drops thousands
    separators with ``replace``, only where present (``replace`` copies every string); the
    thorough form also deletes all Unicode whitespace with ``translate`` ("1 234", NBSP
    grouping, surrounding blanks), ~4x slower, so it only runs where the quick one failed."""
    if options.decimal_comma:
        separators, stripped = ".,", f"replace(replace({raw}, '.', ''), ',', '.')"
        everything = f"translate({raw}, {_lit(',.' + WHITESPACE)}, '.')"
    else:
        separators, stripped = ",", f"replace({raw}, ',', '')"
        everything = f"translate({raw}, {_lit(',' + WHITESPACE)}, '')"
    has_separator = " OR ".join(f"contains({raw}, {_lit(s)})" for s in separators)
    # DuckDB also reads "1_000" as a number; Polars (and the department) do not.
    if thorough:
        return f"CASE WHEN NOT contains({raw}, '_') THEN TRY_CAST({everything} AS DOUBLE) END"
    return (
        f"CASE WHEN contains({raw}, '_') THEN NULL WHEN {has_separator} THEN TRY_CAST({stripped} AS DOUBLE) "
        f"ELSE TRY_CAST({raw} AS DOUBLE) END"
    )


def _date(column: Column, text: str) -> str:
    fmt = column.source_format or "%Y-%m-%d"
    if fmt != "%Y-%m-%d":
        return f"CAST(try_strptime({text}, {_lit(fmt)}) AS DATE)"
    # ``parse`` keeps the first 10 characters of ISO text ("2025-01-31T08:00" is a date);
    # a leading blank would shift that window, so such text waits for the trimmed pass.
    first = f"ascii({text})"
    return (
        f"CASE WHEN {first} > 32 AND ({first} < 133 OR {first} > 12288) "
        f"THEN CAST(try_strptime(left({text}, 10), {_lit(fmt)}) AS DATE) END"
    )


def _timestamp(column: Column, text: str) -> str:
    """The session TimeZone is the contract's local zone, so casting a naive value to
    TIMESTAMPTZ reads it as local time; a value with an offset is an instant."""
    if column.source_format:
        return f"CAST(try_strptime({text}, {_lit(column.source_format)}) AS TIMESTAMPTZ)"
    # ``parse._timestamp``'s ISO 8601 forms, one for one (no bare dates, no "+07").
    iso = f"regexp_replace(regexp_replace({text}, ' ', 'T'), 'Z$', '+00:00')"
    with_offset = "['%Y-%m-%dT%H:%M:%S.%n%z', '%Y-%m-%dT%H:%M:%S%z']"
    naive = "['%Y-%m-%dT%H:%M:%S.%n', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%dT%H:%M']"
    return (
        f"CASE WHEN regexp_matches({iso}, '[+-]\\d{{2}}:?\\d{{2}}$') "
        f"THEN CAST(try_strptime({iso}, {with_offset}) AS TIMESTAMPTZ) "
        f"ELSE CAST(try_strptime({iso}, {naive}) AS TIMESTAMPTZ) END"
    )


def _boolean(text: str) -> str:
    # Lists, not IN (...): DuckDB plans a long IN list as a join against a constant table.
    truthy = "[" + ", ".join(_lit(v) for v in _TRUE) + "]"
    falsy = "[" + ", ".join(_lit(v) for v in _FALSE) + "]"
    return (
        f"CASE WHEN list_contains({truthy}, lower({text})) THEN true "
        f"WHEN list_contains({falsy}, lower({text})) THEN false END"
    )


def parse_sql(column: Column, raw: str, options: ParseOptions, *, thorough: bool) -> str:
    """Parse a non-text value (numbers to DOUBLE, the rest to their type), NULL on failure.

    The quick form reads the text as delivered, the thorough one trims it first. Whitespace
    around a number, date or flag never changes what it parses to, it can only make DuckDB
    refuse it, so the costly trim is only needed where the quick form gave NULL."""
    if _is_number(column):
        return _number(raw, options, thorough=thorough)
    text = _trimmed(raw) if thorough else raw
    if column.type == "boolean":
        return _boolean(text)
    if column.type == "date":
        return _date(column, text)
    if column.type == "timestamp":
        return _timestamp(column, text)
    raise ValueError(f"unsupported type {column.type}")  # pragma: no cover - the model rejects it


def typed_sql(column: Column, raw: str, parsed: str, edge_whitespace: str) -> str:
    """The contract-typed value, NULL where blank or unparseable: the twin of
    ``parse.typed_expr``. ``parsed`` names the column holding ``parse_sql``'s value and
    ``edge_whitespace`` the row flag from ``edge_whitespace_sql``."""
    if _is_text(column):
        return f"CASE WHEN {edge_whitespace} THEN {_trimmed(raw)} ELSE NULLIF({raw}, '') END"
    if column.type in ("int", "bigint"):
        # Whole numbers only: "12,5" rooms is wrong, "12,0" is 12 (as on the Polars path).
        sql_type = "INTEGER" if column.type == "int" else "BIGINT"
        return f"CASE WHEN {parsed} = round({parsed}) THEN TRY_CAST({parsed} AS {sql_type}) END"
    if column.decimal_precision:
        precision, scale = column.decimal_precision
        return f"TRY_CAST(round({parsed}, {scale}) AS DECIMAL({precision}, {scale}))"
    return parsed


# --------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class Check:
    """One way a row can fail, in the order ``parse.parse`` tries them (first one wins)."""

    column: Column
    required: bool  # True: the value is missing; False: it did not parse

    def sql(self, index: int) -> str:
        """A WHEN branch; only rows with a NULL among the checked values get this far."""
        name, raw = _ident(self.column.name), _ident("r_" + self.column.name)
        if _is_text(self.column):  # trimmed text is NULL exactly when blank
            return f"WHEN {name} IS NULL THEN {index}"
        blank = blank_sql(raw)
        return f"WHEN {name} IS NULL AND {'' if self.required else 'NOT '}{blank} THEN {index}"

    def rule(self, contract: Contract) -> str:
        return f"required.{self.column.name}" if self.required else _failure(self.column, contract)[0]

    def reason(self, contract: Contract, delivered: pl.Expr) -> pl.Expr:
        """``parse.parse``'s wording; ``delivered`` is the row's text for this column."""
        name = self.column.name
        if self.required:
            kind = "missing_key" if name in contract.primary_key else "missing_value"
            return pl.lit(f"{kind}: {name} is empty")
        kind = _failure(self.column, contract)[1]
        quoted = delivered.fill_null("").str.slice(0, 60).map_elements(_quote, return_dtype=pl.String)
        return pl.lit(f"{kind}: {name}=") + quoted + pl.lit(f" is not a valid {self.column.type}")


def checks(contract: Contract) -> list[Check]:
    found = []
    for column in contract.columns:
        if not _is_text(column):  # text always "parses" as text
            found.append(Check(column, required=False))
        if not column.nullable:
            found.append(Check(column, required=True))
    return found


def fail_sql(contract: Contract) -> str:
    """Index into ``checks(contract)`` of the first failed check, NULL for a good row. Every
    failure leaves a typed value NULL, so the branches only run where one is NULL."""
    ordered = checks(contract)
    if not ordered:
        return "NULL::INTEGER"
    present = " AND ".join(f"{name} IS NOT NULL" for name in sorted({_ident(c.column.name) for c in ordered}))
    branches = " ".join(check.sql(i) for i, check in enumerate(ordered))
    return f"CASE WHEN {present} THEN NULL ELSE CASE {branches} END END"


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Delivery:
    """The CSV DuckDB reads: UTF-8 or Latin-1 text, and whether its text needs NFC."""

    path: Path
    encoding: str  # a DuckDB read_csv encoding
    nfc: bool  # text values must go through nfc_normalize (decomposed marks present)


def _has_combining_marks(path: Path) -> bool:
    """Whether UTF-8 ``path`` holds a code point in U+0300-U+037F (lead byte 0xCC/0xCD):
    combining diacritics, how decomposed (NFD) Vietnamese arrives. ``nfc_normalize`` costs
    ~10x a plain read per value, so it only runs for such files; a memchr over the file
    takes ~0.1 s for 500 MB."""
    if path.stat().st_size == 0:
        return False
    with open(path, "rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as data:
        return data.find(b"\xcc") >= 0 or data.find(b"\xcd") >= 0


def _transcode(path: Path, encoding: str, target: Path) -> None:
    """Stream ``path`` into NFC UTF-8 as ``files.decode`` decodes a delivery: NFC per block
    of whole lines (a newline never sits inside a combining sequence), and a cp1258 file
    that is really UTF-8 refused rather than loaded as mojibake (checked over all bytes,
    even after the legacy decoding failed, so the message names the real problem)."""
    guarded = codecs.lookup(encoding).name in _MOJIBAKE_GUARDED
    decoder = codecs.getincrementaldecoder(encoding)()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    is_utf8, non_ascii, carry, error = True, False, "", None
    with open(path, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
        while block := src.read(_TRANSCODE_CHUNK):
            is_utf8 = is_utf8 and _decodes(utf8, block)
            non_ascii = non_ascii or not block.isascii()
            if error is not None:
                continue
            try:
                text = carry + decoder.decode(block)
            except UnicodeDecodeError as exc:
                error = exc
                continue
            cut = text.rfind("\n") + 1
            dst.write(unicodedata.normalize("NFC", text[:cut]))
            carry = text[cut:]
        if error is None:
            try:
                dst.write(unicodedata.normalize("NFC", carry + decoder.decode(b"", final=True)))
            except UnicodeDecodeError as exc:
                error = exc
    if guarded and non_ascii and is_utf8 and _decodes(utf8, b"", final=True):
        raise FileRejected(f"file is UTF-8 but the contract declares {encoding}")
    if error is not None:
        raise FileRejected(f"file is not valid {encoding}: {error}")


def _decodes(decoder: codecs.IncrementalDecoder, block: bytes, final: bool = False) -> bool:
    try:
        decoder.decode(block, final)
    except UnicodeDecodeError:
        return False
    return True


@contextmanager
def readable_csv(path: Path, encoding: str) -> Iterator[Delivery]:
    """The delivery as DuckDB can read it. UTF-8 (BOM or not) and Latin-1 are read in
    place; UTF-16 and code pages such as cp1258 are first streamed into a temporary NFC
    UTF-8 copy (one extra pass, bounded memory, never a wrong character)."""
    name = codecs.lookup(encoding).name
    if name in _DUCKDB_ENCODINGS:
        native = _DUCKDB_ENCODINGS[name]
        yield Delivery(path, native, nfc=native == "utf-8" and _has_combining_marks(path))
        return
    with tempfile.TemporaryDirectory(prefix="ioc-bulk-") as scratch:
        copy = Path(scratch) / "delivery.csv"
        _transcode(path, encoding, copy)
        yield Delivery(copy, "utf-8", nfc=False)


def read_csv_sql(delivery: Delivery, contract: Contract) -> str:
    """Every field as text, exactly as delivered. ``skip`` is always given (the contract's
    ``header_row`` - 1) so the sniffer never takes first rows for a preamble and drops them."""
    options = contract.source.options
    delimiter = str(options.get("delimiter", ","))
    skip = int(options.get("header_row", 1)) - 1
    return (
        f"read_csv({_lit(str(delivery.path))}, delim={_lit(delimiter)}, header=true, skip={skip}, "
        f"all_varchar=true, quote='\"', escape='\"', encoding={_lit(delivery.encoding)})"
    )


def delivered_headers(con: duckdb.DuckDBPyConnection, reader: str, name: str) -> list[str]:
    try:
        return [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]
    except _UNREADABLE as exc:
        raise FileRejected(f"{name} cannot be read as CSV: {exc}") from exc


def header_sources(headers: list[str], contract: Contract) -> dict[str, str | None]:
    """Contract column -> delivered header (None: a derived column the file lacks), decided
    by ``parse.map_headers`` itself, fed one row holding the headers as values, so both
    paths accept and reject the same files."""
    mapped = map_headers(pl.DataFrame({h: [h] for h in headers}, schema={h: pl.String for h in headers}), contract)
    return {c.name: mapped[c.name][0] for c in contract.columns}


def define_views(con: duckdb.DuckDBPyConnection, contract: Contract, reader: str,
                 sources: dict[str, str | None], options: ParseOptions, *, nfc: bool) -> None:
    """View ``checked``: delivered text ``r_<col>``, typed ``<col>`` and ``_fail``.

    One view per step so each expression runs once per row: DuckDB's common-subexpression
    pass does not share work inside CASE branches, and its COALESCE evaluates every
    argument for every row, so "quick, else thorough" is a CASE over a computed column."""
    raw = {c.name: _ident("r_" + c.name) for c in contract.columns}
    quick = {c.name: _ident("q_" + c.name) for c in contract.columns}
    parsed = {c.name: _ident("p_" + c.name) for c in contract.columns}
    others = [c for c in contract.columns if not _is_text(c)]
    texts = [raw[c.name] for c in contract.columns if _is_text(c)]

    def delivered(column: Column) -> str:
        source = sources[column.name]
        if source is None:
            return "NULL::VARCHAR"
        return f"nfc_normalize({_ident(source)})" if nfc and _is_text(column) else _ident(source)

    columns = ", ".join(f"{delivered(c)} AS {raw[c.name]}" for c in contract.columns)
    con.execute(f"CREATE OR REPLACE TEMP VIEW delivered AS SELECT {columns} FROM {reader}")
    first = [f"{parse_sql(c, raw[c.name], options, thorough=False)} AS {quick[c.name]}" for c in others]
    first.append(f"{edge_whitespace_sql(texts) if texts else 'false'} AS _edge_ws")
    con.execute(f"CREATE OR REPLACE TEMP VIEW quick AS SELECT *, {', '.join(first)} FROM delivered")
    second = [
        f"CASE WHEN {quick[c.name]} IS NOT NULL THEN {quick[c.name]} "
        f"ELSE {parse_sql(c, raw[c.name], options, thorough=True)} END AS {parsed[c.name]}"
        for c in others
    ]
    con.execute(f"CREATE OR REPLACE TEMP VIEW parsed AS SELECT {', '.join(['*', *second])} FROM quick")
    typed = ", ".join(
        f"{typed_sql(c, raw[c.name], parsed[c.name], '_edge_ws')} AS {_ident(c.name)}"
        for c in contract.columns
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW typed AS SELECT *, {typed} FROM parsed")
    con.execute(f"CREATE OR REPLACE TEMP VIEW checked AS SELECT *, {fail_sql(contract)} AS _fail FROM typed")


# --------------------------------------------------------------------------- staging


@dataclass(frozen=True)
class Staged:
    """The delivery converted once: table ``staged`` (typed columns and ``_fail``)."""

    rows_in: int
    failures: pa.Table  # _row_number, _fail, then the delivered text of each contract column


def stage(con: duckdb.DuckDBPyConnection, contract: Contract) -> Staged:
    """Convert the whole delivery into temp table ``staged``, keeping the delivered text
    only for failing rows. The insert keeps file order, so ``rowid + 1`` is the data row."""
    typed = ", ".join(_ident(c.name) for c in contract.columns)
    raw = ", ".join(_ident("r_" + c.name) for c in contract.columns)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE staged AS SELECT {typed}, _fail, "
        f"CASE WHEN _fail IS NOT NULL THEN [{raw}] END AS _raw FROM checked"
    )
    rows_in = con.execute("SELECT count(*) FROM staged").fetchone()[0]
    delivered = ", ".join(f"_raw[{i + 1}] AS {_ident(c.name)}" for i, c in enumerate(contract.columns))
    failures = con.execute(
        f"SELECT rowid + 1 AS {ROW_NUMBER}, _fail, {delivered} FROM staged "
        f"WHERE _fail IS NOT NULL ORDER BY rowid"
    ).fetch_arrow_table()
    return Staged(rows_in, failures)


def rejected_rows(failures: pa.Table, contract: Contract) -> pl.DataFrame:
    """``_row_number``, ``_rule``, ``_reason``, ``_raw`` as ``parse.parse`` words them. Only
    failing rows reach Python; ``_raw`` is encoded by the same Polars expression."""
    frame = pl.from_arrow(failures)
    assert isinstance(frame, pl.DataFrame)
    names = [c.name for c in contract.columns]
    frame = frame.with_columns(pl.col(names).cast(pl.String).str.normalize("NFC"))
    ordered = checks(contract)
    fail = pl.col("_fail")
    rule = pl.coalesce(
        pl.lit(None, pl.String),
        *(pl.when(fail == i).then(pl.lit(check.rule(contract))) for i, check in enumerate(ordered)),
    )
    reason = pl.coalesce(
        pl.lit(None, pl.String),
        *(pl.when(fail == i).then(check.reason(contract, pl.col(check.column.name)))
          for i, check in enumerate(ordered)),
    )
    return frame.select(
        pl.col(ROW_NUMBER).cast(pl.Int64),
        rule.cast(pl.String).alias("_rule"),
        reason.cast(pl.String).alias("_reason"),
        pl.struct(names).struct.json_encode().alias("_raw"),
    )


# --------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class WrittenFile:
    path: Path
    rows: int
    size: int
    column_statistics: dict[str, dict[str, str]]
    partition_values: dict[str, str | None]


def copy_good_rows(con: duckdb.DuckDBPyConnection, contract: Contract, folder: Path, *,
                   batch_id: str, source: str, ingested_at: datetime) -> list[WrittenFile]:
    """``COPY`` the good rows plus lineage as Parquet into ``folder``: one file per thread
    (no ordering barrier) or per partition. DuckDB returns each file's row count, size and
    column statistics, so nothing is read back for the add actions."""
    columns = ", ".join(_ident(c.name) for c in contract.columns)
    stamp = ingested_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00:00")
    lineage = (
        f"{_lit(batch_id)} AS _batch_id, TIMESTAMPTZ {_lit(stamp)} AS _ingested_at, "
        f"{_lit(source)} AS _source"
    )
    layout = (
        f"PARTITION_BY ({', '.join(_ident(p) for p in contract.partition_by)})"
        if contract.partition_by else "PER_THREAD_OUTPUT true"
    )
    rows = con.execute(
        f"COPY (SELECT {columns}, {lineage} FROM staged WHERE _fail IS NULL) TO {_lit(str(folder))} "
        f"(FORMAT parquet, {layout}, FILENAME_PATTERN 'part-{{uuid}}', RETURN_STATS true)"
    ).fetchall()
    written = []
    for filename, count, size, _footer, statistics, partitions in rows:
        path = Path(filename).absolute()
        if count == 0:  # an idle thread's empty file: nothing to add
            path.unlink(missing_ok=True)
            continue
        written.append(WrittenFile(path, int(count), int(size), dict(statistics or {}), dict(partitions or {})))
    return written


def check_parquet_schema(files: Sequence[WrittenFile], expected: pa.Schema) -> None:
    """delta-rs commits add actions without opening the files: make sure what DuckDB wrote
    is what the table declares (int32 vs int64, timestamp unit and zone, decimal precision)."""
    want = [(f.name, f.type) for f in expected]
    for file in files[:1]:  # one COPY, one schema
        have = [(f.name, f.type) for f in pq.read_schema(file.path)]
        if have != want:
            raise TypeError(f"DuckDB wrote {have}, the table needs {want}")


# --------------------------------------------------------------------------- add actions


def _unquote(name: str) -> str:
    return name[1:-1].replace('""', '"') if name.startswith('"') and name.endswith('"') else name


def _timestamp_stat(text: str, upper: bool) -> str:
    """Delta keeps millisecond timestamp stats: floor the minimum, ceil the maximum, so the
    bounds still hold for microsecond data."""
    value = datetime.fromisoformat(re.sub(r"([+-]\d\d)$", r"\1:00", text)).astimezone(UTC)
    bound = value.replace(microsecond=value.microsecond // 1000 * 1000)
    if upper and bound != value:
        bound += timedelta(milliseconds=1)
    return bound.strftime("%Y-%m-%dT%H:%M:%S.") + f"{bound.microsecond // 1000:03d}Z"


def _stat_value(text: str, dtype: pa.DataType, upper: bool) -> object | None:
    """DuckDB's statistic text -> the JSON value Delta expects; None where no exact bound
    can be given (decimals, non-finite doubles): a wrong bound would skip live files."""
    if pa.types.is_integer(dtype):
        return int(text)
    if pa.types.is_floating(dtype):
        value = float(text)
        return value if math.isfinite(value) else None
    if pa.types.is_boolean(dtype):
        return text.lower() == "true"
    if pa.types.is_date(dtype):
        return date.fromisoformat(text).isoformat()
    if pa.types.is_timestamp(dtype):
        return _timestamp_stat(text, upper)
    if pa.types.is_string(dtype):
        return text
    return None


def delta_stats(file: WrittenFile, schema: pa.Schema) -> str:
    """numRecords, nullCount and min/max, in the form delta-rs writes them, from the
    statistics DuckDB returned while writing."""
    types = {f.name: f.type for f in list(schema)[:_STATS_COLUMNS]}
    mins, maxs, nulls = {}, {}, {}
    for quoted, stats in file.column_statistics.items():
        name = _unquote(quoted)
        if name not in types:
            continue
        if "null_count" in stats:
            nulls[name] = int(stats["null_count"])
        if "min" in stats and "max" in stats:
            low = _stat_value(stats["min"], types[name], upper=False)
            high = _stat_value(stats["max"], types[name], upper=True)
            if low is not None and high is not None:
                mins[name], maxs[name] = low, high
    return json.dumps(
        {"numRecords": file.rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls},
        ensure_ascii=False, separators=(",", ":"),
    )


def add_actions(files: Sequence[WrittenFile], table_dir: Path, schema: pa.Schema) -> list[AddAction]:
    """Paths are relative to the table and URI-encoded (hive folders may hold ``%``)."""
    return [
        AddAction(
            path=quote(file.path.relative_to(table_dir).as_posix(), safe="/="),
            size=file.size,
            partition_values=file.partition_values,
            modification_time=int(file.path.stat().st_mtime * 1000),
            data_change=True,
            stats=delta_stats(file, schema),
        )
        for file in files
    ]


def commit_files(uri: str, actions: list[AddAction], *, contract: Contract, batch_id: str,
                 storage: dict[str, str] | None) -> None:
    """One Delta commit adding ``actions`` with the batch's app transaction (``delta``'s own
    commit properties, so ``delta.append`` and this path see each other's batches). delta-rs
    does not compare ``schema`` with an existing table's, so that is checked here."""
    schema = contract_schema(contract)
    properties = delta._commit(batch_id, "bulk_csv")
    partition_by = contract.partition_by or None
    table = delta.try_open(uri, storage)
    if table is None:
        create_table_with_add_actions(
            uri, Schema.from_arrow(schema), actions, mode="error", partition_by=partition_by,
            storage_options=storage, commit_properties=properties,
        )
        return
    if table.schema().to_json() != Schema.from_arrow(schema).to_json():
        raise TypeError(f"{uri} has schema {table.schema()}, the contract gives {schema}")
    if list(table.metadata().partition_columns) != list(contract.partition_by):
        raise TypeError(f"{uri} is partitioned by {table.metadata().partition_columns}, not {contract.partition_by}")
    table.create_write_transaction(
        actions, mode="append", schema=schema, partition_by=partition_by, commit_properties=properties,
    )


def write_and_commit(con: duckdb.DuckDBPyConnection, contract: Contract, uri: str, *, batch_id: str,
                     source: str, ingested_at: datetime, expected_rows: int,
                     storage: dict[str, str] | None) -> int:
    """Write the good rows into a fresh folder inside the table and commit them. On any
    failure before the commit lands, delete that folder (and the table folder if this call
    made it), so the table is exactly as before; vacuum would find nothing of ours."""
    table_dir = Path(uri.removeprefix("file://"))
    made_table_dir = not table_dir.exists()
    folder = table_dir / f"bulk-{uuid.uuid4().hex}"  # not "_..."/"." : vacuum must see orphans
    table_dir.mkdir(parents=True, exist_ok=True)
    try:
        files = copy_good_rows(con, contract, folder, batch_id=batch_id, source=source, ingested_at=ingested_at)
        if not files:  # nothing good to add: the commit still records the batch
            shutil.rmtree(folder, ignore_errors=True)
        written = sum(f.rows for f in files)
        if written != expected_rows:
            raise RuntimeError(f"wrote {written} bronze rows, expected {expected_rows}: rows in != bronze + quarantine")
        schema = contract_schema(contract)
        check_parquet_schema(files, pa.schema([f for f in schema if f.name not in contract.partition_by]))
        commit_files(uri, add_actions(files, table_dir, schema), contract=contract, batch_id=batch_id,
                     storage=storage)
        return written
    except BaseException:
        # A post-commit hook (checkpoint, log cleanup) can raise after the commit landed:
        # then the files are live and must stay.
        if not delta.batch_committed(uri, batch_id, storage):
            shutil.rmtree(folder, ignore_errors=True)
            if made_table_dir and not any(table_dir.iterdir()):
                table_dir.rmdir()
        raise


# --------------------------------------------------------------------------- entry point


def _session(threads: int | None, timezone: str, scratch: str) -> duckdb.DuckDBPyConnection:
    """A plain DuckDB: parquet, json and ICU are built in, while ``duck.connect()`` also
    loads delta and spatial (~0.5 s, unused here). TimeZone is the contract's local zone."""
    con = duckdb.connect(":memory:")
    con.execute(f"SET TimeZone = {_lit(timezone)}")
    con.execute(f"SET temp_directory = {_lit(scratch)}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _check_supported(contract: Contract, settings: Settings) -> None:
    if not settings.is_local_lake:
        raise ValueError("bulk CSV ingest writes Parquet into the table folder: local lakes only")
    for name in contract.partition_by:
        if contract.column(name).type not in _PARTITION_TYPES:
            raise ValueError(f"{contract.name}: cannot partition a bulk ingest by {name} ({contract.column(name).type})")


def ingest_csv_bulk(
    contract: Contract,
    path: str | os.PathLike[str],
    *,
    batch_id: str,
    source: str | None = None,
    settings: Settings | None = None,
    threads: int | None = None,
) -> LandResult:
    """Land one (large) CSV delivery: rejects to quarantine, good rows to bronze, once.

    ``source`` is the lineage value stored in ``_source`` (default: the file name);
    ``threads`` caps DuckDB's parallelism (default: all cores). Raises ``FileRejected`` when
    the file as a whole cannot be read against the contract; nothing is written then.
    """
    settings = settings or get_settings()
    _check_supported(contract, settings)
    path = Path(path)
    storage = storage_options(settings)
    bronze_uri = table_uri(Tier.bronze, contract.name, settings)
    if delta.batch_committed(bronze_uri, batch_id, storage):
        log.info("batch %s already in %s: skipped", batch_id, bronze_uri)
        return LandResult(contract.name, batch_id, 0, 0, skipped=True)
    source = source or path.name
    ingested_at = datetime.now(UTC)
    options = ParseOptions.from_contract(contract, timezone=settings.timezone)
    encoding = str(contract.source.options.get("encoding", "utf-8-sig"))
    with (tempfile.TemporaryDirectory(prefix="ioc-bulk-") as scratch,
          readable_csv(path, encoding) as delivery):
        con = _session(threads, settings.timezone, scratch)
        try:
            reader = read_csv_sql(delivery, contract)
            sources = header_sources(delivered_headers(con, reader, path.name), contract)
            define_views(con, contract, reader, sources, options, nfc=delivery.nfc)
            try:
                staged = stage(con, contract)
            except _UNREADABLE as exc:
                raise FileRejected(f"{path.name} cannot be read as {encoding} CSV: {exc}") from exc
            rejected = rejected_rows(staged.failures, contract)
            append_quarantine(
                contract, rejected, stage="parse", batch_id=batch_id, source=source,
                ingested_at=ingested_at, settings=settings,
            )
            bronze_rows = write_and_commit(
                con, contract, bronze_uri, batch_id=batch_id, source=source, ingested_at=ingested_at,
                expected_rows=staged.rows_in - rejected.height, storage=storage,
            )
        finally:
            con.close()
    log.info("%s batch %s: %d rows to bronze, %d to quarantine", contract.name, batch_id,
             bronze_rows, rejected.height)
    return LandResult(contract.name, batch_id, bronze_rows, rejected.height, skipped=False)
