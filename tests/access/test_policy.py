"""The access policy follows the contracts and dbt's lineage, and says no where they do."""

from __future__ import annotations

import json

import pytest
import yaml

from lakehouse.access import (
    PUBLIC,
    build_policy,
    gold_lineage,
    load_manifest,
    load_policy,
    unit_area,
)
from lakehouse.access.lineage import GoldLineage
from lakehouse.codegen import GENERATORS, trino_rules
from lakehouse.contracts import CatalogError, Classification, PiiAction, load_catalog
from lakehouse.pipeline.dbt_runner import ensure_manifest


@pytest.fixture(scope="module")
def lineage():
    return gold_lineage(load_manifest(ensure_manifest()))


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def _expected_silver_readers(contract, departments) -> set[str]:
    named = {g.department for g in contract.grants}
    return set(departments) if PUBLIC in named else named


def test_silver_readers_are_exactly_the_contract_grants(catalog, policy):
    for contract in catalog:
        readers = {g.department for g in policy.readers(f"silver.{contract.name}")}
        assert readers == _expected_silver_readers(contract, catalog.departments), contract.name


def test_a_named_grant_keeps_its_row_filter_beside_a_public_grant(policy):
    # tourism_daily_arrivals is public, but Hạ Long's own grant narrows it to its units.
    ha_long = policy.access("ha_long", "silver.tourism_daily_arrivals")
    assert ha_long.row_filter.startswith("unit_code IN ('193'")
    assert policy.access("tourism", "silver.tourism_daily_arrivals").row_filter is None


def test_a_locality_covers_its_area_over_time():
    ha_long = unit_area("193")
    assert {"193", "204"} <= set(ha_long)  # Hoành Bồ merged into Hạ Long in 2019
    assert {"25001", "25002", "25003", "25004", "25005", "25006"} <= set(ha_long)  # its wards since 2025
    assert "25007" not in ha_long and "195" not in ha_long  # Cẩm Phả is not Hạ Long
    assert unit_area("194") == ["194", "25010"]


def test_raw_tiers_go_to_the_owner_and_unmasking_grants_with_every_other_pii_column_masked(catalog, policy):
    for contract in catalog:
        pii = {c.name for c in contract.columns if c.effective_pii_action is not PiiAction.keep}
        named = {g.department: g for g in contract.grants}
        expected = {contract.owner} | {g.department for g in contract.grants if g.unmasked}
        readers = policy.readers(f"bronze.{contract.name}")
        assert {g.department for g in readers} <= expected, contract.name
        assert contract.owner in {g.department for g in readers}
        for access in readers:
            unmasked = set(named[access.department].unmasked) if access.department in named else set()
            assert set(access.masks) == pii - unmasked, (contract.name, access.department)
        assert [g.department for g in policy.readers(f"quarantine.{contract.name}")] == [contract.owner]
    # The IOC reads citizens' reports raw with the address it needs, never their phones.
    ioc = policy.access("ioc", "bronze.citizen_requests")
    assert "address" not in ioc.masks and ioc.masks["phone"] == "'***'" and "email" in ioc.masks
    assert policy.access("transport", "bronze.citizen_requests") is None


def test_gold_follows_lineage_every_source_or_nothing(catalog, policy, lineage):
    for name, mart in lineage.items():
        for department in catalog.departments:
            may = all(department in _expected_silver_readers(catalog[s], catalog.departments) for s in mart.sources)
            access = policy.access(department, f"gold.{name}")
            if not may:
                assert access is None, (name, department)
            elif access is None:  # only when the mart cannot be narrowed to the department's rows
                filters = [g.row_filter for s in mart.sources
                           if (g := policy.access(department, f"silver.{s}")) and g.row_filter]
                assert filters and "unit_code" not in mart.columns, (name, department)
    # incidents stacks the police's confidential cases: the police's and IOC's grants meet only at the IOC.
    assert {g.department for g in policy.readers("gold.incidents")} == {"ioc"}
    assert policy.tables["gold.incidents"].classification is Classification.confidential
    # A mart declares its own classification (aggregates of confidential data).
    assert policy.tables["gold.unit_daily_scorecard"].classification is Classification.internal
    # The video index is as confidential as the footage it comes from.
    assert {g.department for g in policy.readers("gold.video_events")} == {"ioc", "police"}
    hl = policy.access("ha_long", "gold.citizen_requests")
    assert hl.row_filter == policy.access("ha_long", "silver.citizen_requests").row_filter


def test_a_mart_that_cannot_be_filtered_is_refused_to_a_filtered_department(catalog):
    lineage = {"visits_by_site": GoldLineage("visits_by_site", frozenset({"tourism_daily_arrivals"}),
                                             ("site_code", "visitors"))}
    policy = build_policy(catalog, lineage)
    assert policy.access("tourism", "gold.visits_by_site") is not None
    assert policy.access("ha_long", "gold.visits_by_site") is None  # no unit_code to filter on


def test_open_data_is_public_tables_the_public_reads_whole(catalog, policy):
    public = {t.key for t in policy.public_tables()}
    silver = {f"silver.{c.name}" for c in catalog
              if c.classification is Classification.public and PUBLIC in {g.department for g in c.grants}}
    assert silver <= public
    assert all(policy.tables[k].classification is Classification.public for k in public)
    assert "gold.incidents" not in public and "silver.citizen_requests" not in public
    assert "gold.air_quality_daily" in public  # derived from public contracts only


def test_a_row_filter_needs_a_unit_to_filter_on(catalog_copy):
    path = catalog_copy / "datasets" / "water_levels.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["grants"].append({"department": "transport", "row_filter": "unit_code IN ({unit_codes})"})
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match="transport.*no unit_code"):
        load_catalog(catalog_copy)
    data["grants"][-1] = {"department": "ha_long", "row_filter": "unit_code = '{unit}'"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match="unknown placeholders"):
        load_catalog(catalog_copy)


def test_trino_rules_hold_every_grant_and_nothing_else(catalog, policy):
    assert GENERATORS["trino_rules"] is trino_rules
    for path, text in trino_rules.outputs(catalog).items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run `ioc catalog generate`"
    rules = json.loads(trino_rules.RULES_FILE.read_text(encoding="utf-8"))
    lake = {(r["group"], r["schema"], r["table"]): r for r in rules["tables"] if r.get("catalog") == "lake"}
    expected = {(g.department, g.tier, ".*" if g.table == "*" else g.table) for g in policy.grants}
    assert set(lake) == expected
    for contract in catalog:  # every contract grant, with its row filter, is a silver rule
        for grant in contract.grants:
            rule = lake[(grant.department, "silver", contract.name)]
            assert rule["privileges"] == ["SELECT"]
            assert ("filter" in rule) == bool(grant.row_filter)
    for (group, schema, _), rule in lake.items():
        assert group in catalog.departments and rule["privileges"] == ["SELECT"]
    groups = dict(line.split(":") for line in trino_rules.GROUP_FILE.read_text().splitlines())
    assert set(groups) == set(catalog.departments) | {"platform"}
