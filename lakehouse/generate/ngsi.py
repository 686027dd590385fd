"""NGSI-LD (FIWARE Smart Data Models) entities for MQTT sources, both ways.

The contract column ↔ NGSI-LD attribute mapping lives here once: the generator builds
entities with :func:`to_entity` and ingestion flattens them back with
:func:`flatten_entity`, both driven by :func:`ngsi_attribute_map` (i.e. by the columns'
``source_name``).

Conventions:

* ``id`` is the entity URN; attributes named ``ref*`` are Relationships whose object is
  ``urn:ngsi-ld:<Target>:<code>`` (``refDevice`` → ``Device``); flattening strips the URN
  prefix so ``station_code`` reads ``AQ01``;
* date/timestamp columns are Properties holding ``{"@type": "DateTime", "@value": ...}``;
* ``lon``/``lat`` columns without a ``source_name`` come from the ``location`` GeoProperty
  (``coordinates = [lon, lat]``);
* a null value is an absent attribute (so a missing key is a missing ``refDevice``).
"""

from __future__ import annotations

import re
from typing import Any

from lakehouse.contracts import Contract
from lakehouse.generate.context import Part, Raw
from lakehouse.generate.writers import dumps, json_value

LOCATION = "location"
CORE_CONTEXT = "https://uri.etsi.org/ngsi-ld/v1/ngsi-ld-core-context.jsonld"
#: Smart Data Models context per entity type (subject repository).
MODEL_CONTEXT = {
    "AirQualityObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld",
    "WaterQualityObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Environment/master/context.jsonld",
    "TrafficFlowObserved": "https://raw.githubusercontent.com/smart-data-models/dataModel.Transportation/master/context.jsonld",
}
#: UN/CEFACT common codes for the contract's ``unit`` values.
UNIT_CODES = {"ug/m3": "GQ", "degC": "CEL", "km/h": "KMH", "cm": "CMT", "mm": "MMT", "mg/L": "M1"}
_STANDARD_TYPE = re.compile(r"Smart Data Models\s+([A-Z][A-Za-z]+)")


def entity_type(contract: Contract) -> str:
    """The entity type named in ``contract.standard`` (e.g. ``AirQualityObserved``)."""
    match = _STANDARD_TYPE.search(contract.standard or "")
    if match:
        return match.group(1)
    return "".join(word.capitalize() for word in contract.name.split("_"))


def ngsi_attribute_map(contract: Contract) -> dict[str, str]:
    """``{column: attribute}``: the column's ``source_name``; ``lon``/``lat`` without one
    map to ``location``."""
    mapping: dict[str, str] = {}
    for column in contract.delivered_columns:
        if column.source_name:
            mapping[column.name] = column.source_name
        elif column.name in ("lon", "lat"):
            mapping[column.name] = LOCATION
    return mapping


def relationship_target(attribute: str) -> str | None:
    """``refRoadSegment`` → ``RoadSegment``; ``None`` for plain attributes."""
    if attribute.startswith("ref") and len(attribute) > 3 and attribute[3].isupper():
        return attribute[3:]
    return None


def to_entity(contract: Contract, row: dict[str, Any]) -> dict[str, Any]:
    """Normalised NGSI-LD entity for one typed row."""
    mapping = ngsi_attribute_map(contract)
    etype = entity_type(contract)
    id_column = next(name for name, attr in mapping.items() if attr == "id")
    entity: dict[str, Any] = {
        "id": json_value(contract.column(id_column), row[id_column]),
        "type": etype,
    }
    for column in contract.delivered_columns:
        attribute = mapping.get(column.name)
        value = row.get(column.name)
        if attribute in (None, "id", LOCATION) or value is None:
            continue
        target = relationship_target(attribute)
        if target:
            code = value.text if isinstance(value, Raw) else value
            entity[attribute] = {"type": "Relationship", "object": f"urn:ngsi-ld:{target}:{code}"}
        elif column.type in ("date", "timestamp"):
            entity[attribute] = {
                "type": "Property",
                "value": {"@type": "DateTime", "@value": json_value(column, value)},
            }
        else:
            prop: dict[str, Any] = {"type": "Property", "value": json_value(column, value)}
            if column.unit in UNIT_CODES:
                prop["unitCode"] = UNIT_CODES[column.unit]
            entity[attribute] = prop
    if "lon" in mapping and "lat" in mapping:
        lon, lat = row.get("lon"), row.get("lat")
        entity[LOCATION] = {
            "type": "GeoProperty",
            "value": {
                "type": "Point",
                "coordinates": [
                    json_value(contract.column("lon"), lon),
                    json_value(contract.column("lat"), lat),
                ],
            },
        }
    entity["@context"] = (
        [MODEL_CONTEXT[etype], CORE_CONTEXT] if etype in MODEL_CONTEXT else [CORE_CONTEXT]
    )
    return entity


def flatten_entity(contract: Contract, entity: dict[str, Any]) -> dict[str, Any]:
    """``{column: raw value}`` from one entity, the inverse of :func:`to_entity`. Values are
    returned as found (a defect's string stays a string); absent attributes give ``None``."""
    row: dict[str, Any] = {}
    coordinates = (entity.get(LOCATION) or {}).get("value", {}).get("coordinates") or [None, None]
    for name, attribute in ngsi_attribute_map(contract).items():
        if attribute == "id":
            row[name] = entity.get("id")
        elif attribute == LOCATION:
            row[name] = coordinates[0] if name == "lon" else coordinates[1]
        else:
            node = entity.get(attribute)
            if not isinstance(node, dict):
                row[name] = None
            elif node.get("type") == "Relationship":
                obj = node.get("object")
                row[name] = (
                    obj.split(":", 3)[-1]
                    if isinstance(obj, str) and obj.startswith("urn:ngsi-ld:")
                    else obj
                )
            else:
                value = node.get("value")
                row[name] = (
                    value.get("@value") if isinstance(value, dict) and "@value" in value else value
                )
    return row


def write_mqtt(ctx, contract: Contract, part: Part) -> None:
    """``{"topic": "<location>/<device>", "payload": <entity>}`` per line. Rows carry their
    device under ``_device`` (not a contract column) so the topic survives defects."""
    base = contract.source.location.rstrip("/")
    lines = [
        dumps({"topic": f"{base}/{row['_device']}", "payload": to_entity(contract, row)})
        for row in part.rows
    ]
    ctx.write_bytes(part.file, ("\n".join(lines) + "\n").encode("utf-8"))
