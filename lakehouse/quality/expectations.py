"""Expectation suites, generated from the contracts (plus the few a contract cannot state).

A suite is a list of :class:`ExpectationSpec`: a Great Expectations 1.x expectation type,
its kwargs and a severity. They are plain data so that they can be rendered for review
(``quality/suites/<dataset>.json``, committed, checked against the contracts by a test) and
turned into GX objects only where a validation runs (:mod:`lakehouse.quality.checkpoint`).

What the contract says becomes:

=================================  ===============================================  ========
contract                           expectation                                      severity
=================================  ===============================================  ========
the column list                    expect_table_columns_to_match_set                block
``type``                           expect_column_values_to_be_in_type_list          block
``nullable: false``                expect_column_values_to_not_be_null              block
``checks.min`` / ``checks.max``    expect_column_values_to_be_between               checks
``checks.allowed_values``          expect_column_values_to_be_in_set                checks
``checks.pattern``                 expect_column_values_to_match_regex              checks
``checks.references``              expect_column_values_to_be_in_set (looked up)    checks
``primary_key``                    expect_column_values_to_be_unique / compound     warn
``rules`` (expression)             expect_column_pair_values_a_to_be_greater_than_b rule
``rules`` (row_count_between)      expect_table_row_count_to_be_between             rule
=================================  ===============================================  ========

A key repeated inside one batch is a warning, not a rejection: silver keeps the newest
version of each key (that is how updates arrive).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import sqlglot
import yaml
from sqlglot import expressions as exp

from lakehouse.contracts import Contract, Severity
from lakehouse.lake.schema import LINEAGE_COLUMNS
from lakehouse.settings import REPO_ROOT

HAND_WRITTEN_DIR = REPO_ROOT / "quality" / "expectations"
SUITES_DIR = REPO_ROOT / "quality" / "suites"
REFERENCE_KEY = "$references"  # placeholder value_set, resolved when the suite runs

#: pandas dtypes a contract type arrives as (Arrow → pandas; an int column with nulls is float).
PANDAS_TYPES: dict[str, list[str]] = {
    "string": ["object", "str", "string"],
    "json": ["object", "str", "string"],
    "int": ["int8", "int16", "int32", "int64", "Int32", "Int64", "float64"],
    "bigint": ["int32", "int64", "Int64", "float64"],
    "double": ["float32", "float64", "Float64"],
    "boolean": ["bool", "boolean", "object"],
    "date": ["object", "date", "datetime64[ms]", "datetime64[s]"],
    "timestamp": ["datetime64[us]", "datetime64[ns]", "datetime64[ms]"],  # naive UTC, see to_pandas
}
_DECIMAL_TYPES = ["object", "Decimal"]


@dataclass(frozen=True)
class ExpectationSpec:
    type: str  # GX's snake_case name, e.g. expect_column_values_to_be_between
    kwargs: dict
    severity: Severity
    origin: str  # where it comes from: "contract columns.lon.checks", "quality/expectations/…"
    notes: str = ""

    @property
    def target(self) -> str:
        k = self.kwargs
        if "column" in k:
            return k["column"]
        if "column_A" in k:
            return f"{k['column_A']},{k['column_B']}"
        if "column_list" in k:
            return ",".join(k["column_list"])
        return "table"

    @property
    def rule(self) -> str:
        """How quarantine and ``ops`` name it: ``expect_column_values_to_be_between(lon)``."""
        return f"{self.type}({self.target})"

    @property
    def references(self) -> str | None:
        value = self.kwargs.get("value_set")
        return value.get(REFERENCE_KEY) if isinstance(value, dict) else None

    def to_json(self) -> dict:
        return {"type": self.type, "kwargs": self.kwargs,
                "meta": {"severity": self.severity.value, "origin": self.origin,
                         **({"notes": self.notes} if self.notes else {})}}


@dataclass
class SuiteSpec:
    name: str
    expectations: list[ExpectationSpec] = field(default_factory=list)

    def add(self, type_: str, severity: Severity, origin: str, notes: str = "", **kwargs) -> None:
        self.expectations.append(ExpectationSpec(type_, kwargs, severity, origin, notes))

    def to_json(self) -> dict:
        return {"name": self.name, "meta": {"generated_from": f"catalog/datasets/{self.name}.yaml"},
                "expectations": [e.to_json() for e in self.expectations]}


def _column_expectations(suite: SuiteSpec, contract: Contract) -> None:
    for column in contract.columns:
        origin, checks = f"contract columns.{column.name}", column.checks
        types = _DECIMAL_TYPES if column.decimal_precision else PANDAS_TYPES[column.type]
        suite.add("expect_column_values_to_be_in_type_list", Severity.block, f"{origin}.type",
                  column=column.name, type_list=types)
        if not column.nullable:
            suite.add("expect_column_values_to_not_be_null", Severity.block, f"{origin}.nullable",
                      column=column.name)
        if checks.min is not None or checks.max is not None:
            suite.add("expect_column_values_to_be_between", checks.severity, f"{origin}.checks",
                      column=column.name, min_value=checks.min, max_value=checks.max)
        if checks.allowed_values is not None:
            suite.add("expect_column_values_to_be_in_set", checks.severity, f"{origin}.checks",
                      column=column.name, value_set=list(checks.allowed_values))
        if checks.pattern is not None:
            suite.add("expect_column_values_to_match_regex", checks.severity, f"{origin}.checks",
                      column=column.name, regex=checks.pattern)
        if checks.references is not None:
            suite.add("expect_column_values_to_be_in_set", checks.references_severity or checks.severity,
                      f"{origin}.checks.references",
                      column=column.name, value_set={REFERENCE_KEY: checks.references})
        if checks.unique and [column.name] != contract.primary_key:
            suite.add("expect_column_values_to_be_unique", checks.severity, f"{origin}.checks",
                      column=column.name)


_FLIP = {exp.LT: exp.GT, exp.LTE: exp.GTE, exp.GT: exp.LT, exp.GTE: exp.LTE}


def expression_expectations(expression: str, severity: Severity, origin: str) -> list[ExpectationSpec]:
    """A contract rule such as ``a < b and b < c`` as GX column-pair expectations.

    Only comparisons of two columns (or a column and a number) joined by AND are accepted:
    anything else is a hand-written expectation, where a reviewer can see what it means.
    """
    out: list[ExpectationSpec] = []

    def visit(node: exp.Expression) -> None:
        if isinstance(node, exp.Paren):
            return visit(node.this)
        if isinstance(node, exp.And):
            visit(node.left)
            visit(node.right)
            return
        if not isinstance(node, (exp.LT, exp.LTE, exp.GT, exp.GTE, exp.EQ)):
            raise ValueError(f"rule '{expression}': {node.sql()} is not a comparison")  # noqa: TRY004 (a bad rule, not a bad type)
        left, right, kind = node.left, node.right, type(node)
        if isinstance(left, exp.Literal) and isinstance(right, exp.Column):
            left, right, kind = right, left, _FLIP.get(kind, kind)
        if isinstance(left, exp.Column) and isinstance(right, exp.Column):
            a, b = left.name, right.name
            if kind is exp.EQ:
                out.append(ExpectationSpec("expect_column_pair_values_to_be_equal",
                                           {"column_A": a, "column_B": b, "ignore_row_if": "either_value_is_missing"},
                                           severity, origin))
                return
            if kind in (exp.LT, exp.LTE):
                a, b = b, a
            out.append(ExpectationSpec(
                "expect_column_pair_values_a_to_be_greater_than_b",
                {"column_A": a, "column_B": b, "or_equal": kind in (exp.LTE, exp.GTE),
                 "ignore_row_if": "either_value_is_missing"}, severity, origin))
            return
        if isinstance(left, exp.Column) and isinstance(right, exp.Literal) and not right.is_string:
            value = float(right.this)
            bounds = {exp.LT: ("max_value", True), exp.LTE: ("max_value", False),
                      exp.GT: ("min_value", True), exp.GTE: ("min_value", False)}
            if kind is exp.EQ:
                kwargs = {"column": left.name, "min_value": value, "max_value": value}
            else:
                key, strict = bounds[kind]
                kwargs = {"column": left.name, key: value, f"strict_{key.split('_')[0]}": strict}
            out.append(ExpectationSpec("expect_column_values_to_be_between", kwargs, severity, origin))
            return
        raise ValueError(f"rule '{expression}': {node.sql()} must compare columns or a column and a number")

    visit(sqlglot.parse_one(expression))
    return out


def _rule_expectations(suite: SuiteSpec, contract: Contract) -> None:
    for rule in contract.rules:
        origin = f"contract rules.{rule.name}"
        if rule.kind == "row_count_between":
            suite.add("expect_table_row_count_to_be_between", rule.severity, origin,
                      min_value=rule.min, max_value=rule.max)
        elif rule.kind == "compound_unique":
            suite.add("expect_compound_columns_to_be_unique", rule.severity, origin, column_list=rule.columns)
        elif rule.kind == "expression" and rule.expression:
            suite.expectations.extend(expression_expectations(rule.expression, rule.severity, origin))


def hand_written(contract: Contract, directory: Path = HAND_WRITTEN_DIR) -> list[ExpectationSpec]:
    """``quality/expectations/<dataset>.yaml``: what a contract cannot say, in GX's own terms."""
    path = directory / f"{contract.name}.yaml"
    if not path.exists():
        return []
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = []
    for index, item in enumerate(document.get("expectations", [])):
        try:
            out.append(ExpectationSpec(item["type"], dict(item.get("kwargs", {})),
                                       Severity(item.get("severity", "warn")),
                                       f"quality/expectations/{path.name}", item.get("why", "")))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}: expectations[{index}]: {exc}") from exc
    return out


def suite_for(contract: Contract, directory: Path = HAND_WRITTEN_DIR) -> SuiteSpec:
    suite = SuiteSpec(contract.name)
    suite.add("expect_table_columns_to_match_set", Severity.block, "contract columns",
              column_set=[c.name for c in contract.columns] + list(LINEAGE_COLUMNS), exact_match=False)
    _column_expectations(suite, contract)
    if len(contract.primary_key) == 1:
        suite.add("expect_column_values_to_be_unique", Severity.warn, "contract primary_key",
                  "a repeated key is an update; silver keeps the newest", column=contract.primary_key[0])
    else:
        suite.add("expect_compound_columns_to_be_unique", Severity.warn, "contract primary_key",
                  "a repeated key is an update; silver keeps the newest", column_list=contract.primary_key)
    _rule_expectations(suite, contract)
    suite.expectations.extend(hand_written(contract, directory))
    return suite


def render(contract: Contract) -> str:
    return json.dumps(suite_for(contract).to_json(), indent=2, ensure_ascii=False) + "\n"
