"""GeoReport v2 bodies in the two formats the spec names: XML (required by the spec) and JSON.

The format is the resource's extension (``/requests.xml``, ``/requests.json``), as the spec
asks; errors answer in the format the request asked for, in the spec's error shape:
``[{"code": 404, "description": "..."}]`` or ``<errors><error><code>404</code>…``.
Every text is UTF-8 and said so in the Content-Type, and XML starts with its declaration.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any
from xml.etree import ElementTree as ET

from starlette.responses import Response

JSON_TYPE = "application/json; charset=utf-8"
XML_TYPE = "text/xml; charset=utf-8"


class Format(str, Enum):
    """A resource's extension."""

    json = "json"
    xml = "xml"


def format_of(path: str) -> Format:
    """The format a request asked for, from its path (JSON unless it ends in ``.xml``)."""
    return Format.xml if path.lower().endswith(".xml") else Format.json


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _xml(root: str, item: str, records: Iterable[Mapping[str, Any]]) -> bytes:
    top = ET.Element(root)
    for record in records:
        element = ET.SubElement(top, item)
        for name, value in record.items():
            ET.SubElement(element, name).text = _text(value)
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def body(records: list[Mapping[str, Any]], fmt: Format, *, root: str, item: str) -> tuple[bytes, str]:
    """A list of records as ``(bytes, content type)``: a JSON array, or ``<root><item>…``."""
    if fmt is Format.xml:
        return _xml(root, item, records), XML_TYPE
    return _json(records), JSON_TYPE


def records_response(records: list[Mapping[str, Any]], fmt: Format, *, root: str, item: str,
                     headers: Mapping[str, str] | None = None) -> Response:
    content, media_type = body(records, fmt, root=root, item=item)
    return Response(content, media_type=media_type, headers=dict(headers or {}))


def error_response(status: int, description: str, fmt: Format,
                   headers: Mapping[str, str] | None = None) -> Response:
    """An Open311 error: ``[{"code", "description"}]`` or ``<errors><error>…``."""
    content, media_type = body([{"code": status, "description": description}], fmt, root="errors", item="error")
    return Response(content, status_code=status, media_type=media_type, headers=dict(headers or {}))


__all__ = ["JSON_TYPE", "XML_TYPE", "Format", "body", "error_response", "format_of", "records_response"]
