"""Suites are generated from the contracts, are valid GX 1.x, and are committed as generated."""

from __future__ import annotations

import pytest
import yaml
from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

from lakehouse.codegen import gx_suites
from lakehouse.contracts import CatalogError, Severity, load_catalog
from lakehouse.quality.expectations import REFERENCE_KEY, expression_expectations, suite_for


def test_committed_suites_match_the_contracts(catalog):
    for path, text in gx_suites.outputs(catalog).items():
        assert path.exists() and path.read_text(encoding="utf-8") == text, "run `ioc catalog generate`"
    committed = {p.name for p in gx_suites.owned_dir().glob("*.json")}
    assert committed == {f"{c.name}.json" for c in catalog}


def test_every_expectation_is_a_valid_gx_expectation(catalog):
    for contract in catalog:
        for spec in suite_for(contract).expectations:
            kwargs = spec.kwargs
            if spec.references:
                kwargs = {**kwargs, "value_set": ["x"]}
            # Raises on an unknown type or kwargs GX does not accept.
            ExpectationConfiguration(type=spec.type, kwargs=kwargs).to_domain_obj()


def test_contract_statements_become_expectations(catalog):
    suite = suite_for(catalog["traffic_incidents"])
    by_rule = {s.rule: s for s in suite.expectations}
    assert by_rule["expect_column_values_to_not_be_null(incident_id)"].severity is Severity.block
    between = by_rule["expect_column_values_to_be_between(lon)"]
    assert (between.kwargs["min_value"], between.kwargs["max_value"]) == (106.3, 108.2)
    assert by_rule["expect_column_values_to_be_in_set(status)"].kwargs["value_set"] == [
        "reported", "dispatched", "on_scene", "cleared"]
    phone = by_rule["expect_column_values_to_match_regex(reporter_phone)"]
    assert phone.severity is Severity.warn and phone.kwargs["regex"].startswith("^(\\+84|0)")
    # A key repeated in one batch is an update: recorded, never a rejection.
    assert by_rule["expect_column_values_to_be_unique(incident_id)"].severity is Severity.warn
    # The admin-unit reference is looked up when the suite runs.
    assert by_rule["expect_column_values_to_be_in_set(unit_code)"].references == "admin_units.unit_code"
    compound = suite_for(catalog["water_levels"]).expectations
    assert any(s.type == "expect_compound_columns_to_be_unique"
               and s.kwargs["column_list"] == ["station_code", "observed_at"] for s in compound)


def test_hand_written_expectations_join_the_suite(catalog):
    rules = {s.rule: s for s in suite_for(catalog["citizen_requests"]).expectations}
    swapped = rules["expect_column_pair_values_a_to_be_greater_than_b(updated_datetime,requested_datetime)"]
    assert swapped.severity is Severity.block and swapped.origin == "quality/expectations/citizen_requests.yaml"


def test_expression_rules_become_pair_expectations():
    specs = expression_expectations("alarm_1_cm < alarm_2_cm and alarm_2_cm < alarm_3_cm", Severity.block, "t")
    assert [(s.kwargs["column_A"], s.kwargs["column_B"], s.kwargs["or_equal"]) for s in specs] == [
        ("alarm_2_cm", "alarm_1_cm", False), ("alarm_3_cm", "alarm_2_cm", False)]
    (occupied,) = expression_expectations("rooms_occupied <= rooms_available", Severity.block, "t")
    assert (occupied.kwargs["column_A"], occupied.kwargs["column_B"], occupied.kwargs["or_equal"]) == (
        "rooms_available", "rooms_occupied", True)
    (bound,) = expression_expectations("10 < depth", Severity.warn, "t")
    assert bound.kwargs == {"column": "depth", "min_value": 10.0, "strict_min": True}
    with pytest.raises(ValueError, match="is not a comparison"):
        expression_expectations("a < b or b < c", Severity.block, "t")


def test_a_reference_to_an_unknown_column_is_a_catalog_error(catalog_copy):
    path = catalog_copy / "datasets" / "video_segments.yaml"
    text = path.read_text(encoding="utf-8").replace("camera_registry.camera_id", "camera_registry.cam_id")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=r"columns\(camera_id\).checks.references.*cam_id"):
        load_catalog(catalog_copy)


def test_rendered_suite_keeps_references_symbolic(catalog):
    document = yaml.safe_load(gx_suites.outputs(catalog)[gx_suites.owned_dir() / "video_segments.json"])
    refs = [e for e in document["expectations"] if isinstance(e["kwargs"].get("value_set"), dict)]
    assert refs and refs[0]["kwargs"]["value_set"] == {REFERENCE_KEY: "camera_registry.camera_id"}
