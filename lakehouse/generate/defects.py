"""Inject row defects at known rates and count exactly what the pipeline should do with them.

Each defective row carries exactly one defect, so the expected bronze/quarantine/silver
counts follow by arithmetic (see :data:`lakehouse.generate.manifest.SEMANTICS`):

* ``bad_date``, ``wrong_type``, ``missing_key`` mutate a clean row so that it cannot be
  parsed: it is quarantined at bronze;
* ``out_of_range`` mutates a clean row so that it parses but breaks a block-severity
  check: it lands in bronze and is quarantined by the gate;
* ``duplicate`` inserts an exact copy of a clean row later in the same file/sheet: it lands
  in bronze and deduplication removes it in silver.

Mutated rows lose their clean key, so silver = distinct keys of the remaining clean rows.
Which columns qualify is read from the contract (types, nullability, primary key, checks),
never restated here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from lakehouse.contracts import Contract
from lakehouse.contracts.model import Column, Severity
from lakehouse.generate.context import Built, Raw
from lakehouse.generate.manifest import (
    GATE_DEFECT_KINDS,
    PARSE_DEFECT_KINDS,
    ROW_DEFECT_KINDS,
    DefectRow,
    Expected,
)

DEFAULT_RATE = 0.03
MAX_RATE = 0.2
#: Below this many rows a dataset gets round(rate * n) defects per kind (often none: small
#: registries stay clean); from here on at least one of each applicable kind.
MIN_ROWS_FOR_DEFECTS = 20

MUTATING_KINDS = ("bad_date", "wrong_type", "missing_key", "out_of_range")
TEMPORAL = ("date", "timestamp")
NOT_A_NUMBER = ("mười hai", "không rõ", "chưa cập nhật", "#VALUE!")
NOT_A_DATE = ("hôm qua", "không rõ ngày", "chưa nhập")
NOT_A_CODE = ("khác", "chưa phân loại", "đang xử lý", "KHONG_RO")


def is_numeric(column: Column) -> bool:
    return column.type in ("int", "bigint", "double") or column.decimal_precision is not None


def is_integer(column: Column) -> bool:
    return column.type in ("int", "bigint") or (
        column.decimal_precision is not None and column.decimal_precision[1] == 0
    )


def candidate_columns(contract: Contract, kind: str) -> list[Column]:
    """Columns a defect of ``kind`` may hit in this contract (empty: kind does not apply)."""
    keys = set(contract.primary_key)
    if kind == "bad_date":
        return [c for c in contract.delivered_columns if c.type in TEMPORAL and not c.nullable]
    if kind == "wrong_type":
        return [c for c in contract.delivered_columns if is_numeric(c) and c.name not in keys]
    if kind == "missing_key":
        pk = [contract.column(name) for name in contract.primary_key]
        plain = [c for c in pk if c.type not in TEMPORAL]
        return plain or pk
    if kind == "out_of_range":
        found = []
        for c in contract.delivered_columns:
            checks = c.checks
            if c.name in keys or checks.severity is not Severity.block:
                continue
            if (
                checks.allowed_values
                and c.type == "string"
                or (checks.min is not None or checks.max is not None)
                and is_numeric(c)
            ):
                found.append(c)
        return found
    return []


def plan_counts(contract: Contract, n_rows: int, rates: dict[str, float]) -> dict[str, int]:
    """How many rows of each kind to spoil; kinds that do not apply get 0."""
    counts: dict[str, int] = {}
    for kind in ROW_DEFECT_KINDS:
        rate = rates.get(kind, 0.0)
        applies = kind == "duplicate" or bool(candidate_columns(contract, kind))
        if rate <= 0 or not applies or n_rows == 0:
            counts[kind] = 0
            continue
        count = round(rate * n_rows)
        if count == 0 and n_rows >= MIN_ROWS_FOR_DEFECTS:
            count = 1
        counts[kind] = count
    # Keep at least half the rows clean whatever the rates: duplicates need clean sources.
    budget = n_rows // 2
    for kind in MUTATING_KINDS:
        counts[kind] = min(counts[kind], budget)
        budget -= counts[kind]
    return counts


def _bad_date(column: Column, rng: np.random.Generator) -> Raw:
    if rng.random() < 0.4:
        return Raw(str(rng.choice(NOT_A_DATE)))
    fmt = column.source_format
    if fmt:  # the declared layout with an impossible day: 31 February
        text = fmt
        for code, value in (
            ("%d", "31"),
            ("%m", "02"),
            ("%Y", "2025"),
            ("%H", "08"),
            ("%M", "30"),
            ("%S", "00"),
        ):
            text = text.replace(code, value)
        return Raw(text)
    return Raw("2025-02-31T08:30:00+07:00" if column.type == "timestamp" else "2025-02-31")


def _out_of_range(column: Column, rng: np.random.Generator) -> Any:
    checks = column.checks
    if checks.allowed_values:
        choices = [v for v in NOT_A_CODE if v not in checks.allowed_values]
        return str(rng.choice(choices))
    lo, hi = checks.min, checks.max
    span = (
        (hi - lo)
        if lo is not None and hi is not None
        else max(abs(lo if lo is not None else hi), 1.0)
    )
    step = span * float(rng.uniform(0.1, 0.5)) + 1.0
    value = hi + step if hi is not None and (lo is None or rng.random() < 0.5) else lo - step
    return round(value) if is_integer(column) else round(value, 2)


def defect_value(kind: str, column: Column, rng: np.random.Generator) -> Any:
    if kind == "bad_date":
        return _bad_date(column, rng)
    if kind == "wrong_type":
        return Raw(str(rng.choice(NOT_A_NUMBER)))
    if kind == "missing_key":
        return None
    if kind == "out_of_range":
        return _out_of_range(column, rng)
    raise ValueError(f"'{kind}' is not a mutating defect kind")


def inject(
    contract: Contract, built: Built, rng: np.random.Generator, rates: dict[str, float]
) -> None:
    """Spoil rows of ``built`` in place and tag them (``Part.kinds`` / ``Part.columns``)."""
    parts = built.parts
    n_rows = sum(len(p.rows) for p in parts)
    cells = [
        (p, r)
        for p, part in enumerate(parts)
        for r in range(len(part.rows))
        if (p, r) not in built.protect
    ]
    counts = plan_counts(contract, len(cells), rates) if n_rows else {}
    order = rng.permutation(len(cells)) if cells else np.array([], dtype=int)
    cursor = 0
    for kind in MUTATING_KINDS:
        columns = candidate_columns(contract, kind)
        for _ in range(counts.get(kind, 0)):
            p, r = cells[int(order[cursor])]
            cursor += 1
            column = columns[int(rng.integers(len(columns)))]
            part = parts[p]
            part.rows[r] = {**part.rows[r], column.name: defect_value(kind, column, rng)}
            part.kinds[r] = kind
            part.columns[r] = column.name

    n_dup = counts.get("duplicate", 0)
    clean = [(p, r) for p, part in enumerate(parts) for r, k in enumerate(part.kinds) if k is None]
    n_dup = min(n_dup, len(clean))
    if not n_dup:
        return
    sources = sorted(clean[int(i)] for i in rng.choice(len(clean), size=n_dup, replace=False))
    after: dict[int, dict[int, list[int]]] = {}  # part -> anchor row -> source rows copied after it
    for p, r in sources:
        anchor = int(rng.integers(r, len(parts[p].rows)))
        after.setdefault(p, {}).setdefault(anchor, []).append(r)
    for p, anchors in after.items():
        part = parts[p]
        rows, kinds, cols = [], [], []
        for i, row in enumerate(part.rows):
            rows.append(row)
            kinds.append(part.kinds[i])
            cols.append(part.columns[i])
            for source in anchors.get(i, []):
                rows.append(dict(part.rows[source]))
                kinds.append("duplicate")
                cols.append(None)
        part.rows, part.kinds, part.columns = rows, kinds, cols


def summarize(
    contract: Contract, built: Built
) -> tuple[int, dict[str, int], Expected, list[DefectRow]]:
    """rows_total, defect counts, expected tier counts and the defect rows, from the tags."""
    counts = dict.fromkeys(ROW_DEFECT_KINDS, 0)
    defect_rows: list[DefectRow] = []
    keys: set[tuple] = set()
    deleted: set[tuple] = set()
    soft_delete = contract.source.options.get("soft_delete")
    rows_total = 0
    for part in built.parts:
        for index, (row, kind, column) in enumerate(
            zip(part.rows, part.kinds, part.columns, strict=True)
        ):
            rows_total += 1
            if kind is not None:
                counts[kind] += 1
                defect_rows.append(
                    DefectRow(
                        file=part.file, sheet=part.sheet, row=index + 1, kind=kind, column=column
                    )
                )
            if kind is None or kind == "duplicate":
                key = tuple(row[name] for name in contract.primary_key)
                keys.add(key)
                if soft_delete and row.get(str(soft_delete)) is True:
                    deleted.add(key)
    parse = sum(counts[k] for k in PARSE_DEFECT_KINDS)
    expected = Expected(
        bronze=rows_total - parse,
        quarantine_parse=parse,
        quarantine_gate=sum(counts[k] for k in GATE_DEFECT_KINDS),
        silver=len(keys),
        soft_deleted=len(deleted),
    )
    return rows_total, counts, expected, defect_rows
