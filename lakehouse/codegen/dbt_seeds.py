"""dbt seeds generated from the catalog: departments and datasets as tables gold can join.

The contracts are the single source of truth for who owns what, so ``dim_departments`` and
later marts read them through seeds written by ``ioc catalog generate``:

* ``dbt_project/seeds/departments.csv``: code, kind, name_vi, name_en, unit_code
* ``dbt_project/seeds/datasets.csv``: dataset, title, owner, domain, classification,
  source_kind, source_system
* ``dbt_project/seeds/_seeds.yml``: their descriptions and tests (allowed values come from
  the contract model's enums, so a new classification or source kind needs no edit here)

CSV cannot carry a "generated" banner; ``_seeds.yml`` does. A test fails when the committed
files differ from what the contracts say.
"""

from __future__ import annotations

import csv
import io
import typing
from pathlib import Path

import yaml

from lakehouse.contracts import Catalog, Classification, Department, SourceKind
from lakehouse.settings import get_settings

HEADER = "# GENERATED from catalog/ by `ioc catalog generate`; edit the contracts, not this file.\n"
DEPARTMENT_COLUMNS = ("code", "kind", "name_vi", "name_en", "unit_code")
DATASET_COLUMNS = ("dataset", "title", "owner", "domain", "classification", "source_kind", "source_system")


def seeds_dir() -> Path:
    return get_settings().dbt_project_dir / "seeds"


def _csv(columns: tuple[str, ...], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in columns})
    return buffer.getvalue()


def departments_csv(catalog: Catalog) -> str:
    rows = [
        {"code": d.code, "kind": d.kind, "name_vi": d.name_vi, "name_en": d.name_en, "unit_code": d.unit_code}
        for d in sorted(catalog.departments.values(), key=lambda d: d.code)
    ]
    return _csv(DEPARTMENT_COLUMNS, rows)


def datasets_csv(catalog: Catalog) -> str:
    rows = [
        {
            "dataset": c.name,
            "title": c.title,
            "owner": c.owner,
            "domain": c.domain,
            "classification": c.classification.value,
            "source_kind": c.source.kind.value,
            "source_system": c.source.system,
        }
        for c in sorted(catalog, key=lambda c: c.name)
    ]
    return _csv(DATASET_COLUMNS, rows)


def _accepted(values: list[str]) -> dict:
    return {"accepted_values": {"arguments": {"values": values}}}


def _all_text(columns: tuple[str, ...]) -> dict:
    """Every column varchar: left to inference, unit code "193" would load as an integer."""
    return {"column_types": {name: "varchar" for name in columns}}


def seeds_document() -> dict:
    department_kinds = list(typing.get_args(Department.model_fields["kind"].annotation))
    return {
        "version": 2,
        "seeds": [
            {
                "name": "departments",
                "description": "Departments, agencies and localities of catalog/departments.yaml "
                "(generated; edit the catalog).",
                "config": _all_text(DEPARTMENT_COLUMNS),
                "columns": [
                    {"name": "code", "description": "Department code used by contracts, grants, Trino groups "
                     "and Superset roles", "data_tests": ["unique", "not_null"]},
                    {"name": "kind", "description": "department, agency, locality or center",
                     "data_tests": ["not_null", _accepted(department_kinds)]},
                    {"name": "name_vi", "description": "Vietnamese name", "data_tests": ["not_null"]},
                    {"name": "name_en", "description": "English name", "data_tests": ["not_null"]},
                    {"name": "unit_code", "description": "Administrative unit a locality's users are bound "
                     "to (row filters); empty for province-wide departments"},
                ],
            },
            {
                "name": "datasets",
                "description": "One row per dataset contract in catalog/datasets (generated; edit the catalog).",
                "config": _all_text(DATASET_COLUMNS),
                "columns": [
                    {"name": "dataset", "description": "Contract name (silver table name)",
                     "data_tests": ["unique", "not_null"]},
                    {"name": "title", "description": "Contract title", "data_tests": ["not_null"]},
                    {"name": "owner", "description": "Owning department",
                     "data_tests": ["not_null", {"relationships": {"arguments": {
                         "to": "ref('departments')", "field": "code"}}}]},
                    {"name": "domain", "description": "Business domain", "data_tests": ["not_null"]},
                    {"name": "classification", "description": "Data classification",
                     "data_tests": ["not_null", _accepted([c.value for c in Classification])]},
                    {"name": "source_kind", "description": "How the source delivers (file, database, api, ...)",
                     "data_tests": ["not_null", _accepted([k.value for k in SourceKind])]},
                    {"name": "source_system", "description": "Source system (one ingestion DAG per system)",
                     "data_tests": ["not_null"]},
                ],
            },
        ],
    }


def render_yaml() -> str:
    return HEADER + yaml.safe_dump(seeds_document(), sort_keys=False, allow_unicode=True, width=100)


def outputs(catalog: Catalog) -> dict[Path, str]:
    folder = seeds_dir()
    return {
        folder / "departments.csv": departments_csv(catalog),
        folder / "datasets.csv": datasets_csv(catalog),
        folder / "_seeds.yml": render_yaml(),
    }
