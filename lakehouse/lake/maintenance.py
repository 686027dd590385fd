"""Keep Delta tables quick to read: compact small files, checkpoint the log, vacuum old files.

Every batch adds a commit and at least one small Parquet file, and a reader (DuckDB's
``delta_scan``, delta-rs, Trino, Spark) replays the log and opens every live file. Measured on
``make demo``'s lake: ``select count(*)`` on ``ops.quality_results`` after 47 batches (47 files)
takes 20.9 ms, 5.8 ms once compacted, 1.5 ms on a one-file table; ``benchmarks/lake_maintenance.py``
has ten days of 15-minute batches (43× slower than one file, 5.6× after). So once
a day (DAG ``lake_maintenance``, or ``ioc lake maintain``) every table that has gathered
``min_files`` files is bin-packed into files of up to ``target_file_mb``, the log gets a
checkpoint, and files no version younger than ``vacuum_retention_hours`` reads are deleted.

Nothing a reader or a re-run relies on changes:

* compaction is one commit that rewrites files without changing data (``dataChange: false``):
  readers see the same rows before and after, and a crash before that commit leaves the
  table as it was (its new files are orphans the next vacuum removes);
* the batches' application transactions live in the log and its checkpoints, so a batch
  committed before the compaction is still recognised and skipped when re-run;
* time travel keeps working for ``vacuum_retention_hours`` (a week by default, Delta's own
  default for deleted files).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from deltalake import DeltaTable

from lakehouse.lake.paths import Tier, list_tables, storage_options
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MaintenancePolicy:
    """When and how a table is maintained."""

    min_files: int = 16  # fewer live files than this: not worth a rewrite
    target_file_mb: int = 128
    vacuum_retention_hours: int = 168  # a week of time travel, Delta's default

    def __post_init__(self) -> None:
        if self.min_files < 2 or self.target_file_mb < 1 or self.vacuum_retention_hours < 0:
            raise ValueError(f"invalid maintenance policy: {self}")


@dataclass(frozen=True)
class TableMaintenance:
    """What maintaining one table did."""

    uri: str
    version_before: int
    version_after: int
    files_before: int
    files_after: int
    files_vacuumed: int
    seconds: float

    @property
    def compacted(self) -> bool:
        return self.files_after < self.files_before


def maintain_table(uri: str, policy: MaintenancePolicy | None = None,
                   storage_options: dict | None = None) -> TableMaintenance:
    """Compact ``uri`` if it has gathered enough files, checkpoint its log, vacuum it."""
    policy = policy or MaintenancePolicy()
    started = time.perf_counter()
    table = DeltaTable(uri, storage_options=storage_options)
    version_before, files_before = table.version(), len(table.file_uris())
    if files_before >= policy.min_files:
        # Appends committed meanwhile do not conflict with it; a MERGE that read the replaced
        # files loses its commit and is planned again (``delta.merge``).
        table.optimize.compact(target_size=policy.target_file_mb * 1024 * 1024)
        # Readers start from here instead of replaying every commit. The commits themselves
        # stay: ``ops_freshness`` finds a dataset's last delivery in its history.
        table.create_checkpoint()
    vacuumed = table.vacuum(retention_hours=policy.vacuum_retention_hours, dry_run=False,
                            enforce_retention_duration=False)
    table = DeltaTable(uri, storage_options=storage_options)
    result = TableMaintenance(uri, version_before, table.version(), files_before, len(table.file_uris()),
                              len(vacuumed), time.perf_counter() - started)
    log.info("%s: %d → %d files, %d vacuumed, %.2f s", uri, result.files_before, result.files_after,
             result.files_vacuumed, result.seconds)
    return result


def label(uri: str) -> str:
    """``tier.table`` of a table's URI, for people."""
    tier, name = uri.rstrip("/").rsplit("/", 2)[-2:]
    return f"{tier}.{name}"


def lake_tables(settings: Settings | None = None, tiers: Iterable[Tier | str] | None = None) -> list[str]:
    """The URIs of every Delta table of ``tiers`` (default: all)."""
    wanted = {Tier(t) for t in tiers} if tiers else set(Tier)
    return [uri for tier, _name, uri in list_tables(settings) if tier in wanted]


def maintain_lake(settings: Settings | None = None, policy: MaintenancePolicy | None = None,
                  tiers: Iterable[Tier | str] | None = None, *, progress: bool = False) -> list[TableMaintenance]:
    """:func:`maintain_table` on every table of ``tiers``, with a progress bar if asked."""
    settings = settings or get_settings()
    uris = lake_tables(settings, tiers)
    options = storage_options(settings)
    if not progress:
        return [maintain_table(uri, policy, options) for uri in uris]
    from rich.progress import Progress

    results = []
    with Progress(transient=True) as bar:
        task = bar.add_task("maintaining the lake", total=len(uris))
        for uri in uris:
            bar.update(task, description=label(uri))
            results.append(maintain_table(uri, policy, options))
            bar.advance(task)
    return results


__all__ = ["MaintenancePolicy", "TableMaintenance", "label", "lake_tables", "maintain_lake", "maintain_table"]
