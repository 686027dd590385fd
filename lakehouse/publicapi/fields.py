"""What the public Open311 API may serve, derived from the Open311 source's contract.

The contract is the single source of truth for personal data: a column leaves the platform
through this API only if it is a GeoReport v2 request field *and* its contract PII class
keeps it (``none``) or masks it (``contact``, ``free_text``); masked columns are masked again
on the way out with silver's own mask (idempotent), so even a gold table that carried a clear
value would not leak it. Hashed and dropped columns (phone, e-mail, citizen ids) never leave,
whatever gold holds. The wire names are the contract's ``source_name`` (``lon`` is delivered
and served as Open311's ``long``).

The service list is derived too: codes from the contract's ``allowed_values`` for
``service_code``, names and the responsible agency from the requests themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from lakehouse.contracts import Catalog, Column, Contract, PiiAction, SourceKind

#: GeoReport v2 service request fields, in the order the spec lists them (a fact of the
#: standard, not of any dataset: which of them are served comes from the contract).
REQUEST_FIELDS = ("service_request_id", "status", "status_notes", "service_name", "service_code",
                  "description", "agency_responsible", "service_notice", "requested_datetime",
                  "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
                  "long", "media_url")
#: Without these a response is not a GeoReport v2 request.
REQUIRED_FIELDS = ("service_request_id", "status", "service_code", "requested_datetime")
SERVABLE = (PiiAction.keep, PiiAction.mask)


@dataclass(frozen=True)
class ServedField:
    """One field of a served request: its Open311 name and the contract column behind it."""

    wire: str
    column: Column

    @property
    def name(self) -> str:
        """The column's name in the lake (silver and gold)."""
        return self.column.name

    @property
    def masked(self) -> bool:
        return self.column.effective_pii_action is PiiAction.mask

    @property
    def is_timestamp(self) -> bool:
        return self.column.type == "timestamp"


def open311_contract(catalog: Catalog) -> Contract:
    """The one contract whose source speaks Open311 (the citizen reports)."""
    found = [c for c in catalog if c.source.kind is SourceKind.open311]
    if len(found) != 1:
        raise ValueError(f"the public API needs exactly one Open311 contract in the catalog, found "
                         f"{[c.name for c in found]}")
    return found[0]


def served_fields(contract: Contract) -> tuple[ServedField, ...]:
    """The GeoReport v2 fields the contract lets the public see, in the spec's order."""
    by_wire = {(c.source_name or c.name): c for c in contract.columns}
    fields = tuple(ServedField(wire, by_wire[wire]) for wire in REQUEST_FIELDS
                   if wire in by_wire and by_wire[wire].effective_pii_action in SERVABLE)
    missing = [w for w in REQUIRED_FIELDS if w not in {f.wire for f in fields}]
    if missing:
        raise ValueError(f"{contract.name}: the contract gives no servable column for the Open311 "
                         f"fields {missing}")
    return fields


def withheld_columns(contract: Contract) -> list[str]:
    """Columns that never leave through the public API (for the README and the tests)."""
    served = {f.name for f in served_fields(contract)}
    return [c.name for c in contract.columns if c.name not in served]


def allowed_values(contract: Contract, wire: str) -> list[str]:
    """The contract's allowed values of a served field (service codes, statuses)."""
    [field] = [f for f in served_fields(contract) if f.wire == wire]
    return [str(v) for v in field.column.checks.allowed_values or []]


__all__ = ["REQUEST_FIELDS", "REQUIRED_FIELDS", "ServedField", "allowed_values", "open311_contract",
           "served_fields", "withheld_columns"]
