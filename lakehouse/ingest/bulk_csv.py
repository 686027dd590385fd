"""Fast path for very large CSV deliveries: Parquet written straight into the bronze Delta table's
folder, delta-rs only *commits* the files, with exactly the Polars path's rows and reasons.

The Polars path (``parse.parse`` + ``bronze.land``) cleans every value with ``strip_chars``
and a regex before typing it, then hands the frame to delta-rs to encode. Here the same Polars
CSV reader loads the delivery as text (in parallel, rows numbered), and each row is either:

* **fast**: ``bulk_native`` is certain of every value, exactly as ``parse.typed_expr`` makes
  it, and the required ones are there: such rows are written as one Parquet file; or
* **slow**: a value is missing, malformed or merely unusual ("1 234", "12,0" rooms, an NBSP
  around a number): ``parse.parse`` itself decides. Rows it types are *rescued* (one more
  Parquet file, same commit), the others go to quarantine in its own ``_rule`` / ``_reason``
  / ``_raw`` words.

So every accepted value and every quarantine reason is the Polars path's by construction; the
fast values only have to be exact where they are sure. ``parse`` and the quarantine append
(mostly Python) run in a second thread while Polars writes the fast rows. Headers are matched by
``parse.map_headers`` (same ``FileRejected``), rows are numbered as ``files.ingest_file``
numbers them, text is NFC. Quarantine is appended first (``append_quarantine``, batch
``<batch_id>:parse``), then bronze with the batch's Delta app transaction: re-running after a
crash repairs the batch, re-running after success is a no-op, and ``rows in = bronze +
quarantine`` is checked before the commit. If anything fails after Parquet files are written
and before the commit lands, the folder this call wrote is deleted, so the table stays at its
previous version with no new files.

Measured on the 2-core dev box (5M-row hotel_occupancy CSV, 463 MB, 0.4% bad rows; phase
timings in ``benchmarks/README.md``): 1.0-1.2x DuckDB's plain CSV -> Parquet copy, from 2.1x
for the previous design (DuckDB typing every value in SQL into an ordered temp table, whose
``rowid`` gave the row numbers). Memory: the delivery is held as Polars text, ~3.5x the file.
DuckDB is no longer involved: its typed CSV reader is not exact (see ``bulk_native``), it
cannot number the rows of a parallel scan (ordered temp table: +0.7 s here; ``row_number()
OVER ()`` serialises the scan), its scan of a Python-side Arrow table imports pandas (+0.7 s
on a worker's first file), and Polars writes the same Parquet in a third of the time.
"""

from __future__ import annotations

import codecs
import logging
import mmap
import os
import shutil
import tempfile
import time
import unicodedata
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow as pa
from deltalake import Schema
from deltalake.transaction import AddAction, create_table_with_add_actions

from lakehouse.contracts import Contract
from lakehouse.ingest.bronze import LandResult, append_quarantine
from lakehouse.ingest.bulk_native import (
    SETTLED,
    Lineage,
    add_actions,
    check_parquet_schema,
    fast_values,
    typed,
    write_parquet,
)
from lakehouse.ingest.parse import (
    ROW_NUMBER,
    FileRejected,
    ParseOptions,
    ParseResult,
    map_headers,
    parse,
)
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.lake.schema import contract_schema
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

_UTF8 = {"utf-8", "utf-8-sig"}  # codec names Polars reads in place (a BOM is skipped)
_MOJIBAKE_GUARDED = {"cp1258"}  # as files.decode: legacy pages that decode any UTF-8 bytes
_TRANSCODE_CHUNK = 1 << 24  # bytes per read while transcoding: bounded memory
_SLOW_BATCH = 500_000  # slow rows handed to parse.parse at a time

# Partition values are stored as text in the Delta log; these types have one exact spelling.
_PARTITION_TYPES = ("string", "int", "bigint", "date", "boolean")


@contextmanager
def phase(name: str, detail: str = "", *, alongside: bool = False) -> Iterator[None]:
    """Time one step; ``benchmarks/ingest.py --verbose`` prints these DEBUG records.
    ``alongside``: the step runs in a second thread, overlapping the others."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - start
        log.debug("%s%s%s: %.3f s", name, f" ({detail})" if detail else "", " [alongside]" if alongside else "",
                  seconds, extra={"bulk_phase": (name, seconds, alongside)})


# --------------------------------------------------------------------------- reading


def _has_combining_marks(path: Path) -> bool:
    """Whether UTF-8 ``path`` holds a code point in U+0300-U+037F (lead byte 0xCC/0xCD):
    combining diacritics, how decomposed (NFD) Vietnamese arrives. NFC costs a pass over
    every value, so it only runs for such files; a memchr over 500 MB takes ~0.05 s."""
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
def readable_csv(path: Path, encoding: str) -> Iterator[tuple[Path, bool]]:
    """The delivery as UTF-8 and whether its text still needs NFC. UTF-8 (BOM or not) is
    read in place; other encodings are first streamed into a temporary NFC UTF-8 copy (one
    extra pass, bounded memory, never a wrong character)."""
    if codecs.lookup(encoding).name in _UTF8:
        with phase("scan for decomposed text"):
            nfc = _has_combining_marks(path)
        yield path, nfc
        return
    with tempfile.TemporaryDirectory(prefix="ioc-bulk-") as scratch:
        copy = Path(scratch) / "delivery.csv"
        with phase("transcode to UTF-8"):
            _transcode(path, encoding, copy)
        yield copy, False


@dataclass(frozen=True)
class Delivery:
    """``_row_number`` and every contract column as delivered text, named after the contract,
    and the header each came under (None: a derived column the file lacks, NULL here)."""

    frame: pl.DataFrame
    headers: dict[str, str | None]

    def as_delivered(self, rows: pl.DataFrame) -> pl.DataFrame:
        """Some of ``frame``'s rows under their delivered headers: what ``parse.parse`` gets
        on the Polars path."""
        return rows.select(ROW_NUMBER, *(pl.col(c).alias(h) for c, h in self.headers.items() if h is not None))


def read_delivery(path: Path, contract: Contract, *, nfc: bool, name: str) -> Delivery:
    """Polars' CSV reader with the options ``files.read_sheets`` gives it, all text, rows
    numbered from 1; headers matched by ``parse.map_headers`` itself (same ``FileRejected``)."""
    options = contract.source.options
    try:
        frame = pl.read_csv(
            path, separator=str(options.get("delimiter", ",")), infer_schema=False,
            skip_rows=int(options.get("header_row", 1)) - 1,
            row_index_name=ROW_NUMBER, row_index_offset=1,
        )
    except pl.exceptions.PolarsError as exc:
        raise FileRejected(f"{name} cannot be read as CSV: {exc}") from exc
    delivered = [h for h in frame.columns if h != ROW_NUMBER]
    mapped = map_headers(pl.DataFrame([delivered], schema={h: pl.String for h in delivered}, orient="row"), contract)
    headers = {c.name: mapped[c.name][0] for c in contract.columns}
    frame = frame.select(ROW_NUMBER, *(
        pl.col(h).alias(c) if h is not None else pl.lit(None, pl.String).alias(c) for c, h in headers.items()
    ))
    if nfc:  # files.decode normalises the whole text
        frame = frame.with_columns(pl.col(c).str.normalize("NFC") for c in headers)
    return Delivery(frame, headers)


# --------------------------------------------------------------------------- slow rows


def settle_slow_rows(delivery: Delivery, rows: pl.DataFrame, contract: Contract,
                     options: ParseOptions) -> ParseResult:
    """``parse.parse`` on the rows the fast path was not sure of: the typed rows it accepts
    and its rejects, word for word, a batch of rows at a time."""
    results = [parse(delivery.as_delivered(rows.slice(start, _SLOW_BATCH)), contract, options)
               for start in range(0, rows.height, _SLOW_BATCH)] or [parse(delivery.as_delivered(rows), contract, options)]
    return ParseResult(pl.concat(r.parsed for r in results), pl.concat(r.rejected for r in results))


# --------------------------------------------------------------------------- committing


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


@contextmanager
def table_folder(uri: str, batch_id: str, storage: dict[str, str] | None) -> Iterator[Path]:
    """A fresh folder inside the table for this call's files. On any failure before the
    commit lands, delete it (and the table folder if this call made it), so the table is
    exactly as before; vacuum would find nothing of ours."""
    table_dir = Path(uri.removeprefix("file://"))
    made_table_dir = not table_dir.exists()
    folder = table_dir / f"bulk-{uuid.uuid4().hex}"  # not "_..."/"." : vacuum must see orphans
    table_dir.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    except BaseException:
        # A post-commit hook (checkpoint, log cleanup) can raise after the commit landed:
        # then the files are live and must stay.
        if not delta.batch_committed(uri, batch_id, storage):
            shutil.rmtree(folder, ignore_errors=True)
            if made_table_dir and not any(table_dir.iterdir()):
                table_dir.rmdir()
        raise


# --------------------------------------------------------------------------- entry point


def _check_supported(contract: Contract, settings: Settings) -> None:
    if not settings.is_local_lake:
        raise ValueError("bulk CSV ingest writes Parquet into the table folder: local lakes only")
    for name in contract.partition_by:
        if contract.column(name).type not in _PARTITION_TYPES:
            raise ValueError(f"{contract.name}: cannot partition a bulk ingest by {name} ({contract.column(name).type})")


def _quarantine_slow_rows(delivery: Delivery, slow: pl.DataFrame, contract: Contract, options: ParseOptions,
                          lineage: Lineage, settings: Settings) -> ParseResult:
    """``parse.parse`` on the slow rows, then its rejects to quarantine. Mostly Python (the
    reasons), so it runs in a second thread while Polars writes the fast rows."""
    with phase("slow rows: parse.parse", f"{slow.height} rows", alongside=True):
        settled = settle_slow_rows(delivery, slow, contract, options)
    with phase("quarantine: append", f"{settled.rejected.height} rows", alongside=True):
        append_quarantine(contract, settled.rejected, stage="parse", batch_id=lineage.batch_id,
                          source=lineage.source, ingested_at=lineage.ingested_at, settings=settings)
    return settled


def _land(delivery: Delivery, contract: Contract, *, uri: str, lineage: Lineage,
          settings: Settings) -> tuple[int, int]:
    """Fast rows and (alongside) slow rows and quarantine, rescued rows, commit: (bronze
    rows, quarantined). Quarantine is committed before bronze, as ``bronze.land`` does."""
    storage = storage_options(settings)
    options = ParseOptions.from_contract(contract, timezone=settings.timezone)
    schema = contract_schema(contract)
    file_schema = pa.schema([f for f in schema if f.name not in contract.partition_by])
    with table_folder(uri, lineage.batch_id, storage) as folder:
        with phase("fast values: typed where certain"):
            frame = fast_values(delivery.frame, contract, options)
        with ThreadPoolExecutor(max_workers=1) as pool:
            slow = frame.filter(~pl.col(SETTLED))
            settling = pool.submit(_quarantine_slow_rows, delivery, slow, contract, options, lineage, settings)
            with phase("fast rows: write Parquet"):
                output = [pl.col(typed(c.name)).alias(c.name) for c in contract.columns]
                files = write_parquet(frame.lazy().filter(SETTLED).select(*output, *lineage.columns()),
                                      folder, contract)
                check_parquet_schema(files, file_schema)
            with phase("wait for slow rows"):
                settled = settling.result()
        if settled.parsed.height:
            with phase("rescued rows: write", f"{settled.parsed.height} rows"):
                rescued = settled.parsed.lazy().select(*(c.name for c in contract.columns), *lineage.columns())
                more = write_parquet(rescued, folder, contract)
                check_parquet_schema(more, file_schema)
                files += more
        written, rows_in = sum(f.rows for f in files), delivery.frame.height
        if written + settled.rejected.height != rows_in:
            raise RuntimeError(f"{rows_in} rows in, {written} to bronze, {settled.rejected.height} to quarantine")
        if not files:  # nothing to add: the commit still records the batch
            shutil.rmtree(folder, ignore_errors=True)
        with phase("commit", f"{len(files)} files"):
            actions = add_actions(files, Path(uri.removeprefix("file://")), schema)
            commit_files(uri, actions, contract=contract, batch_id=lineage.batch_id, storage=storage)
    return written, settled.rejected.height


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
    ``threads`` is accepted for compatibility and ignored: Polars runs on its own thread
    pool (``POLARS_MAX_THREADS``, fixed when Polars is first imported). Raises
    ``FileRejected`` when the file as a whole cannot be read against the contract; nothing
    is written then.
    """
    settings = settings or get_settings()
    _check_supported(contract, settings)
    path = Path(path)
    bronze_uri = table_uri(Tier.bronze, contract.name, settings)
    if delta.batch_committed(bronze_uri, batch_id, storage_options(settings)):
        log.info("batch %s already in %s: skipped", batch_id, bronze_uri)
        return LandResult(contract.name, batch_id, 0, 0, skipped=True)
    encoding = str(contract.source.options.get("encoding", "utf-8-sig"))
    with readable_csv(path, encoding) as (csv_path, nfc), phase("read: Polars CSV reader, all text"):
        delivery = read_delivery(csv_path, contract, nfc=nfc, name=path.name)
    lineage = Lineage(batch_id, source or path.name, datetime.now(UTC))
    bronze_rows, quarantined = _land(delivery, contract, uri=bronze_uri, lineage=lineage, settings=settings)
    log.info("%s batch %s: %d rows to bronze, %d to quarantine", contract.name, batch_id,
             bronze_rows, quarantined)
    return LandResult(contract.name, batch_id, bronze_rows, quarantined, skipped=False)
