"""Where tables live: ``{lake_root}/{tier}/{name}``, the same on a folder and on S3."""

from __future__ import annotations

from enum import Enum

from deltalake import DeltaTable
from pyarrow.fs import FileSelector, FileType

from lakehouse.lake.delta import try_open
from lakehouse.lake.storage import lake_filesystem
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
    """(tier, name, uri) for every Delta table under the lake root, on a folder or on S3 alike
    (one listing per tier, then one probe for each folder's ``_delta_log``)."""
    settings = settings or get_settings()
    fs = lake_filesystem(settings)
    root = settings.lake_root.rstrip("/")
    found: list[tuple[Tier, str, str]] = []
    for tier in Tier:
        children = fs.get_file_info(FileSelector(tier.value, allow_not_found=True))
        for child in sorted((c for c in children if c.type == FileType.Directory), key=lambda c: c.base_name):
            if fs.get_file_info(f"{tier.value}/{child.base_name}/_delta_log").type == FileType.Directory:
                found.append((tier, child.base_name, f"{root}/{tier.value}/{child.base_name}"))
    return found


def open_table(tier: Tier | str, name: str, settings: Settings | None = None) -> DeltaTable | None:
    return try_open(table_uri(tier, name, settings), storage_options(settings))
