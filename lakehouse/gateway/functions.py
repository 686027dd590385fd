"""Trino functions sqlglot leaves as they are, rewritten for DuckDB.

sqlglot maps most of Trino's function library to DuckDB (date_format, date_parse, date_diff,
regexp_*, json_extract_scalar, transform/filter lambdas, approx_distinct, max_by, …). These
few it passes through unchanged, so DuckDB would answer "function does not exist" or, worse
(``format``), a different result; each is rewritten here to the DuckDB function that gives
Trino's answer. The list is checked by ``tests/gateway/test_dialect.py``.
"""

from __future__ import annotations

import re

from sqlglot import exp

from lakehouse.gateway.errors import TrinoError

# Joda-Time pattern letters (Trino's format_datetime / parse_datetime) -> strftime.
_JODA = {
    "yyyy": "%Y", "yy": "%y", "y": "%Y", "MMMM": "%B", "MMM": "%b", "MM": "%m", "M": "%-m", "dd": "%d", "d": "%-d",
    "HH": "%H", "H": "%-H", "hh": "%I", "h": "%-I", "mm": "%M", "m": "%-M", "ss": "%S", "s": "%-S",
    "SSS": "%g", "SSSSSS": "%f", "a": "%p", "EEEE": "%A", "EEE": "%a", "E": "%a", "Z": "%z", "ZZ": "%z", "z": "%Z",
    "DDD": "%j", "D": "%-j",
}
_JODA_TOKEN = re.compile(r"'[^']*'|([A-Za-z])\1*|.", re.DOTALL)


def joda_to_strftime(pattern: str) -> str:
    """``yyyy-MM-dd HH:mm`` -> ``%Y-%m-%d %H:%M``; quoted text stays literal."""
    out = []
    for token in (m.group(0) for m in _JODA_TOKEN.finditer(pattern)):
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%") if token != "''" else "'")
        elif token[0].isalpha():
            if token not in _JODA:
                raise TrinoError("NOT_SUPPORTED", f"format_datetime pattern letter '{token}' is not supported by "
                                                  "the SQL gateway")
            out.append(_JODA[token])
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out)


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _double(text: str) -> exp.Expression:
    return exp.cast(exp.Literal.string(text), "DOUBLE")


def _format_datetime(node: exp.Anonymous) -> exp.Expression:
    value, pattern = (node.expressions + [None, None])[:2]
    if not isinstance(pattern, exp.Literal) or not pattern.is_string:
        raise TrinoError("NOT_SUPPORTED", "format_datetime needs a literal pattern in the SQL gateway")
    return _call("strftime", value, exp.Literal.string(joda_to_strftime(pattern.name)))


def _at_timezone(node: exp.Anonymous) -> exp.Expression:
    # Trino's at_timezone(ts, zone) is ``ts AT TIME ZONE zone``; Superset's sqlglot writes the
    # operator form as this function when it formats a chart's SQL for Trino.
    if len(node.expressions) != 2:
        raise TrinoError("FUNCTION_NOT_FOUND", "at_timezone takes a timestamp and a time zone")
    value, zone = node.expressions
    return exp.AtTimeZone(this=value, zone=zone)


_ANONYMOUS = {
    "at_timezone": _at_timezone,
    "format_datetime": _format_datetime,
    "infinity": lambda node: _double("Infinity"),
    "nan": lambda node: _double("NaN"),
    "codepoint": lambda node: _call("unicode", *node.expressions),
}


def rewrite_functions(tree: exp.Expression) -> exp.Expression:
    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Anonymous):
            rewrite = _ANONYMOUS.get(str(node.this).lower())
            return rewrite(node) if rewrite else node
        if isinstance(node, exp.Format):  # Trino's format() is Java's String.format: printf, not {}
            return _call("printf", node.this, *node.expressions)
        return node

    return tree.transform(swap)


__all__ = ["joda_to_strftime", "rewrite_functions"]
