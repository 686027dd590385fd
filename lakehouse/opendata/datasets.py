"""Which lake tables are open data, and what the catalogue says about each, all derived.

*Which*: exactly the tables the access policy lets the ``public`` group read in full
(:meth:`lakehouse.access.AccessPolicy.public_tables`): silver tables of contracts classified
public and granted to ``public``, and gold marts whose derived classification is public and
whose every source the public may read. Nothing is listed here by hand.

*What is said*: for silver, the contract's title, description, owner department, schedule,
domain, standard and column descriptions and units; for a gold mart, dbt's description and
column docs, the owner the model declares (else the operations center), and from its source
contracts the schedules and domains (a mart is rebuilt whenever a source changes) and the
units of columns it carries under the same name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lakehouse.contracts import Catalog, Contract, Department
from lakehouse.settings import Settings, get_settings


@dataclass(frozen=True)
class ColumnDoc:
    description: str = ""
    unit: str | None = None


@dataclass(frozen=True)
class OpenDataset:
    """One public table and its metadata."""

    tier: str
    name: str
    title: str
    description: str
    publisher: Department
    schedules: tuple[str, ...]  # source schedules (cron or @preset), for the update frequency
    keywords: tuple[str, ...]
    sources: tuple[str, ...]  # contracts it is made of
    columns: dict[str, ColumnDoc] = field(default_factory=dict)
    event_time: str | None = None  # the contract's event-time column (silver)
    standard: str | None = None

    @property
    def key(self) -> str:
        return f"{self.tier}.{self.name}"

    @property
    def stem(self) -> str:
        """File path without extension, relative to the export folder."""
        return f"{self.tier}/{self.name}"


def _contract_columns(contract: Contract) -> dict[str, ColumnDoc]:
    return {c.name: ColumnDoc(c.description, c.unit) for c in contract.columns}


def _mart_docs(manifest: dict) -> dict[str, dict[str, str]]:
    """Model name → column → description, from dbt's manifest."""
    return {n["name"]: {c: (v.get("description") or "") for c, v in n.get("columns", {}).items()}
            for n in manifest.get("nodes", {}).values() if n.get("resource_type") == "model"}


def _inherited_units(sources: list[Contract]) -> dict[str, str]:
    """Units of source columns, where every source carrying that column name agrees."""
    seen: dict[str, set[str | None]] = {}
    for contract in sources:
        for column in contract.columns:
            seen.setdefault(column.name, set()).add(column.unit)
    return {name: next(iter(units)) for name, units in seen.items() if len(units) == 1 and None not in units}


def describe(catalog: Catalog, policy, manifest: dict) -> list[OpenDataset]:
    """Every public table of ``policy`` with its metadata (sorted by tier, then name)."""
    docs = _mart_docs(manifest)
    found: list[OpenDataset] = []
    for info in sorted(policy.public_tables(), key=lambda t: t.key):
        sources = [catalog[s] for s in info.sources]
        publisher = catalog.departments[info.owner]
        schedules = tuple(dict.fromkeys(c.source.schedule for c in sources))
        domains = tuple(dict.fromkeys(c.domain for c in sources))
        if info.tier == "silver":
            [contract] = sources
            found.append(OpenDataset(
                "silver", info.name, contract.title, " ".join(contract.description.split()), publisher,
                schedules, domains, (contract.name,), _contract_columns(contract), contract.event_time,
                contract.standard))
        else:
            units = _inherited_units(sources)
            columns = {name: ColumnDoc(text, units.get(name)) for name, text in docs.get(info.name, {}).items()}
            found.append(OpenDataset(
                info.tier, info.name, info.name.replace("_", " ").capitalize(), info.description, publisher,
                schedules, domains, tuple(sorted(info.sources)), columns))
    return found


def public_datasets(settings: Settings | None = None) -> list[OpenDataset]:
    """The open datasets of the configured catalog and dbt project."""
    from lakehouse.access import load_manifest, load_policy
    from lakehouse.contracts import load_catalog
    from lakehouse.pipeline.dbt_runner import ensure_manifest

    settings = settings or get_settings()
    manifest = load_manifest(ensure_manifest(settings))
    return describe(load_catalog(settings.catalog_dir), load_policy(settings), manifest)


__all__ = ["ColumnDoc", "OpenDataset", "describe", "public_datasets"]
