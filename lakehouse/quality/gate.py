"""The bronze → silver gate: a batch's GX validation turned into rows kept and rows quarantined.

* a **blocking** expectation that fails on some rows sends exactly those rows to quarantine,
  with the expectation named (``_rule``) and every blocking failure of the row (``_reason``);
* a blocking expectation about the whole batch (its columns, their types, its size) that
  fails, or cannot run at all, quarantines the whole batch: nothing half-checked reaches silver;
* a **warning** lets the rows pass; it is recorded, like every outcome.

Each validation is one row in ``ops.quality_results`` (counts of expectations and rows) and
each expectation's outcome one row in ``ops.quality_expectations``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from lakehouse.contracts import Contract, Severity
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.quality.checkpoint import Outcome, Validation, validate
from lakehouse.quality.expectations import ExpectationSpec
from lakehouse.settings import Settings, get_settings

RESULTS_TABLE = "quality_results"
EXPECTATIONS_TABLE = "quality_expectations"
ENGINE = "great_expectations"
_TS = pa.timestamp("us", tz="UTC")
RESULTS_SCHEMA = pa.schema([
    pa.field("checked_at", _TS, nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("batch_id", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("suite", pa.string(), nullable=False),
    pa.field("engine", pa.string(), nullable=False),
    pa.field("expectations_evaluated", pa.int64(), nullable=False),
    pa.field("expectations_failed", pa.int64(), nullable=False),
    pa.field("blocking_failed", pa.int64(), nullable=False),
    pa.field("warnings_failed", pa.int64(), nullable=False),
    pa.field("rows_checked", pa.int64(), nullable=False),
    pa.field("rows_passed", pa.int64(), nullable=False),
    pa.field("rows_quarantined", pa.int64(), nullable=False),
    pa.field("rows_warned", pa.int64(), nullable=False),
    pa.field("success", pa.bool_(), nullable=False),
])
EXPECTATIONS_SCHEMA = pa.schema([
    pa.field("checked_at", _TS, nullable=False),
    pa.field("dataset", pa.string(), nullable=False),
    pa.field("batch_id", pa.string(), nullable=False),
    pa.field("run_id", pa.string(), nullable=False),
    pa.field("rule", pa.string(), nullable=False),
    pa.field("expectation_type", pa.string(), nullable=False),
    pa.field("target", pa.string(), nullable=False),
    pa.field("severity", pa.string(), nullable=False),
    pa.field("origin", pa.string(), nullable=False),
    pa.field("success", pa.bool_(), nullable=False),
    pa.field("element_count", pa.int64(), nullable=False),
    pa.field("unexpected_count", pa.int64(), nullable=False),
    pa.field("error", pa.string()),
])


def describe(spec: ExpectationSpec) -> str:
    """The expectation as a reviewer reads it, without long value lists."""
    shown = []
    for key, value in spec.kwargs.items():
        if key in ("column", "column_A", "column_B", "column_list", "ignore_row_if") or value is None:
            continue
        if isinstance(value, list) and len(value) > 12:
            value = f"<{len(value)} values{' of ' + spec.notes if spec.notes else ''}>"
        shown.append(f"{key}={value}")
    return f"{spec.rule} failed: {', '.join(shown) or 'see suite'} [{spec.origin}]"


@dataclass
class GateResult:
    passed: pl.DataFrame
    rejected: pl.DataFrame  # _row_number, _rule, _reason, _raw
    validation: Validation
    results: pa.Table  # one row: ops.quality_results
    expectations: pa.Table  # one row per expectation: ops.quality_expectations

    @property
    def warnings(self) -> list[Outcome]:
        return [o for o in self.validation.outcomes if not o.success and o.spec.severity is Severity.warn]


def _blocking_rows(validation: Validation, height: int) -> dict[int, list[ExpectationSpec]]:
    """Row position → the blocking expectations it failed (whole batch where one is batch-wide)."""
    failing: dict[int, list[ExpectationSpec]] = {}
    for outcome in validation.outcomes:
        if outcome.success or outcome.spec.severity is not Severity.block:
            continue
        rows = outcome.failed_rows if outcome.row_level and outcome.error is None else range(height)
        for row in rows:
            failing.setdefault(row, []).append(outcome.spec)
    return failing


def evaluate(frame: pl.DataFrame, contract: Contract, *, batch_id: str,
             settings: Settings | None = None) -> GateResult:
    validation = validate(frame, contract, batch_id=batch_id, settings=settings)
    failing = _blocking_rows(validation, frame.height)
    positions = sorted(failing)
    marks = pl.DataFrame({
        "__pos": pl.Series(positions, dtype=pl.UInt32),
        "_rule": [failing[p][0].rule for p in positions],
        "_reason": ["; ".join(describe(s) for s in failing[p]) for p in positions],
    }, schema={"__pos": pl.UInt32, "_rule": pl.String, "_reason": pl.String})
    indexed = frame.with_row_index("__pos")
    bad = indexed.join(marks, on="__pos", how="inner").sort("__pos")
    value_columns = [c.name for c in contract.columns if c.name in frame.columns]
    rejected = bad.select(
        pl.col("_row_number") if "_row_number" in frame.columns else pl.lit(None, pl.Int64).alias("_row_number"),
        "_rule", "_reason",
        pl.struct([pl.col(c).cast(pl.String) for c in value_columns]).struct.json_encode().alias("_raw"),
    )
    passed = indexed.join(marks, on="__pos", how="anti").sort("__pos").drop("__pos")

    warned: set[int] = set()
    for outcome in validation.outcomes:
        if not outcome.success and outcome.spec.severity is Severity.warn:
            warned.update(outcome.failed_rows)
    now = datetime.now(UTC)
    failed = [o for o in validation.outcomes if not o.success]
    results = pa.Table.from_pylist([{
        "checked_at": now, "dataset": contract.name, "batch_id": batch_id, "run_id": validation.run_id,
        "suite": contract.name, "engine": ENGINE,
        "expectations_evaluated": len(validation.outcomes), "expectations_failed": len(failed),
        "blocking_failed": sum(o.spec.severity is Severity.block for o in failed),
        "warnings_failed": sum(o.spec.severity is Severity.warn for o in failed),
        "rows_checked": frame.height, "rows_passed": passed.height, "rows_quarantined": rejected.height,
        "rows_warned": len(warned - set(positions)),
        "success": not any(o.spec.severity is Severity.block for o in failed),
    }], schema=RESULTS_SCHEMA)
    expectations = pa.Table.from_pylist([{
        "checked_at": now, "dataset": contract.name, "batch_id": batch_id, "run_id": validation.run_id,
        "rule": o.spec.rule, "expectation_type": o.spec.type, "target": o.spec.target,
        "severity": o.spec.severity.value, "origin": o.spec.origin, "success": o.success,
        "element_count": o.element_count, "unexpected_count": o.unexpected_count, "error": o.error,
    } for o in validation.outcomes], schema=EXPECTATIONS_SCHEMA)
    return GateResult(passed, rejected, validation, results, expectations)


def record_results(gate: GateResult, *, batch_id: str, settings: Settings | None = None) -> None:
    """Append the batch's validation to ``ops`` (once: the writes carry the batch's app id)."""
    settings = settings or get_settings()
    options = storage_options(settings)
    delta.append(table_uri(Tier.ops, RESULTS_TABLE, settings), gate.results,
                 batch_id=f"quality:{batch_id}", storage_options=options)
    delta.append(table_uri(Tier.ops, EXPECTATIONS_TABLE, settings), gate.expectations,
                 batch_id=f"quality:{batch_id}", storage_options=options)
