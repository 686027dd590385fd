import csv
import io

import yaml

from lakehouse.codegen import GENERATORS, dbt_seeds


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_registered_for_ioc_catalog_generate():
    assert GENERATORS["dbt_seeds"] is dbt_seeds


def test_committed_seeds_match_the_contracts(catalog):
    for path, text in dbt_seeds.outputs(catalog).items():
        assert path.exists(), f"{path} missing: run `ioc catalog generate`"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `ioc catalog generate`"


def test_departments_seed_follows_the_catalog(catalog):
    rows = {r["code"]: r for r in _rows(dbt_seeds.departments_csv(catalog))}
    assert set(rows) == set(catalog.departments)
    assert list(rows["ha_long"].values()) == ["ha_long", "locality", "UBND thành phố Hạ Long",
                                              "Ha Long City People's Committee", "193"]
    assert rows["transport"]["kind"] == "department"  # the model's default is written out
    assert rows["transport"]["unit_code"] == ""  # empty loads as null


def test_datasets_seed_follows_the_contracts(catalog):
    rows = {r["dataset"]: r for r in _rows(dbt_seeds.datasets_csv(catalog))}
    assert set(rows) == {c.name for c in catalog}
    assert rows["admin_dossiers"] == {
        "dataset": "admin_dossiers", "title": catalog["admin_dossiers"].title, "owner": "public_admin",
        "domain": "public_services", "classification": "internal", "source_kind": "api",
        "source_system": "public_admin_api"}
    assert {r["owner"] for r in rows.values()} <= set(catalog.departments)


def test_seed_properties_type_every_column_as_text(catalog):
    document = yaml.safe_load(dbt_seeds.render_yaml())
    seeds = {s["name"]: s for s in document["seeds"]}
    assert set(seeds) == {"departments", "datasets"}
    for name, header in (("departments", dbt_seeds.DEPARTMENT_COLUMNS), ("datasets", dbt_seeds.DATASET_COLUMNS)):
        assert list(seeds[name]["config"]["column_types"]) == list(header)
        assert [c["name"] for c in seeds[name]["columns"]] == list(header)
    kinds = next(c for c in seeds["departments"]["columns"] if c["name"] == "kind")["data_tests"][1]
    assert set(kinds["accepted_values"]["arguments"]["values"]) >= {d.kind for d in catalog.departments.values()}
