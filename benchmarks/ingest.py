"""Benchmark the bulk CSV ingest against DuckDB's plain CSV -> Parquet copy.

    python benchmarks/ingest.py [--rows 5000000] [--dataset hotel_occupancy] [--repeat 3] [--keep] [--verbose]

1. Writes a department-style CSV for a catalog contract with DuckDB, deterministically (every
   value is a function of the row index): delivered headers (``source_name``), the
   contract's delimiter, date formats and decimal commas, values inside the columns' checks,
   and ~0.4% bad rows (impossible dates, fractional counts, text in numbers, missing keys).
2. Times, alternately and ``--repeat`` times each: (a) the reference
   ``COPY (FROM read_csv(file)) TO 'ref.parquet' (FORMAT parquet)`` and (b)
   ``ingest_csv_bulk`` into a fresh lake. Prints best and median seconds, rows/s, the ratio
   (b)/(a), the bronze and quarantine counts read back through ``delta_scan`` (they must add
   up to the rows written, and every quarantined row number must be a row the generator
   broke) and the process's peak RSS. ``--verbose`` adds (b)'s phases, run by run (NFC scan,
   CSV read, fast values, fast Parquet, slow rows through ``parse.parse``, quarantine,
   rescued rows, commit), from the DEBUG records ``ingest_csv_bulk`` logs.

The reference does less: no header mapping, no contract typing, no quarantine, no commit.
The ratio is what the contract's semantics cost on top of the raw copy.
"""

from __future__ import annotations

import argparse
import codecs
import logging
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lakehouse.contracts import Column, Contract, load_catalog
from lakehouse.ingest.bulk_csv import ingest_csv_bulk
from lakehouse.ingest.parse import _FALSE, _TRUE
from lakehouse.lake import duck
from lakehouse.lake.paths import Tier, table_uri
from lakehouse.settings import REPO_ROOT, Settings

console = Console()
HASH = "((i * 2654435761) % 1000)"  # a fixed pseudo-random 0..999 for row index i
BROKEN = (1, 2, 3, 4)  # hash values whose rows the generator breaks
PLACES = ["Hạ Long", "Bãi Cháy", "Tuần Châu", "Móng Cái", "Cẩm Phả", "Vân Đồn", "Uông Bí"]


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# --------------------------------------------------------------------------- the delivery


def _bounds(column: Column, default: tuple[float, float]) -> tuple[float, float]:
    low = column.checks.min if column.checks.min is not None else default[0]
    high = column.checks.max if column.checks.max is not None else default[1]
    return low, high


def _number_text(value: str, decimal_comma: bool) -> str:
    """As a spreadsheet export writes it: grouped thousands, the locale's decimal mark."""
    text = f"format('{{:,.2f}}', {value})"
    return f"translate({text}, ',.', '.,')" if decimal_comma else f"replace({text}, ',', '')"


def _good_value(column: Column, contract: Contract, index: int, decimal_comma: bool) -> str:
    """SQL for a valid delivered value of ``column`` in row ``i``, driven by the contract:
    keys and patterned text are ASCII codes, other text is Vietnamese."""
    kind = column.type
    if kind == "date":
        return f"strftime(DATE '2024-01-01' + (i % 730)::INTEGER, {_lit(column.source_format or '%Y-%m-%d')})"
    if kind == "timestamp":
        fmt = column.source_format or "%Y-%m-%dT%H:%M:%S"
        return f"strftime(TIMESTAMP '2024-01-01' + to_minutes(i::BIGINT), {_lit(fmt)})"
    if kind in ("int", "bigint"):
        low, high = _bounds(column, (0, 500))
        return f"({int(low)} + (i * {index + 7}) % {int(high - low) + 1})::VARCHAR"
    if kind == "double" or column.decimal_precision:
        low, high = _bounds(column, (0, 5_000_000))
        return _number_text(f"({low} + ((i * {index + 7}) % 100000) / 100000.0 * {high - low})", decimal_comma)
    if kind == "boolean":
        return f"CASE WHEN i % 2 = 0 THEN {_lit(_TRUE[0])} ELSE {_lit(_FALSE[0])} END"
    if column.name in contract.primary_key or column.checks.pattern:
        return f"{_lit(column.name[:2].upper())} || lpad(((i * 7919) % 10000)::VARCHAR, 4, '0')"
    return f"{_lit(column.name)} || ' ' || {PLACES}[1 + i % {len(PLACES)}] || ' ' || (i % 997)"


def _bad_value(column: Column, decimal_comma: bool) -> str | None:
    """A value the contract must reject, or None where any text is acceptable."""
    if column.type in ("date", "timestamp"):
        return _lit("31/02/2025" if (column.source_format or "").startswith("%d/%m/%Y") else "2025-02-31")
    if column.type in ("int", "bigint"):
        return _lit("12,5" if decimal_comma else "12.5")  # a fractional count
    if column.type == "double" or column.decimal_precision:
        return _lit("n/a")
    if column.type == "boolean":
        return _lit("maybe")
    return None


def delivery_sql(contract: Contract, rows: int) -> str:
    """One SELECT producing the delivery with headers as the department names them.

    Row ``i`` with hash ``h`` breaks: h=1, 3, 4 the first three columns that can fail to
    parse (h=4 with plain text), h=2 the first required text column (left empty); 2% of each
    nullable column is empty, which is valid."""
    decimal_comma = bool(contract.source.options.get("decimal_comma", False))
    parseable = [c for c in contract.columns if _bad_value(c, decimal_comma) is not None]
    required_text = [c for c in contract.columns if not c.nullable and c.type in ("string", "json")]
    breakers: dict[str, list[tuple[int, str]]] = {}
    for h, column in zip((1, 3, 4), parseable, strict=False):
        bad = "'abc'" if h == 4 else _bad_value(column, decimal_comma)
        breakers.setdefault(column.name, []).append((h, bad))
    if required_text:
        breakers.setdefault(required_text[0].name, []).append((2, "NULL"))
    selects = []
    for index, column in enumerate(c for c in contract.columns if not c.derived):
        value = _good_value(column, contract, index, decimal_comma)
        cases = [f"WHEN {HASH} = {h} THEN {bad}" for h, bad in breakers.get(column.name, [])]
        if column.nullable:
            cases.append(f"WHEN (i * 40503) % 50 = {index} THEN NULL")
        if cases:
            value = f"CASE {' '.join(cases)} ELSE {value} END"
        selects.append(f"{value} AS {_ident(column.source_name or column.name)}")
    return f"SELECT {', '.join(selects)} FROM range({rows}) r(i)"


def write_delivery(contract: Contract, rows: int, path: Path) -> None:
    delimiter = str(contract.source.options.get("delimiter", ","))
    con = duckdb.connect()
    con.execute(
        f"COPY ({delivery_sql(contract, rows)}) TO {_lit(str(path))} "
        f"(FORMAT csv, HEADER true, DELIMITER {_lit(delimiter)})"
    )
    con.close()


# --------------------------------------------------------------------------- the runs


def reference(csv: Path, out: Path) -> float:
    con = duckdb.connect()
    start = time.perf_counter()
    con.execute(f"COPY (FROM read_csv({_lit(str(csv))})) TO {_lit(str(out))} (FORMAT parquet)")
    seconds = time.perf_counter() - start
    con.close()
    return seconds


class Phases(logging.Handler):
    """Collects the ``bulk_phase`` timings ``ingest_csv_bulk`` logs at DEBUG."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.phases: list[tuple[str, float, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "bulk_phase"):
            self.phases.append(record.bulk_phase)


def bulk(contract: Contract, csv: Path, lake: Path, batch_id: str, phases: Phases) -> float:
    phases.phases = []
    start = time.perf_counter()
    ingest_csv_bulk(contract, csv, batch_id=batch_id, settings=Settings(lake_root=str(lake)))
    return time.perf_counter() - start


def report_phases(runs: list[list[tuple[str, float, bool]]], totals: list[float]) -> None:
    """(b)'s phases, run by run. Phases marked "alongside" ran in a second thread while the
    others went on, so they are not part of the sum; "other" is the rest of the wall time
    (the batch check, the header mapping, temporary folders)."""
    table = Table(title="(b) ingest_csv_bulk phases, seconds per run")
    table.add_column("phase")
    for run in range(1, len(totals) + 1):
        table.add_column(f"run {run}", justify="right")
    names = list(dict.fromkeys((name, alongside) for run in runs for name, _, alongside in run))

    def seconds(run: list[tuple[str, float, bool]], name: str) -> float:
        return sum(s for n, s, _ in run if n == name)

    for name, alongside in names:
        table.add_row(f"  (alongside) {name}" if alongside else name, *(f"{seconds(run, name):.3f}" for run in runs))
    table.add_row("other", *(f"{total - sum(s for _, s, alongside in run if not alongside):.3f}"
                             for run, total in zip(runs, totals, strict=True)))
    table.add_row("total", *(f"{total:.3f}" for total in totals))
    console.print(table)


def landed(contract: Contract, lake: Path) -> tuple[int, int, int]:
    """(bronze rows, quarantine rows, quarantined row numbers the generator did not break),
    read back through DuckDB's delta_scan."""
    settings = Settings(lake_root=str(lake))
    bronze = _lit(table_uri(Tier.bronze, contract.name, settings))
    quarantine = _lit(table_uri(Tier.quarantine, contract.name, settings))
    con = duck.connect()
    counts = con.execute(
        f"SELECT (SELECT count(*) FROM delta_scan({bronze})), (SELECT count(*) FROM delta_scan({quarantine})), "
        f"(SELECT count(*) FROM (SELECT _row_number - 1 AS i FROM delta_scan({quarantine})) "
        f"WHERE {HASH} NOT IN {BROKEN})"
    ).fetchone()
    con.close()
    return counts


def report(contract: Contract, rows: int, megabytes: float, ref: list[float], ours: list[float],
           counts: tuple[int, int, int]) -> bool:
    table = Table(title=f"{contract.name}: {rows:,} rows, {megabytes:,.1f} MB CSV")
    for name in ("", "best s", "median s", "rows/s (best)", "MB/s (best)"):
        table.add_column(name, justify="right" if name else "left")
    for label, times in (("(a) DuckDB read_csv -> parquet", ref), ("(b) ingest_csv_bulk -> Delta", ours)):
        best = min(times)
        table.add_row(label, f"{best:.2f}", f"{statistics.median(times):.2f}",
                      f"{rows / best:,.0f}", f"{megabytes / best:,.1f}")
    console.print(table)
    console.print(
        f"ratio (b)/(a): [bold]{min(ours) / min(ref):.2f}x[/bold] best, "
        f"{statistics.median(ours) / statistics.median(ref):.2f}x median "
        f"(a: {', '.join(f'{t:.2f}' for t in ref)} s; b: {', '.join(f'{t:.2f}' for t in ours)} s)"
    )
    bronze, quarantine, misplaced = counts
    ok = bronze + quarantine == rows and misplaced == 0
    console.print(
        f"bronze {bronze:,} + quarantine {quarantine:,} = {bronze + quarantine:,} (written {rows:,}); "
        f"quarantined row numbers not broken by the generator: {misplaced} "
        f"[{'green' if ok else 'red'}]{'reconciled' if ok else 'MISMATCH'}[/]"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"peak RSS of this process: {peak:,.0f} MiB")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--dataset", default="hotel_occupancy")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the CSV, Parquet and lakes")
    parser.add_argument("--verbose", action="store_true", help="print (b)'s phase timings")
    args = parser.parse_args()
    phases = Phases()
    bulk_log = logging.getLogger("lakehouse.ingest.bulk_csv")
    bulk_log.addHandler(phases)
    bulk_log.setLevel(logging.DEBUG)

    contract = load_catalog(REPO_ROOT / "catalog")[args.dataset]
    encoding = str(contract.source.options.get("encoding", "utf-8"))
    if not codecs.lookup(encoding).name.startswith("utf-8"):
        console.print(f"[red]{args.dataset} is delivered as {encoding}; pick a UTF-8 dataset[/red]")
        return 2
    work = Path(tempfile.mkdtemp(prefix="ioc-bench-"))
    csv = work / f"{contract.name}.csv"
    try:
        with console.status(f"writing {args.rows:,} rows of {contract.name} ..."):
            start = time.perf_counter()
            write_delivery(contract, args.rows, csv)
        megabytes = csv.stat().st_size / 1e6
        console.print(f"delivery: {csv} ({megabytes:,.1f} MB, written in {time.perf_counter() - start:.1f} s)")
        ref, ours, runs = [], [], []
        for run in range(args.repeat):
            lake = work / f"lake-{run}"
            with console.status(f"run {run + 1}/{args.repeat}: reference COPY ..."):
                ref.append(reference(csv, work / "ref.parquet"))
            with console.status(f"run {run + 1}/{args.repeat}: ingest_csv_bulk ..."):
                ours.append(bulk(contract, csv, lake, f"bench-{run}", phases))
            runs.append(list(phases.phases))
            if run < args.repeat - 1 and not args.keep:
                shutil.rmtree(lake)
        ok = report(contract, args.rows, megabytes, ref, ours, landed(contract, work / f"lake-{args.repeat - 1}"))
        if args.verbose:
            report_phases(runs, ours)
        if args.keep:
            console.print(f"kept {work}")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
