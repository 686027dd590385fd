"""dbt ``sources.yml`` generated from the contracts: the silver tier as dbt sees it.

Written to ``dbt_project/models/staging/_sources.yml`` by ``ioc catalog generate``; a test
fails when the committed file differs from what the contracts say.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from lakehouse.contracts import Catalog, PiiAction
from lakehouse.pipeline.conform import added_columns
from lakehouse.settings import get_settings

HEADER = "# GENERATED from catalog/ by `ioc catalog generate`; edit the contracts, not this file.\n"


def sources_document(catalog: Catalog) -> dict:
    tables = []
    for contract in sorted(catalog, key=lambda c: c.name):
        columns = []
        for column in contract.columns:
            if column.effective_pii_action is PiiAction.drop:
                continue  # never reaches silver
            entry: dict = {"name": column.name, "description": column.description or column.source_name or ""}
            tests = []
            if not column.nullable:
                tests.append("not_null")
            if contract.primary_key == [column.name]:
                tests.append("unique")
            if tests:
                entry["data_tests"] = tests
            entry["meta"] = {"type": column.type, "pii": column.pii.value, **({"unit": column.unit} if column.unit else {})}
            columns.append(entry)
        for name in added_columns(contract):  # silver places geolocated rows on the map
            columns.append({"name": name, "description": "Administrative unit in force at the event date, "
                            "from the location (nearest centroid)",
                            "meta": {"type": "string", "pii": "none", "derived_in": "silver"}})
        table: dict = {
            "name": contract.name,
            "description": contract.description.strip(),
            "meta": {
                "owner": contract.owner,
                "classification": contract.classification.value,
                "primary_key": contract.primary_key,
            },
            "columns": columns,
        }
        if contract.freshness and contract.event_time:
            table["loaded_at_field"] = "_ingested_at"
        tables.append(table)
    return {
        "version": 2,
        "sources": [
            {
                "name": "silver",
                "description": "Typed, deduplicated, PII-protected tables of the lake's silver tier (Delta).",
                "meta": {
                    # dbt-duckdb reads each source through delta_scan over the lake folder.
                    "external_location": "delta_scan('{{ env_var('IOC_LAKE_ROOT') }}/silver/{name}')"
                },
                "tables": tables,
            }
        ],
    }


def render(catalog: Catalog) -> str:
    return HEADER + yaml.safe_dump(sources_document(catalog), sort_keys=False, allow_unicode=True, width=100)


def target_path() -> Path:
    return get_settings().dbt_project_dir / "models" / "staging" / "_sources.yml"


def outputs(catalog: Catalog) -> dict[Path, str]:
    return {target_path(): render(catalog)}


def write(catalog: Catalog, path: Path | None = None) -> Path:
    path = path or target_path()
    path.write_text(render(catalog), encoding="utf-8")
    return path
