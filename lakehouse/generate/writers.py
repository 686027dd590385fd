"""Render typed rows in each source's native form: CSV in the declared encoding and
delimiter, xlsx with a title block, JSON arrays, JSON lines.

Headers/keys are the columns' ``source_name`` (falling back to the column name), date
layouts come from ``source_format`` and encodings/delimiters from ``source.options``: the
writers read the contract so that a contract change changes the files.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import unicodedata
from datetime import date, datetime
from typing import Any

import xlsxwriter

from lakehouse.contracts import Contract
from lakehouse.contracts.model import Column
from lakehouse.generate.context import FIXED_CREATED, GenContext, Part, Raw, key_of

#: Which encoding a wrong-encoding re-send uses, by the encoding the contract declares.
WRONG_ENCODING = {
    "utf-8-sig": "cp1258",
    "utf-8": "cp1258",
    "utf-16": "utf-8-sig",
    "cp1258": "utf-8",
}

# cp1258 has precomposed â ê ô ă ơ ư đ but most tone marks only as combining characters.
_SHAPE_MARKS = {"\u0302", "\u0306", "\u031b"}  # circumflex, breve, horn


def _cp1258_char(ch: str) -> bytes:
    try:
        return ch.encode("cp1258")
    except UnicodeEncodeError:
        pass
    decomposed = unicodedata.normalize("NFD", ch)
    base = decomposed[0] + "".join(m for m in decomposed[1:] if m in _SHAPE_MARKS)
    tones = "".join(m for m in decomposed[1:] if m not in _SHAPE_MARKS)
    return unicodedata.normalize("NFC", base).encode("cp1258") + tones.encode("cp1258")


def encode_text(text: str, encoding: str) -> bytes:
    """Encode like the department's tools do. ``utf-16`` is written little-endian with a
    BOM whatever the platform; ``cp1258`` spells tones with combining marks (readers must
    NFC-normalise after decoding)."""
    name = codecs.lookup(encoding).name
    if name == "utf-16":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if name == "cp1258":
        return b"".join(_cp1258_char(ch) for ch in text)
    return text.encode(encoding)


def declared_encoding(contract: Contract) -> str:
    return str(contract.source.options.get("encoding", "utf-8"))


def _number_text(value: float, decimal_comma: bool) -> str:
    text = str(value) if isinstance(value, int) else repr(float(value))
    if "e" in text:  # never scientific notation: spreadsheets exported by hand do not use it
        text = format(value, "f").rstrip("0").rstrip(".")
    return text.replace(".", ",") if decimal_comma else text


def text_value(column: Column, value: Any, decimal_comma: bool = False) -> str:
    """A value as text for CSV cells."""
    if value is None:
        return ""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime(column.source_format) if column.source_format else value.isoformat()
    if isinstance(value, date):
        return value.strftime(column.source_format) if column.source_format else value.isoformat()
    if isinstance(value, (int, float)):
        return _number_text(value, decimal_comma)
    return str(value)


def json_value(column: Column, value: Any) -> Any:
    """A value for JSON: native numbers and booleans, ISO-8601 (+07:00) timestamps."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, datetime):
        return value.strftime(column.source_format) if column.source_format else value.isoformat()
    if isinstance(value, date):
        return value.strftime(column.source_format) if column.source_format else value.isoformat()
    return value


def json_record(contract: Contract, row: dict[str, Any]) -> dict[str, Any]:
    return {key_of(c): json_value(c, row.get(c.name)) for c in contract.delivered_columns}


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(", ", ": "))


def write_json_array(ctx: GenContext, contract: Contract, part: Part) -> None:
    records = [json_record(contract, row) for row in part.rows]
    text = json.dumps(records, ensure_ascii=False, indent=1) + "\n"
    ctx.write_bytes(part.file, text.encode("utf-8"))


def write_jsonl(ctx: GenContext, contract: Contract, part: Part) -> None:
    lines = [dumps(json_record(contract, row)) for row in part.rows]
    ctx.write_bytes(part.file, ("\n".join(lines) + "\n").encode("utf-8"))


def csv_text(contract: Contract, rows: list[dict[str, Any]]) -> str:
    options = contract.source.options
    decimal_comma = bool(options.get("decimal_comma", False))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=str(options.get("delimiter", ",")), lineterminator="\r\n")
    writer.writerow([key_of(c) for c in contract.delivered_columns])
    for row in rows:
        writer.writerow([text_value(c, row.get(c.name), decimal_comma) for c in contract.delivered_columns])
    return buffer.getvalue()


def write_csv(ctx: GenContext, contract: Contract, part: Part, encoding: str | None = None) -> None:
    text = csv_text(contract, part.rows)
    ctx.write_bytes(part.file, encode_text(text, encoding or declared_encoding(contract)))


def write_xlsx(ctx: GenContext, contract: Contract, parts: list[Part]) -> None:
    """One workbook holding ``parts`` as sheets: title block, header on the contract's
    ``header_row`` (1-based), data below. Numbers as numbers, dates as text in
    ``source_format``; defects write text into numeric cells."""
    header_row = int(contract.source.options.get("header_row", 1)) - 1
    workbook = xlsxwriter.Workbook(str(ctx.path(parts[0].file)), {"in_memory": True})
    workbook.set_properties(
        {
            "title": contract.title,
            "author": contract.owner,
            "company": "Tỉnh Quảng Ninh",
            "created": FIXED_CREATED,
        }
    )
    bold = workbook.add_format({"bold": True})
    for part in parts:
        if len(part.title) > header_row:
            raise ValueError(
                f"{part.file}: {len(part.title)} title lines do not fit above row {header_row + 1}"
            )
        sheet = workbook.add_worksheet(part.sheet)
        for r, line in enumerate(part.title):
            if line:
                sheet.write_string(r, 0, line, bold)
        for c, column in enumerate(contract.delivered_columns):
            sheet.write_string(header_row, c, key_of(column), bold)
        for r, row in enumerate(part.rows, start=header_row + 1):
            for c, column in enumerate(contract.delivered_columns):
                value = row.get(column.name)
                if value is None:
                    continue
                if isinstance(value, Raw):
                    sheet.write_string(r, c, value.text)
                elif isinstance(value, bool):
                    sheet.write_boolean(r, c, value)
                elif isinstance(value, (int, float)):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, text_value(column, value))
        sheet.set_column(0, len(contract.delivered_columns) - 1, 18)
    workbook.close()
