"""Where tables live: ``{lake_root}/{tier}/{name}``, the same on a folder and on S3."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from deltalake import DeltaTable

from lakehouse.lake.delta import try_open
from lakehouse.settings import Settings, get_settings


class Tier(str, Enum):
    bronze = "bronze"  # exactly what arrived, plus lineage columns
    quarantine = "quarantine"  # rows that failed parsing or a blocking rule, with the reason
    silver = "silver"  # typed, deduplicated, conformed, PII protected
    gold = "gold"  # shared marts built by dbt
    ops = "ops"  # the platform's own tables: quality results, batch log


def table_uri(tier: Tier | str, name: str, settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    root = settings.lake_root.rstrip("/")
    return f"{root}/{Tier(tier).value}/{name}"


def storage_options(settings: Settings | None = None) -> dict[str, str] | None:
    settings = settings or get_settings()
    return dict(settings.storage_options) or None


def list_tables(settings: Settings | None = None) -> list[tuple[Tier, str, str]]:
    """(tier, name, uri) for every Delta table under the lake root (local lakes only;
    an object-store lake is listed from the catalog instead)."""
    settings = settings or get_settings()
    found: list[tuple[Tier, str, str]] = []
    if not settings.is_local_lake:
        return found
    root = Path(settings.lake_root.removeprefix("file://"))
    for tier in Tier:
        folder = root / tier.value
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if (child / "_delta_log").is_dir():
                found.append((tier, child.name, str(child)))
    return found


def open_table(tier: Tier | str, name: str, settings: Settings | None = None) -> DeltaTable | None:
    return try_open(table_uri(tier, name, settings), storage_options(settings))
