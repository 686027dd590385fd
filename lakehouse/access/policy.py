"""Who may read which lake table, with which rows and which columns masked.

Computed from the contracts (grants, owner, PII classes, classification) and, for gold, from
dbt's lineage. Every enforcement point is generated from this one object: Trino's
``rules.json`` (and the embedded SQL gateway that enforces the same file), Superset's roles
and row-level security, the open-data export.

The rules, tier by tier:

* **silver** — exactly the contract's grants. PII is already hashed/masked/dropped at rest, so
  no column masks are needed. A grant to ``public`` covers every department the contract does
  not name (a department named gets its own grant, row filter included).
* **bronze** — the raw delivery, with clear personal data: the owner, and departments whose
  grant unmasks some column. Every PII column the reader's grant does not unmask is masked.
* **quarantine** — the owner only (rows as delivered, with their reasons); ``_raw`` and
  ``_reason`` are masked unless its grant unmasks every PII column.
* **gold** — a department reads a mart if it may read every contract the mart is made of, with
  the row filters of those grants (a mart without the filtered column is refused to it:
  a filter that cannot be applied is no filter). Classification is the highest of its
  sources', unless the model declares its own (aggregates of confidential data).
* **ops** — the platform's own tables (quality, freshness, audit): the operations center.
* The ``platform`` group (data engineers, dbt, Airflow) has every privilege; it is not a
  department and holds no grant here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from lakehouse.access.lineage import GoldLineage
from lakehouse.contracts import Catalog, Classification, Contract, Department, Grant, PiiAction
from lakehouse.reference import admin_units

PUBLIC = "public"  # the department code that stands for everyone (open data)
PLATFORM = "platform"  # data engineers and the platform's service users: not a department
OPERATIONS = "ioc"  # the operations center watches the platform's own tables
MASK_TEXT = "'***'"
_RANK = {c: i for i, c in enumerate(Classification)}


@dataclass(frozen=True)
class TableInfo:
    """A table as the access layer sees it."""

    tier: str
    name: str
    classification: Classification
    owner: str
    sources: tuple[str, ...]  # contracts it is made of (itself, for silver/bronze)
    columns: tuple[str, ...]
    title: str = ""
    description: str = ""

    @property
    def key(self) -> str:
        return f"{self.tier}.{self.name}"


@dataclass(frozen=True)
class TableAccess:
    """One department's read access to one table."""

    department: str
    tier: str
    table: str
    row_filter: str | None = None  # SQL predicate, units substituted; valid in Trino and DuckDB
    masks: dict[str, str] = field(default_factory=dict)  # column -> SQL expression served instead
    basis: str = ""  # why: the contract grant, ownership, or the lineage it follows

    @property
    def key(self) -> str:
        return f"{self.tier}.{self.table}"


class AccessPolicy:
    """Every table and every department's access to it. Build with :func:`build_policy`."""

    def __init__(self, departments: dict[str, Department], tables: dict[str, TableInfo],
                 grants: list[TableAccess]):
        self.departments = departments
        self.tables = tables
        self.grants = tuple(sorted(grants, key=lambda g: (g.tier, g.table, g.department)))

    def grants_for(self, department: str) -> list[TableAccess]:
        if department not in self.departments:
            raise KeyError(f"no department '{department}' in the catalog")
        return [g for g in self.grants if g.department == department]

    def readers(self, key: str) -> list[TableAccess]:
        return [g for g in self.grants if g.key == key]

    def access(self, department: str, key: str) -> TableAccess | None:
        return next((g for g in self.grants if g.department == department and g.key == key), None)

    def public_tables(self) -> list[TableInfo]:
        """Tables classified public that the public may read unfiltered: the open data."""
        return [self.tables[g.key] for g in self.grants
                if g.department == PUBLIC and g.row_filter is None and not g.masks
                and self.tables[g.key].classification is Classification.public]


def unit_area(unit_code: str) -> list[str]:
    """Every unit code of ``unit_code``'s area over time: itself, the units it absorbed
    (their ``successor_code``), the units below it (``parent_code``) and the units the 2025
    reform made of its area (``former_district_code``)."""
    units = admin_units()
    area, frontier = {unit_code}, [unit_code]
    while frontier:
        code = frontier.pop()
        for column in ("successor_code", "parent_code", "former_district_code"):
            for child in units.filter(units[column] == code)["unit_code"].to_list():
                if child not in area:
                    area.add(child)
                    frontier.append(child)
    return sorted(area)


def render_row_filter(grant: Grant, department: Department) -> str | None:
    if not grant.row_filter:
        return None
    values = {}
    if department.unit_code:
        values = {"unit_code": department.unit_code,
                  "unit_codes": ", ".join(f"'{c}'" for c in unit_area(department.unit_code))}
    return grant.row_filter.format(**values)


def filter_columns(predicate: str) -> set[str]:
    return {c.name for c in sqlglot.parse_one(predicate).find_all(exp.Column)}


def _mask(contract: Contract, column: str) -> str:
    return MASK_TEXT if contract.column(column).type in ("string", "json") else "NULL"


def _silver_columns(contract: Contract) -> tuple[str, ...]:
    from lakehouse.pipeline.conform import added_columns
    from lakehouse.pipeline.pii import silver_columns

    return tuple(dict.fromkeys([*silver_columns(contract), *added_columns(contract)]))


def build_policy(catalog: Catalog, gold: dict[str, GoldLineage]) -> AccessPolicy:
    from lakehouse.lake.schema import LINEAGE_COLUMNS, QUARANTINE_SCHEMA

    departments = dict(catalog.departments)
    tables: dict[str, TableInfo] = {}
    grants: list[TableAccess] = []
    # Department -> (contract -> its rendered row filter or None), for gold's lineage rule.
    readable: dict[str, dict[str, str | None]] = {d: {} for d in departments}

    for contract in catalog:
        named = {g.department: g for g in contract.grants}
        silver = TableInfo("silver", contract.name, contract.classification, contract.owner,
                           (contract.name,), _silver_columns(contract), contract.title,
                           " ".join(contract.description.split()))
        tables[silver.key] = silver
        everyone = PUBLIC in named
        for code, department in departments.items():
            grant = named.get(code) or (named[PUBLIC] if everyone else None)
            if grant is None:
                continue
            row_filter = render_row_filter(grant, department) if code in named else None
            if row_filter and not filter_columns(row_filter) <= set(silver.columns):
                raise ValueError(f"{contract.name}: the row filter for {code} names columns "
                                 f"that silver does not have: {row_filter}")
            readable[code][contract.name] = row_filter
            basis = f"grant in {contract.name}" if code in named else f"public grant in {contract.name}"
            grants.append(TableAccess(code, "silver", contract.name, row_filter, {}, basis))

        pii = [c.name for c in contract.columns if c.effective_pii_action is not PiiAction.keep]
        raw_columns = (*(c.name for c in contract.columns), *LINEAGE_COLUMNS)
        tables[f"bronze.{contract.name}"] = TableInfo(
            "bronze", contract.name, contract.classification, contract.owner, (contract.name,),
            raw_columns, contract.title, "As delivered, with clear personal data.")
        tables[f"quarantine.{contract.name}"] = TableInfo(
            "quarantine", contract.name, contract.classification, contract.owner, (contract.name,),
            tuple(QUARANTINE_SCHEMA.names), contract.title, "Rows that failed parsing or the gate.")
        raw_readers = {g.department for g in contract.grants if g.unmasked} | {contract.owner}
        for code in sorted(raw_readers):
            unmasked = set(named[code].unmasked) if code in named else set()
            row_filter = render_row_filter(named[code], departments[code]) if code in named else None
            if row_filter and not filter_columns(row_filter) <= set(raw_columns):
                continue  # the filter needs a column only silver has: no raw access
            masks = {c: _mask(contract, c) for c in pii if c not in unmasked}
            basis = "owner" if code == contract.owner else f"grant in {contract.name} unmasks {sorted(unmasked)}"
            grants.append(TableAccess(code, "bronze", contract.name, row_filter, masks, basis))
        owner_unmasks_all = set(pii) <= (set(named[contract.owner].unmasked) if contract.owner in named else set())
        masks = {} if owner_unmasks_all else {"_raw": MASK_TEXT, "_reason": MASK_TEXT}
        grants.append(TableAccess(contract.owner, "quarantine", contract.name, None, masks, "owner"))

    for name, lineage in sorted(gold.items()):
        sources = sorted(lineage.sources)
        unknown = [s for s in sources if s not in catalog.contracts]
        if unknown:
            raise ValueError(f"gold.{name} reads silver tables with no contract: {unknown}")
        declared = lineage.classification
        classification = declared or max((catalog[s].classification for s in sources),
                                         key=_RANK.__getitem__, default=Classification.public)
        info = TableInfo("gold", name, classification, lineage.owner or OPERATIONS, tuple(sources),
                         lineage.columns, name.replace("_", " "), lineage.description)
        tables[info.key] = info
        for code in departments:
            if not all(s in readable[code] for s in sources):
                continue
            filters = sorted({readable[code][s] for s in sources if readable[code][s]})
            row_filter = " AND ".join(f"({f})" for f in filters) if len(filters) > 1 else (filters or [None])[0]
            if row_filter and not filter_columns(row_filter) <= set(lineage.columns):
                continue  # the mart cannot be narrowed to this department's rows
            basis = f"reads {', '.join(sources) or 'reference data only'}"
            grants.append(TableAccess(code, "gold", name, row_filter, {}, basis))

    if OPERATIONS in departments:
        grants.append(TableAccess(OPERATIONS, "ops", "*", None, {}, "the platform's own tables"))
    return AccessPolicy(departments, tables, grants)


def load_policy(settings=None) -> AccessPolicy:
    """The policy for the configured catalog and dbt project (parses dbt if it changed)."""
    from lakehouse.access.lineage import gold_lineage, load_manifest
    from lakehouse.contracts import load_catalog
    from lakehouse.pipeline.dbt_runner import ensure_manifest
    from lakehouse.settings import get_settings

    settings = settings or get_settings()
    catalog = load_catalog(settings.catalog_dir)
    return build_policy(catalog, gold_lineage(load_manifest(ensure_manifest(settings))))


__all__ = ["OPERATIONS", "PLATFORM", "PUBLIC", "AccessPolicy", "TableAccess", "TableInfo",
           "build_policy", "filter_columns", "load_policy", "render_row_filter", "unit_area"]
