"""One entry point per dataset: the connector its contract's ``source.kind`` names.

DAG tasks and the CLI call :func:`run_connector`; each connector lands batches through
``parse`` → ``land`` (quarantine, then bronze, idempotent per batch id), so they differ only
in how they fetch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lakehouse.contracts import Contract
from lakehouse.settings import Settings, get_settings


@dataclass
class IngestSummary:
    dataset: str
    connector: str
    batches: int = 0
    bronze_rows: int = 0
    quarantined_rows: int = 0
    failed_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "connector": self.connector, "batches": self.batches,
                "bronze_rows": self.bronze_rows, "quarantined_rows": self.quarantined_rows,
                "failed_files": self.failed_files}


def _summarise(contract: Contract, connector: str, results) -> IngestSummary:
    summary = IngestSummary(contract.name, connector)
    for result in results:
        summary.bronze_rows += result.bronze_rows
        summary.quarantined_rows += getattr(result, "quarantined_rows", 0)
        if getattr(result, "status", "processed") == "failed":
            summary.failed_files.append(result.file)
        summary.batches += len(getattr(result, "batches", [result]))
    return summary


def run_connector(contract: Contract, settings: Settings | None = None) -> IngestSummary:
    settings = settings or get_settings()
    kind = contract.source.kind.value
    if kind in ("file", "reference"):
        from lakehouse.ingest.files import ingest_landing

        return _summarise(contract, "files", ingest_landing(contract, settings))
    if kind == "camera":
        from lakehouse.ingest.cameras import ingest_segments

        return _summarise(contract, "cameras", ingest_segments(contract, settings))
    if kind == "database":
        from lakehouse.ingest.database import extract_table

        return _summarise(contract, "database", extract_table(contract, settings))
    if kind in ("api", "open311"):
        from lakehouse.ingest.api import pull

        return _summarise(contract, "api", pull(contract, settings))
    if kind == "mqtt":
        return run_mqtt_system([contract], settings)[0]
    raise ValueError(f"{contract.name}: no connector for source kind '{kind}'")


def run_mqtt_system(contracts: list[Contract], settings: Settings | None = None) -> list[IngestSummary]:
    """Drain one source system's topics with its one consumer session when a broker is
    configured; otherwise read JSONL drops of the same messages."""
    from lakehouse.ingest import mqtt

    settings = settings or get_settings()
    if not settings.mqtt_url:
        return [_summarise(c, "mqtt-jsonl", mqtt.ingest_jsonl_drops(c, settings)) for c in contracts]
    stats = mqtt.drain(contracts, settings)
    summaries = []
    for contract in contracts:
        dataset = stats.datasets.get(contract.name)
        summaries.append(IngestSummary(
            contract.name, "mqtt", batches=getattr(dataset, "batches", 0),
            bronze_rows=dataset.bronze if dataset else 0,
            quarantined_rows=dataset.quarantined if dataset else 0,
        ))
    return summaries
