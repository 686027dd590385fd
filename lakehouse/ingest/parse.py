"""Contract-driven parsing of delivered text into typed rows, with a reason for every reject.

Input is a Polars frame of *strings* exactly as delivered (Vietnamese headers, ``dd/mm/yyyy``
dates, decimal commas) plus ``_row_number``; output is the typed frame in contract order and
the rejected rows, each with the first rule it broke. Nothing is dropped silently:
``len(parsed) + len(rejected) == len(delivered)``.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass

import polars as pl

from lakehouse.contracts import Column, Contract

ROW_NUMBER = "_row_number"
_TRUE = ["true", "1", "yes", "y", "có", "co", "t"]
_FALSE = ["false", "0", "no", "n", "không", "khong", "f"]


class FileRejected(Exception):
    """The delivery as a whole cannot be read against its contract (wrong encoding, missing
    columns). The file goes to the failed area with this message; no row is loaded."""


def normalise_header(text: str) -> str:
    """Headers differ by case, spacing and Unicode form (NFC vs NFD Vietnamese) between
    exports of the same report; compare them on one normal form."""
    return " ".join(unicodedata.normalize("NFC", str(text)).casefold().split())


@dataclass(frozen=True)
class ParseOptions:
    decimal_comma: bool = False  # "1.234,5" instead of "1,234.5"
    timezone: str = "Asia/Ho_Chi_Minh"  # naive local times are Vietnamese time

    @classmethod
    def from_contract(cls, contract: Contract, timezone: str = "Asia/Ho_Chi_Minh") -> ParseOptions:
        return cls(decimal_comma=bool(contract.source.options.get("decimal_comma", False)), timezone=timezone)


def records_to_frame(records: list[dict]) -> pl.DataFrame:
    """JSON-like records (API pages, database rows, MQTT payloads) as the text they were
    delivered as: typing them is the contract's job, in ``parse``, for every source alike."""

    def text(value):
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, (dict, list, bool)):
            return json.dumps(value, ensure_ascii=False)
        if hasattr(value, "isoformat"):  # datetime/date from database drivers
            return value.isoformat()
        return str(value)

    columns = list(dict.fromkeys(k for r in records for k in r))
    return pl.DataFrame({c: [text(r.get(c)) for r in records] for c in columns},
                        schema={c: pl.String for c in columns})


def map_headers(frame: pl.DataFrame, contract: Contract) -> pl.DataFrame:
    """Rename delivered headers to contract column names; raise FileRejected listing every
    contract column the delivery lacks."""
    delivered = {normalise_header(name): name for name in frame.columns if name != ROW_NUMBER}
    renames, missing = {}, []
    derived = [c.name for c in contract.columns if c.derived and c.name in frame.columns]
    for column in contract.delivered_columns:
        wanted = [column.source_name, column.name] if column.source_name else [column.name]
        found = next((delivered[normalise_header(w)] for w in wanted if normalise_header(w) in delivered), None)
        if found is None:
            missing.append(column.source_name or column.name)
        else:
            renames[found] = column.name
    if missing:
        raise FileRejected(
            f"{contract.name}: delivery lacks columns {missing}; it has {sorted(delivered.values())}"
        )
    keep = [ROW_NUMBER, *renames] if ROW_NUMBER in frame.columns else list(renames)
    mapped = frame.select([*keep, *derived]).rename(renames)
    # Derived columns the connector did not compute stay empty (and fail if required).
    return mapped.with_columns(
        pl.lit(None, pl.String).alias(c.name) for c in contract.columns if c.name not in mapped.columns
    )


def _clean(name: str) -> pl.Expr:
    text = pl.col(name).cast(pl.String).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text)


def _number_text(name: str, options: ParseOptions) -> pl.Expr:
    text = _clean(name).str.replace_all(r"\s", "")
    if options.decimal_comma:
        return text.str.replace_all(".", "", literal=True).str.replace_all(",", ".", literal=True)
    return text.str.replace_all(",", "", literal=True)


def _timestamp(name: str, column: Column, options: ParseOptions) -> pl.Expr:
    text = _clean(name)
    if column.source_format:
        naive = text.str.strptime(pl.Datetime("us"), column.source_format, strict=False)
        return naive.dt.replace_time_zone(options.timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")
    # ISO 8601: with an offset it is an instant; without one it is Vietnamese local time.
    iso = text.str.replace(" ", "T", literal=True).str.replace(r"Z$", "+00:00")
    with_offset = iso.str.strptime(pl.Datetime("us", "UTC"), "%Y-%m-%dT%H:%M:%S%.f%z", strict=False)
    naive = pl.coalesce(
        iso.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M:%S%.f", strict=False),
        iso.str.strptime(pl.Datetime("us"), "%Y-%m-%dT%H:%M", strict=False),
    )
    local = naive.dt.replace_time_zone(options.timezone, ambiguous="earliest", non_existent="null")
    has_offset = iso.str.contains(r"[+-]\d{2}:?\d{2}$")
    return pl.when(has_offset).then(with_offset).otherwise(local.dt.convert_time_zone("UTC"))


def typed_expr(column: Column, options: ParseOptions) -> pl.Expr:
    """The expression that turns a delivered string column into the contract type
    (null where the text does not parse)."""
    name, kind = column.name, column.type
    if kind in ("string", "json"):
        out = _clean(name)
    elif kind == "int":
        out = _number_text(name, options).cast(pl.Float64, strict=False)
        out = pl.when(out == out.round(0)).then(out).otherwise(None).cast(pl.Int32, strict=False)
    elif kind == "bigint":
        out = _number_text(name, options).cast(pl.Float64, strict=False)
        out = pl.when(out == out.round(0)).then(out).otherwise(None).cast(pl.Int64, strict=False)
    elif kind == "double":
        out = _number_text(name, options).cast(pl.Float64, strict=False)
    elif column.decimal_precision:
        precision, scale = column.decimal_precision
        out = _number_text(name, options).cast(pl.Float64, strict=False).round(scale).cast(
            pl.Decimal(precision, scale), strict=False
        )
    elif kind == "boolean":
        text = _clean(name).str.to_lowercase()
        out = pl.when(text.is_in(_TRUE)).then(True).when(text.is_in(_FALSE)).then(False).otherwise(None)
    elif kind == "date":
        fmt = column.source_format or "%Y-%m-%d"
        out = _clean(name).str.slice(0, 10 if fmt == "%Y-%m-%d" else None).str.strptime(pl.Date, fmt, strict=False)
    elif kind == "timestamp":
        out = _timestamp(name, column, options)
    else:  # pragma: no cover - the contract model rejects unknown types
        raise ValueError(f"unsupported type {kind}")
    return out.alias(name)


def quote_expr(text: pl.Expr) -> pl.Expr:
    """``json.dumps(value, ensure_ascii=False)`` as a vectorised expression: reasons are
    built for every value of every column, so a Python call per value would dominate parsing.
    Other control characters (rare in deliveries) become U+FFFD instead of ``\\u00XX``."""
    escaped = (
        text.str.replace_all("\\", "\\\\", literal=True)
        .str.replace_all('"', '\\"', literal=True)
        .str.replace_all("\n", "\\n", literal=True)
        .str.replace_all("\r", "\\r", literal=True)
        .str.replace_all("\t", "\\t", literal=True)
        .str.replace_all(r"[\x00-\x1f]", "\ufffd")
    )
    return pl.lit('"') + escaped + pl.lit('"')


def _failure(column: Column, contract: Contract) -> tuple[str, str]:
    """(rule, kind of failure) for a value that did not parse."""
    if column.type in ("date", "timestamp"):
        return f"parse.{column.name}", "bad_date"
    return f"parse.{column.name}", "wrong_type"


@dataclass
class ParseResult:
    parsed: pl.DataFrame  # contract columns, typed, plus _row_number
    rejected: pl.DataFrame  # _row_number, _rule, _reason, _raw


def parse(frame: pl.DataFrame, contract: Contract, options: ParseOptions | None = None) -> ParseResult:
    """Type every column; reject rows where a value does not parse or a required value is
    missing, naming the column, the value and why."""
    options = options or ParseOptions.from_contract(contract)
    frame = map_headers(frame, contract)
    if ROW_NUMBER not in frame.columns:
        frame = frame.with_row_index(ROW_NUMBER, offset=1).with_columns(pl.col(ROW_NUMBER).cast(pl.Int64))
    frame = frame.with_columns(pl.col(c.name).cast(pl.String) for c in contract.columns)
    typed = frame.select(pl.col(ROW_NUMBER), *(typed_expr(c, options) for c in contract.columns))

    reasons = []
    for column in contract.columns:
        raw, value = frame[column.name], typed[column.name]
        delivered = raw.is_not_null() & (raw.str.strip_chars() != "")
        rule, kind = _failure(column, contract)
        reasons.append(
            pl.when(delivered & value.is_null())
            .then(pl.lit(f"{rule}|{kind}: {column.name}=") + quote_expr(raw.str.slice(0, 60))
                  + pl.lit(f" is not a valid {column.type}"))
            .otherwise(None)
        )
        if not column.nullable:
            kind = "missing_key" if column.name in contract.primary_key else "missing_value"
            reasons.append(
                pl.when(~delivered).then(pl.lit(f"required.{column.name}|{kind}: {column.name} is empty")).otherwise(None)
            )
    first = pl.coalesce(reasons) if reasons else pl.lit(None, pl.String)
    checked = typed.with_columns(first.alias("_failure"))
    bad = checked.filter(pl.col("_failure").is_not_null())

    raw_json = frame.filter(pl.col(ROW_NUMBER).is_in(bad[ROW_NUMBER].implode())).select(
        pl.col(ROW_NUMBER),
        pl.struct([c.name for c in contract.columns]).struct.json_encode().alias("_raw"),
    )
    rejected = (
        bad.select(ROW_NUMBER, "_failure")
        .join(raw_json, on=ROW_NUMBER, how="left")
        .select(
            pl.col(ROW_NUMBER),
            pl.col("_failure").str.split_exact("|", 1).struct.field("field_0").alias("_rule"),
            pl.col("_failure").str.split_exact("|", 1).struct.field("field_1").alias("_reason"),
            pl.col("_raw"),
        )
    )
    parsed = checked.filter(pl.col("_failure").is_null()).drop("_failure")
    return ParseResult(parsed=parsed, rejected=rejected)
