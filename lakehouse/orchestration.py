"""What the DAGs in ``dags/`` need from the platform, kept light enough to import at parse time.

DAG files read contracts (YAML, milliseconds) and build Airflow objects; everything heavy
(Polars, delta-rs, dbt) is imported inside the task callables.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from lakehouse.contracts import Catalog, Contract, load_catalog
from lakehouse.settings import get_settings

# Every source kind has a connector (lakehouse.ingest.connectors); listed so a new kind is a
# deliberate addition.
INGESTIBLE_KINDS = ("file", "reference", "camera", "database", "api", "open311", "mqtt")
DEFAULT_ARGS = {"owner": "ioc", "retries": 2, "retry_delay": timedelta(seconds=30),
                "retry_exponential_backoff": True, "max_retry_delay": timedelta(minutes=10)}
_SOURCE_REF = re.compile(r"source\(\s*['\"]silver['\"]\s*,\s*['\"](\w+)['\"]\s*\)")


def catalog() -> Catalog:
    return load_catalog(get_settings().catalog_dir)


def asset(tier: str, dataset: str):
    """The Airflow Asset for one lake table; DAGs are linked by these, never by sensors."""
    from airflow.sdk import Asset

    return Asset(name=f"{tier}.{dataset}", uri=f"ioc-lake://{tier}/{dataset}", group="lake")


def systems(kinds: tuple[str, ...] = INGESTIBLE_KINDS) -> dict[str, list[Contract]]:
    grouped: dict[str, list[Contract]] = {}
    for contract in catalog():
        if contract.source.kind.value in kinds:
            grouped.setdefault(contract.source.system, []).append(contract)
    return grouped


def referenced_first(contracts) -> list[Contract]:
    """Contracts ordered so that datasets others reference (registries, admin units) build
    silver first: the gate's reference checks then have values to look up."""
    contracts = list(contracts)
    referenced = {col.checks.references.split(".")[0] for c in contracts for col in c.columns
                  if col.checks.references}
    return sorted(contracts, key=lambda c: (c.name not in referenced, c.name))


def dbt_silver_sources(project_dir: Path | None = None) -> list[str]:
    """Silver tables the dbt project reads (found in its staging models' ``source()`` calls)."""
    project_dir = project_dir or get_settings().dbt_project_dir
    found: set[str] = set()
    for sql in (project_dir / "models" / "staging").glob("*.sql"):
        found.update(_SOURCE_REF.findall(sql.read_text(encoding="utf-8")))
    return sorted(found)


def owner_of(contracts: list[Contract]) -> str:
    return ",".join(sorted({c.owner for c in contracts}))


def dbt_marts(project_dir: Path | None = None) -> list[str]:
    """The marts (``models/marts``): what gold publishes, one Asset each."""
    project_dir = project_dir or get_settings().dbt_project_dir
    return sorted(p.stem for p in (project_dir / "models" / "marts").rglob("*.sql"))


def dbt_target() -> str:
    """The dbt target (profiles.yml): ``duckdb`` embedded, ``trino`` in production."""
    return os.environ.get("IOC_DBT_TARGET", "duckdb")


def watch_after_build(group) -> None:
    """Put every cosmos watcher task of ``group`` after the group's single ``dbt build``.

    In watcher mode the per-model tasks poll for the producer's results; left as roots they
    can start before it and, on an executor that runs one task at a time (``dag.test()``,
    the demo), wait forever for a build that never starts. After it, each reads its model's
    result at once, and a branch that skips the build skips them too."""
    producer = next(t for t in group.children.values() if t.task_id.endswith("dbt_producer_watcher"))
    for child in group.children.values():
        if child is not producer and not child.upstream_list:
            producer >> child


def spark_job_task(task_id: str, script: str, outlets: list, embedded: Callable[[], dict]):
    """The Airflow task that runs one Spark job: in production (``IOC_MODE=production``)
    ``spark-submit`` of ``spark_jobs/<script>`` to ``IOC_SPARK_MASTER``; embedded, ``embedded``
    (the same job on a local session in the worker). Call the result to add the task."""
    from airflow.sdk import task

    from lakehouse.settings import REPO_ROOT, Mode

    settings = get_settings()
    if settings.mode is not Mode.production:
        return task(task_id=task_id, outlets=outlets)(embedded)
    command = (f"spark-submit --master '{settings.spark_master}' --name ioc-{Path(script).stem.replace('_', '-')} "
               f"'{REPO_ROOT / 'spark_jobs' / script}'")

    def submit() -> str:
        return command

    return task.bash(task_id=task_id, outlets=outlets)(submit)
