"""The serving DuckDB file Superset reads: only views over the lake's Delta tables.

Superset's embedded database is ``var/superset/serving.duckdb``, opened **read-only**. It holds
no data, only ``gold.<table>`` and ``ops.<table>`` views over ``delta_scan('<path>')``, so:

* no lock fights: the pipeline's writers (delta-rs, dbt's own warehouse file) never open it,
  and any number of read-only Superset workers can;
* always current: each query re-reads the Delta log, so a new gold version shows on the next
  chart refresh, with snapshot isolation against a commit in flight;
* replaced atomically: a rebuild (a new table appeared) writes a new file,
  ``serving.<version>.duckdb``, and swaps the symlink ``serving.duckdb`` to it. Open readers
  keep the old file; the next connection resolves the link and opens the new one. (A new
  *name* per version matters: DuckDB caches open database instances by path, so a file
  replaced under the same name would keep being served from the cached instance.)

Only the tiers dashboards read are exposed (``gold``, ``ops``): bronze, silver and quarantine
hold data departments are granted table by table, and stay out of Superset.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lakehouse.lake.duck import connect
from lakehouse.lake.paths import Tier, list_tables
from lakehouse.settings import Settings, get_settings

SERVED_TIERS = (Tier.gold, Tier.ops)
KEEP_VERSIONS = 2  # the current file and the one before (queries in flight may still read it)


def build_serving_db(path: Path, settings: Settings | None = None) -> list[str]:
    """(Re)write the serving file behind the link ``path``: one view per Delta table of the
    served tiers; returns the views."""
    settings = settings or get_settings()
    path.parent.mkdir(parents=True, exist_ok=True)
    version = path.with_name(f"{path.stem}.{time.time_ns()}{path.suffix}")
    views = []
    con = connect(str(version))
    try:
        for tier in SERVED_TIERS:
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {tier.value}")
        for tier, name, uri in list_tables(settings):
            if tier in SERVED_TIERS:
                con.execute(f"CREATE VIEW {tier.value}.{name} AS SELECT * FROM delta_scan('{uri}')")
                views.append(f"{tier.value}.{name}")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    link = path.with_name(f".{path.name}.{os.getpid()}.link")
    link.unlink(missing_ok=True)
    link.symlink_to(version.name)
    os.replace(link, path)
    for old in sorted(path.parent.glob(f"{path.stem}.*{path.suffix}"))[:-KEEP_VERSIONS]:
        old.unlink(missing_ok=True)
        old.with_name(f"{old.name}.wal").unlink(missing_ok=True)
    return views


__all__ = ["SERVED_TIERS", "build_serving_db"]
