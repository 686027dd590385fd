"""Filters the bridge understands: the ones Spark pushes (``pyspark.sql.datasource``
filter objects) and the simple terms of a SQL predicate turned into the same objects.

Two uses, two standards of proof:

* ``evaluate`` decides a filter on a partition value with SQL three-valued logic. It is
  exact, so a file whose partition value is not ``True`` is dropped.
* ``may_match`` asks whether a file's min/max/null-count statistics leave room for a
  match. It only ever answers "no" when it is sure (NaN, truncated strings and
  millisecond-truncated timestamps are accounted for), and the rows are still filtered.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pyspark.sql import types as T
from pyspark.sql.datasource import (
    EqualNullSafe,
    EqualTo,
    GreaterThan,
    GreaterThanOrEqual,
    In,
    IsNotNull,
    IsNull,
    LessThan,
    LessThanOrEqual,
    Not,
    StringContains,
    StringEndsWith,
    StringStartsWith,
)

STRING_STATS_MAX = 32  # Delta truncates string statistics to this many characters


def _compatible(value: Any, kind: T.DataType) -> bool:
    """Whether a pushed literal compares with this column's Python values exactly."""
    if value is None:
        return True
    if isinstance(kind, T.StringType):
        return isinstance(value, str)
    if isinstance(kind, T.BooleanType):
        return isinstance(value, bool)
    if isinstance(kind, T.ByteType | T.ShortType | T.IntegerType | T.LongType):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(kind, T.DecimalType):
        return isinstance(value, Decimal | int) and not isinstance(value, bool)
    if isinstance(kind, T.FloatType | T.DoubleType):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(kind, T.DateType):
        return isinstance(value, date) and not isinstance(value, datetime)
    if isinstance(kind, T.TimestampType):
        return isinstance(value, datetime) and value.tzinfo is not None
    if isinstance(kind, T.TimestampNTZType):
        return isinstance(value, datetime) and value.tzinfo is None
    return False


def filter_column(flt: Any) -> str | None:
    """The single top-level column a pushed filter reads (``None`` for nested or composite)."""
    if isinstance(flt, Not):
        return filter_column(flt.child)
    attribute = getattr(flt, "attribute", ())
    return attribute[0] if len(attribute) == 1 else None


def supported(flt: Any, kind: T.DataType) -> bool:
    if isinstance(flt, Not):
        return supported(flt.child, kind)
    if isinstance(flt, IsNull | IsNotNull):
        return True
    if isinstance(flt, StringStartsWith | StringEndsWith | StringContains):
        return isinstance(kind, T.StringType) and isinstance(flt.value, str)
    if isinstance(flt, In):
        return all(_compatible(v, kind) for v in flt.value)
    if isinstance(flt, EqualTo | EqualNullSafe | GreaterThan | GreaterThanOrEqual | LessThan
                  | LessThanOrEqual):
        return _compatible(flt.value, kind) and (flt.value is not None
                                                 or isinstance(flt, EqualNullSafe))
    return False


def evaluate(flt: Any, value: Any) -> bool | None:
    """SQL three-valued result of a pushed filter on one (partition) value."""
    if isinstance(flt, Not):
        inner = evaluate(flt.child, value)
        return None if inner is None else not inner
    if isinstance(flt, IsNull):
        return value is None
    if isinstance(flt, IsNotNull):
        return value is not None
    if isinstance(flt, EqualNullSafe):
        return value == flt.value
    if value is None:
        return None
    if isinstance(flt, In):
        if value in [v for v in flt.value if v is not None]:
            return True
        return None if any(v is None for v in flt.value) else False
    checks = {
        EqualTo: lambda a, b: a == b, GreaterThan: lambda a, b: a > b,
        GreaterThanOrEqual: lambda a, b: a >= b, LessThan: lambda a, b: a < b,
        LessThanOrEqual: lambda a, b: a <= b,
        StringStartsWith: lambda a, b: a.startswith(b), StringEndsWith: lambda a, b: a.endswith(b),
        StringContains: lambda a, b: b in a,
    }
    return bool(checks[type(flt)](value, flt.value))


def may_match(flt: Any, kind: T.DataType, *, rows: int | None, low: Any, high: Any,
              nulls: int | None) -> bool:
    """False only when a file's statistics (row count, min, max, null count of the
    filter's column) prove that no row satisfies ``flt``."""
    if isinstance(flt, IsNull):
        return nulls is None or nulls > 0
    if isinstance(flt, IsNotNull):
        return nulls is None or rows is None or nulls < rows
    if isinstance(kind, T.FloatType | T.DoubleType | T.BooleanType | T.BinaryType):
        return True  # NaN ordering and missing bool stats: never skip on these
    if isinstance(high, datetime):
        high = high + timedelta(milliseconds=1)  # statistics are truncated to milliseconds
    if isinstance(high, str) and len(high) >= STRING_STATS_MAX:
        high = None  # possibly truncated: not an upper bound
    try:
        if isinstance(flt, EqualTo):
            return not ((low is not None and flt.value < low)
                        or (high is not None and flt.value > high))
        if isinstance(flt, In):
            values = [v for v in flt.value if v is not None]
            return any(not ((low is not None and v < low) or (high is not None and v > high))
                       for v in values)
        if isinstance(flt, GreaterThan):
            return high is None or high > flt.value
        if isinstance(flt, GreaterThanOrEqual):
            return high is None or high >= flt.value
        if isinstance(flt, LessThan):
            return low is None or low < flt.value
        if isinstance(flt, LessThanOrEqual):
            return low is None or low <= flt.value
    except TypeError:
        return True
    return True


# --------------------------------------------------------------------------- SQL predicates

_COMPARISONS = {"EQ": EqualTo, "GT": GreaterThan, "GTE": GreaterThanOrEqual, "LT": LessThan,
                "LTE": LessThanOrEqual, "NullSafeEQ": EqualNullSafe}
_FLIPPED = {"GT": "LT", "GTE": "LTE", "LT": "GT", "LTE": "GTE"}


def referenced_columns(predicate: str) -> list[str]:
    """Column names a SQL predicate mentions (Spark dialect), in order of appearance."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(predicate, read="spark")
    return list(dict.fromkeys(c.name for c in tree.find_all(exp.Column)))


def filters_from_sql(predicate: str, schema: T.StructType, time_zone: str = "UTC") -> list[Any]:
    """The top-level AND terms of ``predicate`` that are simple ``column <op> literal``
    comparisons, as the filter objects Spark would push, typed for the column. Terms that
    do not convert (OR, functions, casts of columns, literals of the wrong type) are left
    out: these filters only prune files, the caller still applies the whole predicate."""
    import sqlglot
    from sqlglot import exp

    try:
        tree = sqlglot.parse_one(predicate, read="spark")
    except sqlglot.errors.ParseError:
        return []
    kinds = {f.name.lower(): (f.name, f.dataType) for f in schema.fields}
    terms = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    found: list[Any] = []
    for term in terms:
        found.extend(_convert(term.unnest(), kinds, time_zone))
    return found


def _convert(term: Any, kinds: dict[str, tuple[str, T.DataType]], tz: str) -> list[Any]:
    from sqlglot import exp

    def column(node: Any) -> tuple[str, T.DataType] | None:
        if isinstance(node, exp.Column) and not node.table:
            return kinds.get(node.name.lower())
        return None

    if isinstance(term, exp.Not):
        inner = term.this.unnest()
        if isinstance(inner, exp.Is) and isinstance(inner.expression, exp.Null):
            target = column(inner.this)
            return [IsNotNull((target[0],))] if target else []
        converted = _convert(inner, kinds, tz)
        return [Not(converted[0])] if len(converted) == 1 else []
    if isinstance(term, exp.Is) and isinstance(term.expression, exp.Null):
        target = column(term.this)
        return [IsNull((target[0],))] if target else []
    if isinstance(term, exp.In):
        target = column(term.this)
        if not target or term.args.get("query"):
            return []
        values = [_literal(v, target[1], tz) for v in term.expressions]
        if any(v is _NO for v in values):
            return []
        return [In((target[0],), tuple(values))]
    if isinstance(term, exp.Between):
        target = column(term.this)
        low, high = (_literal(term.args[k], target[1], tz) if target else _NO
                     for k in ("low", "high"))
        if not target or low is _NO or high is _NO or low is None or high is None:
            return []
        return [GreaterThanOrEqual((target[0],), low), LessThanOrEqual((target[0],), high)]
    name = type(term).__name__
    if name in _COMPARISONS or name == "NEQ":
        left, right = term.this.unnest(), term.expression.unnest()
        if column(left) is None and column(right) is not None:
            left, right, name = right, left, _FLIPPED.get(name, name)
        target = column(left)
        if target is None:
            return []
        value = _literal(right, target[1], tz)
        if value is _NO or (value is None and name != "NullSafeEQ"):
            return []
        if name == "NEQ":
            return [Not(EqualTo((target[0],), value))]
        return [_COMPARISONS[name]((target[0],), value)]
    return []


_NO = object()  # "not a literal this column can be compared with exactly"


def _literal(node: Any, kind: T.DataType, tz: str) -> Any:
    from sqlglot import exp

    node = node.unnest()
    if isinstance(node, exp.Cast):
        node = node.this.unnest()
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return node.this if isinstance(kind, T.BooleanType) else _NO
    negative = isinstance(node, exp.Neg)
    if negative:
        node = node.this.unnest()
    if not isinstance(node, exp.Literal):
        return _NO
    text = ("-" if negative else "") + str(node.this)
    try:
        if isinstance(kind, T.StringType):
            return text if node.is_string else _NO
        if isinstance(kind, T.ByteType | T.ShortType | T.IntegerType | T.LongType):
            return int(text) if not node.is_string else _NO
        if isinstance(kind, T.DecimalType):
            return Decimal(text) if not node.is_string else _NO
        if isinstance(kind, T.FloatType | T.DoubleType):
            return float(text) if not node.is_string else _NO
        if isinstance(kind, T.DateType):
            return date.fromisoformat(text) if node.is_string else _NO
        if isinstance(kind, T.TimestampType | T.TimestampNTZType) and node.is_string:
            moment = datetime.fromisoformat(text)
            if isinstance(kind, T.TimestampNTZType):
                return moment if moment.tzinfo is None else _NO
            if moment.tzinfo is None:
                from zoneinfo import ZoneInfo

                moment = moment.replace(tzinfo=ZoneInfo(tz))
            return moment.astimezone(UTC)
    except ValueError:
        return _NO
    return _NO
