"""Benchmark bronze -> silver (``build_silver``) on the largest table against a no-gate reference.

    python benchmarks/silver.py [--rows 600000] [--batches 8] [--repeat 2] [--scale 50] [--keep] [--verbose]

1. Generates ``traffic_flow_observed`` (the dataset with the most rows: 5-minute NGSI-LD
   messages from 4 counters per scale step) and ``sensor_registry`` with the deterministic
   generator, defects at their default rates. ``--rows`` picks the number of days at
   ``--scale`` (200 counters x 288 messages a day at scale 50).
2. Lands them in a temporary lake with no service: the registry through the landing zone
   (``ingest_landing``, then its own ``build_silver``, so the gate's reference check on
   ``device_id`` has values and GX is warm), the messages through the MQTT JSONL fallback
   (``ingest_jsonl_drops``: the same decode/parse/dedup/land path as the broker), split
   into ``--batches`` drops, i.e. bronze batches.
3. Snapshots that lake, then ``--repeat`` times, each on a fresh copy of the snapshot,
   times (a) the reference: per bronze batch, read it as ``build_silver`` does, deduplicate
   it with silver's own ``deduplicate`` and MERGE it with ``delta.merge`` (same keys, order
   column and app transaction) into a Delta table elsewhere: no gate, no quarantine, no ops
   results, no conformance, no PII; and (b) ``build_silver`` itself.

Prints bronze rows, batches, best/median seconds and rows/s of both, the ratio (b)/(a), the
validation seconds ``build_silver`` reports and their share of its time, and where (b)'s
time goes, measured by wrapping the functions it calls (``evaluate``, ``append_quarantine``,
``record_results``, ``attach_units``, ``protect``, ``deduplicate``, ``delta.merge``) and,
inside the gate, the checkpoint's steps and Great Expectations' own (``Checkpoint.run``,
the validator, the results store). The wrappers only time; no library code is changed.
Silver and gate-quarantine counts must equal the generator's manifest (exit 1 otherwise).
"""

from __future__ import annotations

import argparse
import functools
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pyarrow.dataset as ds
from deltalake import DeltaTable
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

console = Console()
DATASET = "traffic_flow_observed"
REGISTRY = "sensor_registry"
MESSAGES_PER_DAY = 288  # one per counter every 5 minutes
COUNTERS_PER_SCALE = 4
SALT = "benchmark-salt-not-a-secret"


def lake_environment(work: Path) -> None:
    """Point every path setting at ``work`` before any Settings object exists."""
    os.environ.update({
        "IOC_LAKE_ROOT": str(work / "lake"),
        "IOC_LANDING_ROOT": str(work / "landing"),
        "IOC_WAREHOUSE_PATH": str(work / "warehouse" / "ioc.duckdb"),
        "IOC_GX_ROOT": str(work / "gx"),
        "IOC_PII_SALT": SALT,
        "IOC_MQTT_URL": "",  # the JSONL fallback, never a broker
    })
    from lakehouse.settings import reset_settings_cache

    reset_settings_cache()


# --------------------------------------------------------------------------- timing hooks


class Stopwatch:
    """Seconds and calls per stage, filled by the wrappers :func:`instrument` installs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.batches: list[dict[str, float]] = []  # per batch: rows, gate seconds, end time
        self.on_batch: Callable[[], None] = lambda: None
        self.start = 0.0  # perf_counter at the start of the run

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds
        self.calls[name] += 1

    def timed(self, name: str, function: Callable) -> Callable:
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - start)
        return wrapper


def _swap(stack: ExitStack, owner: object, name: str, replacement: object) -> None:
    original = getattr(owner, name)  # a stage that no longer exists fails here, loudly
    setattr(owner, name, replacement)
    stack.callback(setattr, owner, name, original)


@contextmanager
def instrument(watch: Stopwatch) -> Iterator[None]:
    """Wrap what ``build_silver`` and the gate call with timers; restore them afterwards."""
    from great_expectations.checkpoint.checkpoint import Checkpoint
    from great_expectations.data_context.store.validation_results_store import (
        ValidationResultsStore,
    )
    from great_expectations.validator.v1_validator import Validator

    from lakehouse.pipeline import silver
    from lakehouse.quality import checkpoint, gate

    with ExitStack() as stack:
        evaluate = silver.evaluate

        def timed_evaluate(frame, contract, **kwargs):
            start = time.perf_counter()
            result = evaluate(frame, contract, **kwargs)
            seconds = time.perf_counter() - start
            watch.add("gate: evaluate", seconds)
            watch.batches.append({"rows": frame.height, "gate": seconds, "quarantined": result.rejected.height})
            return result

        _swap(stack, silver, "evaluate", timed_evaluate)
        for name, stage in (("pending_batches", "pending_batches"), ("append_quarantine", "quarantine append"),
                            ("record_results", "ops results (2 appends)"), ("attach_units", "conform: attach_units"),
                            ("protect", "pii: protect"), ("deduplicate", "deduplicate")):
            _swap(stack, silver, name, watch.timed(stage, getattr(silver, name)))
        merge = watch.timed("delta.merge", silver.delta.merge)

        def merge_and_tick(*args, **kwargs):
            result = merge(*args, **kwargs)
            watch.batches[-1]["end"] = time.perf_counter()
            watch.on_batch()
            return result

        _swap(stack, silver, "delta", SimpleNamespace(merge=merge_and_tick))

        # inside evaluate: checkpoint.validate and its helpers
        _swap(stack, gate, "validate", watch.timed("validate", gate.validate))
        for name, stage in (("resolve_references", "resolve references"), ("to_pandas", "to_pandas"),
                            ("_build", "build suite + checkpoint")):
            _swap(stack, checkpoint, name, watch.timed(stage, getattr(checkpoint, name)))
        gx_context = checkpoint.gx_context

        @contextmanager
        def timed_context(*args, **kwargs):
            start = time.perf_counter()
            with gx_context(*args, **kwargs) as context:
                watch.add("open context (lock, get_context)", time.perf_counter() - start)
                yield context

        _swap(stack, checkpoint, "gx_context", timed_context)
        # inside Great Expectations (class attributes, this process only)
        _swap(stack, Checkpoint, "run", watch.timed("Checkpoint.run", Checkpoint.run))
        _swap(stack, Validator, "validate_expectation_suite",
              watch.timed("validate_expectation_suite", Validator.validate_expectation_suite))
        _swap(stack, Validator, "_validate_expectation_configs",
              watch.timed("expectations: batch + metrics", Validator._validate_expectation_configs))
        _swap(stack, ValidationResultsStore, "store_validation_results",
              watch.timed("store validation result", ValidationResultsStore.store_validation_results))
        yield


# --------------------------------------------------------------------------- setup


def prepare_lake(work: Path, args: argparse.Namespace):
    """Generate, land the registry (+ its silver) and the messages as ``--batches`` bronze
    batches; returns the contract, the settings, the manifest entry and the setup timings."""
    from lakehouse.contracts import load_catalog
    from lakehouse.demo import deliver
    from lakehouse.generate import generate
    from lakehouse.ingest.files import LandingZone, ingest_landing
    from lakehouse.ingest.mqtt import ingest_jsonl_drops
    from lakehouse.ingest.mqtt_lander import ClockWindow
    from lakehouse.pipeline.silver import build_silver
    from lakehouse.settings import get_settings

    settings = get_settings()
    catalog = load_catalog()
    contract = catalog[DATASET]
    per_day = COUNTERS_PER_SCALE * args.scale * MESSAGES_PER_DAY
    days = max(1, round(args.rows / per_day))
    timings = {}
    with console.status(f"generating {days} day(s) of {DATASET} at scale {args.scale} "
                        f"(~{days * per_day:,} messages) and {REGISTRY} ..."):
        start = time.perf_counter()
        manifest = generate(work / "sources", seed=args.seed, scale=args.scale, days=days,
                            datasets=[REGISTRY, DATASET], wrong_encoding=False)
        timings["generate"] = time.perf_counter() - start
    with console.status(f"{REGISTRY}: landing zone -> bronze -> silver (warms Great Expectations) ..."):
        start = time.perf_counter()
        deliver(work / "sources", settings.landing_root)
        ingest_landing(catalog[REGISTRY], settings)
        build_silver(catalog[REGISTRY], settings)
        timings[f"{REGISTRY} ingest + silver"] = time.perf_counter() - start
    with console.status(f"{DATASET}: {args.batches} JSONL drops -> bronze (decode, parse, land) ..."):
        start = time.perf_counter()
        incoming = LandingZone.for_contract(contract, settings).incoming
        incoming.mkdir(parents=True, exist_ok=True)
        lines = (work / "sources" / "mqtt" / f"{DATASET}.jsonl").read_bytes().splitlines(keepends=True)
        size = -(-len(lines) // args.batches)
        for part in range(args.batches):
            (incoming / f"drop-{part:04d}.jsonl").write_bytes(b"".join(lines[part * size:(part + 1) * size]))
        # The generator's clock starts in 2025; accept old event times rather than quarantine them.
        ingest_jsonl_drops(contract, settings, clock=ClockWindow(max_behind=timedelta(days=3650)))
        timings[f"{DATASET} ingest"] = time.perf_counter() - start
    return contract, settings, manifest.datasets[DATASET], days, timings


# --------------------------------------------------------------------------- the runs


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def reference(contract, settings, target: str) -> float:
    """Read each pending bronze batch, deduplicate, MERGE: ``build_silver`` without the gate,
    quarantine, ops results, conformance and PII."""
    from lakehouse.lake import delta
    from lakehouse.lake.paths import Tier, open_table
    from lakehouse.pipeline.silver import deduplicate, pending_batches, version_column

    with progress_bar() as progress:
        start = time.perf_counter()
        bronze = open_table(Tier.bronze, contract.name, settings)
        batches = pending_batches(contract, settings)
        task = progress.add_task("(a) reference: read + dedup + merge", total=len(batches))
        for batch_id in batches:
            frame = pl.from_arrow(bronze.to_pyarrow_dataset().to_table(filter=ds.field("_batch_id") == batch_id))
            unique = deduplicate(frame, contract)
            delta.merge(target, unique.to_arrow(), keys=contract.primary_key, batch_id=batch_id,
                        order_by=version_column(contract), partition_by=contract.partition_by or None)
            progress.advance(task)
        return time.perf_counter() - start


def silver_run(contract, settings, watch: Stopwatch, batches: int):
    from lakehouse.pipeline.silver import build_silver

    with progress_bar() as progress, instrument(watch):
        task = progress.add_task("(b) build_silver: gate + conform + PII + dedup + merge", total=batches)
        watch.on_batch = lambda: progress.advance(task)
        start = time.perf_counter()
        result = build_silver(contract, settings)
        seconds = time.perf_counter() - start
    watch.start = start
    return result, seconds


def counts(contract, settings, reference_uri: str) -> dict[str, int]:
    from lakehouse.lake.paths import Tier, table_uri

    def rows(tier, where=None) -> int:
        return DeltaTable(table_uri(tier, contract.name, settings)).to_pyarrow_dataset().count_rows(filter=where)

    return {
        "bronze": rows(Tier.bronze),
        "gate quarantine": rows(Tier.quarantine, ds.field("_stage") == "gate"),
        "silver": rows(Tier.silver),
        "reference table": DeltaTable(reference_uri).to_pyarrow_dataset().count_rows(),
    }


# --------------------------------------------------------------------------- report

STAGES = ["pending_batches", "gate: evaluate", "quarantine append", "ops results (2 appends)",
          "conform: attach_units", "pii: protect", "deduplicate", "delta.merge"]
GATE = [  # (name, depth): nested inside the one above with a smaller depth
    ("resolve references", 1), ("to_pandas", 1), ("open context (lock, get_context)", 1),
    ("build suite + checkpoint", 1), ("Checkpoint.run", 1), ("validate_expectation_suite", 2),
    ("expectations: batch + metrics", 3), ("store validation result", 2),
]


def breakdown(watches: list[Stopwatch], totals: list[float]) -> Table:
    """(b)'s stages per run; "rest" lines are the parent's time not in the lines below it."""
    table = Table(title="(b) build_silver: where the time goes, seconds per run (share of run 1)")
    table.add_column("stage")
    for run in range(1, len(totals) + 1):
        table.add_column(f"run {run}", justify="right")
    table.add_column("%", justify="right")

    def row(label: str, values: list[float], style: str | None = None) -> None:
        table.add_row(label, *(f"{v:.3f}" for v in values), f"{100 * values[0] / totals[0]:.1f}", style=style)

    for stage in STAGES:
        row(stage, [w.seconds[stage] for w in watches], style="bold" if stage == "gate: evaluate" else None)
        if stage != "gate: evaluate":
            continue
        for name, depth in GATE:
            row("  " * depth + name, [w.seconds[name] for w in watches])
            if name == "validate_expectation_suite":
                row("      rest: result assembly",
                    [w.seconds[name] - w.seconds["expectations: batch + metrics"] for w in watches])
        row("    rest of run (freshness checks)",
            [w.seconds["Checkpoint.run"] - w.seconds["validate_expectation_suite"]
             - w.seconds["store validation result"] for w in watches])
        row("    rest of validate (outcomes)",
            [w.seconds["validate"] - sum(w.seconds[n] for n, d in GATE if d == 1) for w in watches])
        row("    rest of evaluate (split rows, ops rows)",
            [w.seconds["gate: evaluate"] - w.seconds["validate"] for w in watches])
    row("rest: read batch, casts, bookkeeping",
        [t - sum(w.seconds[s] for s in STAGES) for w, t in zip(watches, totals, strict=True)])
    table.add_row("total", *(f"{t:.3f}" for t in totals), "100.0", style="bold")
    return table


def per_batch(watch: Stopwatch, total_start: float) -> Table:
    table = Table(title="(b) last run, per batch")
    for name in ("batch", "rows", "gate quarantined", "gate s", "batch s", "rows/s"):
        table.add_column(name, justify="right")
    previous = total_start
    for number, batch in enumerate(watch.batches, start=1):
        seconds = batch["end"] - previous
        previous = batch["end"]
        table.add_row(str(number), f"{batch['rows']:,.0f}", f"{batch['quarantined']:,.0f}", f"{batch['gate']:.3f}",
                      f"{seconds:.3f}", f"{batch['rows'] / seconds:,.0f}")
    return table


def gate_scaling(contract, settings, batch_id: str, repeat: int = 3) -> tuple[Table, Table, float, float]:
    """``evaluate`` alone on the head of one bronze batch, at a few sizes (best of ``repeat``):
    its cost per batch (intercept) and per row (slope), from the smallest and largest size,
    and its steps per call at each size."""
    from lakehouse.lake.paths import Tier, open_table
    from lakehouse.quality.gate import evaluate

    bronze = open_table(Tier.bronze, contract.name, settings)
    frame = pl.from_arrow(bronze.to_pyarrow_dataset().to_table(filter=ds.field("_batch_id") == batch_id))
    sizes = sorted({n for n in (1_000, 10_000, frame.height) if n <= frame.height})
    best, watches = {}, {}
    with progress_bar() as progress:
        task = progress.add_task("gate alone: evaluate at several batch sizes", total=len(sizes) * repeat)
        for size in sizes:
            times, watch = [], Stopwatch()
            with instrument(watch):
                for attempt in range(repeat):
                    start = time.perf_counter()
                    evaluate(frame.head(size), contract, batch_id=f"scaling-{size}-{attempt}", settings=settings)
                    times.append(time.perf_counter() - start)
                    watch.add("gate: evaluate", times[-1])
                    progress.advance(task)
            best[size], watches[size] = min(times), watch
    small, large = sizes[0], sizes[-1]
    per_row = (best[large] - best[small]) / (large - small) if large > small else 0.0
    fixed = best[small] - per_row * small
    table = Table(title=f"gate alone (lakehouse.quality.gate.evaluate), best of {repeat}")
    for name in ("rows", "s", "rows/s", "share that is per-batch cost"):
        table.add_column(name, justify="right")
    for size in sizes:
        table.add_row(f"{size:,}", f"{best[size]:.3f}", f"{size / best[size]:,.0f}", f"{100 * fixed / best[size]:.0f}%")
    steps = Table(title=f"gate steps, ms per call (mean of {repeat})")
    steps.add_column("step")
    for size in sizes:
        steps.add_column(f"{size:,} rows", justify="right")

    def mean(watch: Stopwatch, name: str) -> float:
        return 1000 * watch.seconds[name] / repeat

    steps.add_row("evaluate", *(f"{mean(watches[n], 'gate: evaluate'):.0f}" for n in sizes), style="bold")
    for name, depth in GATE:
        steps.add_row("  " * depth + name, *(f"{mean(watches[n], name):.0f}" for n in sizes))
    steps.add_row("  rest (outcomes, split rows, ops rows)",
                  *(f"{mean(watches[n], 'gate: evaluate') - sum(mean(watches[n], m) for m, d in GATE if d == 1):.0f}"
                    for n in sizes))
    return table, steps, fixed, per_row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=600_000, help="messages to generate (rounded to whole days)")
    parser.add_argument("--batches", type=int, default=8, help="bronze batches (JSONL drops)")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--scale", type=int, default=50, help="generator scale: 4 counters per step")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the sources and lakes")
    parser.add_argument("--verbose", action="store_true", help="also print the last run's batches")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ioc-bench-silver-"))
    lake_environment(work)
    try:
        contract, settings, expected, days, setup = prepare_lake(work, args)
        snapshot = Path(settings.lake_root)
        bronze_rows = DeltaTable(str(snapshot / "bronze" / DATASET)).to_pyarrow_dataset().count_rows()
        console.print(
            f"setup: {days} day(s) x {COUNTERS_PER_SCALE * args.scale} counters = {expected.rows_total:,} messages "
            f"-> bronze {bronze_rows:,} rows in {args.batches} batches "
            f"({', '.join(f'{k} {v:.1f} s' for k, v in setup.items())})"
        )
        ref, ours, watches, results, got = [], [], [], [], {}
        for run in range(args.repeat):
            lake = work / f"lake-{run}"
            shutil.copytree(snapshot, lake)
            run_settings = settings.model_copy(update={"lake_root": str(lake)})
            target = str(work / f"reference-{run}" / DATASET)
            ref.append(reference(contract, run_settings, target))
            watch = Stopwatch()
            result, seconds = silver_run(contract, run_settings, watch, args.batches)
            ours.append(seconds)
            watches.append(watch)
            results.append(result)
            got = counts(contract, run_settings, target)
            console.print(f"run {run + 1}/{args.repeat}: (a) {ref[-1]:.2f} s, (b) {seconds:.2f} s "
                          f"(validation {result.validation_seconds:.2f} s)")
            if run < args.repeat - 1 and not args.keep:
                shutil.rmtree(lake)

        rows = results[-1].rows_in
        table = Table(title=f"{DATASET}: {rows:,} bronze rows in {len(results[-1].batches)} batches, "
                            f"bronze -> silver")
        for name in ("", "best s", "median s", "rows/s (best)"):
            table.add_column(name, justify="right" if name else "left")
        for label, times in (("(a) reference: read + dedup + merge", ref),
                             ("(b) build_silver", ours)):
            table.add_row(label, f"{min(times):.2f}", f"{statistics.median(times):.2f}", f"{rows / min(times):,.0f}")
        console.print(table)
        console.print(f"ratio (b)/(a): [bold]{min(ours) / min(ref):.2f}x[/bold] best, "
                      f"{statistics.median(ours) / statistics.median(ref):.2f}x median "
                      f"(a: {', '.join(f'{t:.2f}' for t in ref)} s; b: {', '.join(f'{t:.2f}' for t in ours)} s)")
        shares = [r.validation_seconds / t for r, t in zip(results, ours, strict=True)]
        console.print(f"validation (SilverResult.validation_seconds): "
                      f"{', '.join(f'{r.validation_seconds:.2f} s' for r in results)} = "
                      f"[bold]{', '.join(f'{100 * s:.0f}%' for s in shares)}[/bold] of (b); "
                      f"{rows / min(r.validation_seconds for r in results):,.0f} rows/s through the gate alone")
        console.print(breakdown(watches, ours))
        if args.verbose:
            console.print(per_batch(watches[-1], watches[-1].start))
        scaling, steps, fixed, per_row = gate_scaling(contract, run_settings, results[-1].batches[0])
        console.print(scaling)
        console.print(steps)
        console.print(f"gate cost model: [bold]{fixed:.3f} s per batch + {per_row * 1e6:.2f} µs per row[/bold]; "
                      f"{len(results[-1].batches)} batches x {fixed:.3f} s = "
                      f"{len(results[-1].batches) * fixed:.2f} s of the {min(r.validation_seconds for r in results):.2f} s "
                      f"validation; a {rows // len(results[-1].batches):,}-row batch, as here, would need "
                      f"{fixed + per_row * rows / len(results[-1].batches):.2f} s")

        last = results[-1]
        ok = got["silver"] == expected.expected.silver and got["gate quarantine"] == expected.expected.quarantine_gate
        console.print(
            f"gate quarantine {got['gate quarantine']:,} (manifest {expected.expected.quarantine_gate:,}), "
            f"silver {got['silver']:,} (manifest {expected.expected.silver:,}), "
            f"duplicates removed {last.duplicates_removed:,}, warnings {last.warnings}; "
            f"reference table {got['reference table']:,} "
            f"[{'green' if ok else 'red'}]{'reconciled' if ok else 'MISMATCH'}[/]"
        )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        console.print(f"peak RSS of this process: {peak:,.0f} MiB")
        if args.keep:
            console.print(f"kept {work}")
        return 0 if ok else 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
