import yaml

from lakehouse.codegen import dbt_sources


def test_committed_sources_match_the_contracts(catalog):
    committed = dbt_sources.target_path().read_text(encoding="utf-8")
    assert committed == dbt_sources.render(catalog), "run `ioc catalog generate`"


def test_sources_follow_contracts(catalog):
    document = yaml.safe_load(dbt_sources.render(catalog))
    tables = {t["name"]: t for t in document["sources"][0]["tables"]}
    assert set(tables) == {c.name for c in catalog}
    columns = {c["name"]: c for c in tables["disease_surveillance"]["columns"]}
    assert "clinical_notes" not in columns  # dropped PII never reaches silver
    assert columns["case_id"]["data_tests"] == ["not_null", "unique"]
    assert "unique" not in columns["report_week"].get("data_tests", [])
