"""The bronze → silver gate: the contract's checks evaluated row by row.

Blocking failures send the row to quarantine with the rule that failed; warnings let it pass
and are only recorded. Every rule's outcome per batch is one row in ``ops.quality_results``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import polars as pl
import pyarrow as pa

from lakehouse.contracts import Contract, Severity
from lakehouse.lake import delta
from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.settings import Settings, get_settings

RESULTS_TABLE = "quality_results"
RESULTS_SCHEMA = pa.schema(
    [
        pa.field("checked_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("dataset", pa.string(), nullable=False),
        pa.field("batch_id", pa.string(), nullable=False),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("rule", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),
        pa.field("rows_checked", pa.int64(), nullable=False),
        pa.field("rows_failed", pa.int64(), nullable=False),
        pa.field("success", pa.bool_(), nullable=False),
        pa.field("engine", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class Rule:
    name: str
    severity: Severity
    failed: pl.Expr  # true where the row breaks the rule (nulls never fail a value check)
    describe: str


def _value_rules(contract: Contract) -> list[Rule]:
    rules: list[Rule] = []
    for column in contract.columns:
        checks, col = column.checks, pl.col(column.name)
        if checks.min is not None:
            rules.append(Rule(f"range.{column.name}.min", checks.severity, col < checks.min,
                              f"out_of_range: {column.name} below {checks.min:g}"))
        if checks.max is not None:
            rules.append(Rule(f"range.{column.name}.max", checks.severity, col > checks.max,
                              f"out_of_range: {column.name} above {checks.max:g}"))
        if checks.allowed_values is not None:
            allowed = [str(v) for v in checks.allowed_values]
            rules.append(Rule(f"allowed.{column.name}", checks.severity,
                              ~col.cast(pl.String).is_in(allowed),
                              f"out_of_range: {column.name} not one of {allowed}"))
        if checks.pattern is not None:
            rules.append(Rule(f"pattern.{column.name}", checks.severity,
                              ~col.cast(pl.String).str.contains(checks.pattern),
                              f"format: {column.name} does not match {checks.pattern}"))
    for rule in contract.rules:
        if rule.kind == "expression" and rule.expression:
            rules.append(Rule(f"rule.{rule.name}", rule.severity, ~pl.sql_expr(rule.expression),
                              f"rule {rule.name}: {rule.expression} is false"))
    return rules


@dataclass
class GateResult:
    passed: pl.DataFrame
    rejected: pl.DataFrame  # _row_number, _rule, _reason, _raw (+ lineage columns)
    results: pa.Table  # one row per rule


def evaluate(frame: pl.DataFrame, contract: Contract, *, batch_id: str, stage: str = "gate") -> GateResult:
    rules = _value_rules(contract)
    flags = frame.with_columns(
        [r.failed.fill_null(False).alias(f"__fail_{i}") for i, r in enumerate(rules)]
    )
    blocking = [f"__fail_{i}" for i, r in enumerate(rules) if r.severity is Severity.block]
    reason = pl.coalesce(
        [pl.when(pl.col(f"__fail_{i}")).then(pl.lit(f"{r.name}|{r.describe}")) for i, r in enumerate(rules)
         if r.severity is Severity.block]
    ) if blocking else pl.lit(None, pl.String)
    flags = flags.with_columns(reason.alias("__reason"))

    now = datetime.now(UTC)
    results = []
    for i, rule in enumerate(rules):
        failed = int(flags[f"__fail_{i}"].sum())
        results.append({"checked_at": now, "dataset": contract.name, "batch_id": batch_id, "stage": stage,
                        "rule": rule.name, "severity": rule.severity.value, "rows_checked": frame.height,
                        "rows_failed": failed, "success": failed == 0, "engine": "polars"})
    for rule in contract.rules:
        if rule.kind == "row_count_between":
            ok = (rule.min is None or frame.height >= rule.min) and (rule.max is None or frame.height <= rule.max)
            results.append({"checked_at": now, "dataset": contract.name, "batch_id": batch_id, "stage": stage,
                            "rule": f"rule.{rule.name}", "severity": rule.severity.value,
                            "rows_checked": frame.height, "rows_failed": 0 if ok else frame.height,
                            "success": ok, "engine": "polars"})

    data_columns = [c for c in frame.columns]
    value_columns = [c.name for c in contract.columns]
    bad = flags.filter(pl.col("__reason").is_not_null())
    rejected = bad.select(
        pl.col("_row_number") if "_row_number" in frame.columns else pl.lit(None, pl.Int64).alias("_row_number"),
        pl.col("__reason").str.split_exact("|", 1).struct.field("field_0").alias("_rule"),
        pl.col("__reason").str.split_exact("|", 1).struct.field("field_1").alias("_reason"),
        pl.struct([pl.col(c).cast(pl.String) for c in value_columns]).struct.json_encode().alias("_raw"),
    )
    passed = flags.filter(pl.col("__reason").is_null()).select(data_columns)
    return GateResult(passed=passed, rejected=rejected,
                      results=pa.Table.from_pylist(results, schema=RESULTS_SCHEMA))


def record_results(results: pa.Table, *, batch_id: str, settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    delta.append(table_uri(Tier.ops, RESULTS_TABLE, settings), results,
                 batch_id=f"quality:{batch_id}", storage_options=storage_options(settings))
