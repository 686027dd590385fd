"""Trino's file-based access control semantics, evaluated without a server."""

from __future__ import annotations

import json

import pytest

from lakehouse.gateway import AccessRules, TrinoError, load_rules, parse_groups
from lakehouse.gateway.rules import RulesFile


def rules(document: dict, groups: str = "") -> AccessRules:
    return AccessRules(document, parse_groups(groups))


def test_the_first_matching_table_rule_wins_even_when_a_later_one_grants_more():
    r = rules({"tables": [
        {"user": "bob", "privileges": []},
        {"schema": "gold", "privileges": ["SELECT"]},
    ]})
    assert not r.table_grant(r.identity("bob"), "lake", "gold", "t").can_select
    assert r.table_grant(r.identity("alice"), "lake", "gold", "t").can_select
    assert not r.table_grant(r.identity("alice"), "lake", "silver", "t").privileges  # no rule: denied


def test_regexes_match_whole_names_like_java_matches():
    r = rules({"tables": [{"table": "air", "privileges": ["SELECT"]}]})
    assert r.table_grant(r.identity("u"), "lake", "gold", "air").can_select
    assert not r.table_grant(r.identity("u"), "lake", "gold", "air_quality").can_select
    assert not r.table_grant(r.identity("u"), "lake", "gold", "fair").can_select


def test_group_rules_apply_through_the_group_file_and_roles_never_match():
    r = rules({"tables": [{"group": "ha_long|cam_pha", "privileges": ["SELECT"]},
                          {"role": "admin", "privileges": ["SELECT"]}]},
              "ha_long:ha_long\nplatform:dbt,airflow\n")
    assert r.identity("ha_long").groups == {"ha_long"}
    assert r.table_grant(r.identity("ha_long"), "lake", "gold", "x").can_select
    assert not r.table_grant(r.identity("dbt"), "lake", "gold", "x").can_select


def test_an_absent_section_allows_and_an_empty_one_denies():
    open_rules = rules({})
    assert open_rules.table_grant(open_rules.identity("u"), "lake", "gold", "x").can_select
    assert open_rules.catalog_access(open_rules.identity("u"), "lake") == "all"
    closed = rules({"tables": []})
    assert not closed.table_grant(closed.identity("u"), "lake", "gold", "x").privileges


def test_catalog_rules_gate_tables_and_system_is_open_by_default():
    r = rules({"catalogs": [{"user": "x", "catalog": ".*", "allow": False}, {"catalog": "lake", "allow": "read-only"}],
               "tables": [{"privileges": ["SELECT"]}]})
    u = r.identity("u")
    assert r.catalog_access(u, "lake") == "read-only"
    assert r.catalog_access(u, "system") == "all"  # no rule matched system: open
    assert r.catalog_access(u, "hive") == "none"
    assert not r.table_grant(r.identity("x"), "lake", "gold", "t").privileges  # legacy false = none
    assert r.table_grant(u, "lake", "gold", "t").can_select
    assert not r.table_grant(u, "hive", "gold", "t").privileges


def test_filters_masks_and_denied_columns_come_from_the_matching_rule():
    r = rules({"tables": [{"table": "p", "privileges": ["SELECT"], "filter": "unit_code = '193'",
                           "columns": [{"name": "Phone", "mask": "'***'"}, {"name": "email", "allow": False}]}]})
    grant = r.table_grant(r.identity("u"), "lake", "gold", "p")
    assert grant.filter == "unit_code = '193'"
    assert grant.masks == {"phone": "'***'"} and grant.denied_columns == {"email"}


def test_visibility_needs_a_permission_inside():
    r = rules({"catalogs": [{"allow": "all"}],
               "schemas": [{"user": "owner", "schema": "ops", "owner": True}],
               "tables": [{"user": "u", "schema": "gold", "privileges": ["SELECT"]}]})
    u = r.identity("u")
    assert r.may_see_catalog(u, "lake") and r.may_see_schema(u, "lake", "gold")
    assert not r.may_see_schema(u, "lake", "silver")
    assert not r.may_see_catalog(r.identity("stranger"), "lake")
    assert r.may_see_schema(r.identity("owner"), "lake", "ops")


def test_query_rules_execute_and_kill():
    r = rules({"queries": [{"group": "platform", "allow": ["execute", "kill", "view"]},
                           {"user": "banned", "allow": []},
                           {"allow": ["execute"]}]}, "platform:admin\n")
    assert r.may_execute(r.identity("u")) and not r.may_execute(r.identity("banned"))
    assert r.may_kill(r.identity("u"), "u")  # one's own, always
    assert not r.may_kill(r.identity("u"), "other") and r.may_kill(r.identity("admin"), "other")


def test_impersonation_first_match_with_captured_groups():
    r = rules({"impersonation": [
        {"original_user": "superset", "new_user": "bob", "allow": False},
        {"original_user": "superset", "new_user": ".*"},
        {"original_user": "team_(.*)", "new_user": "team_$1_sandbox"},
    ]})
    assert r.may_impersonate("superset", "ha_long") and not r.may_impersonate("superset", "bob")
    assert r.may_impersonate("team_a", "team_a_sandbox") and not r.may_impersonate("team_a", "team_b_sandbox")
    assert r.may_impersonate("anyone", "anyone")
    assert not rules({}).may_impersonate("a", "b")  # no impersonation rules: refused


@pytest.mark.parametrize("document", [
    {"tables": [{"privileges": ["READ"]}]},
    {"tables": [{"table": "("}]},
    {"catalogs": [{"allow": "maybe"}]},
    {"queries": [{"allow": ["drop"]}]},
    ["not", "an", "object"],
])
def test_invalid_rules_are_refused_with_a_clear_error(tmp_path, document):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps(document))
    with pytest.raises(TrinoError) as caught:
        load_rules(path)
    assert caught.value.name == "CONFIGURATION_INVALID" and str(path) in caught.value.message


def test_a_bad_group_line_names_its_line():
    with pytest.raises(ValueError, match="line 2"):
        parse_groups("a:x\nno-colon-here\n")


def test_the_rules_file_is_reloaded_when_it_changes(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"tables": []}))
    source = RulesFile(path)
    assert not source.get().table_grant(source.get().identity("u"), "lake", "gold", "t").privileges
    path.write_text(json.dumps({"tables": [{"privileges": ["SELECT"]}]}))
    import os

    os.utime(path, ns=(1, 10**18))  # a different mtime even on a coarse clock
    assert source.get().table_grant(source.get().identity("u"), "lake", "gold", "t").can_select


def test_the_generated_rules_load():
    from lakehouse.settings import REPO_ROOT

    etc = REPO_ROOT / "infra" / "trino" / "etc"
    generated = load_rules(etc / "rules.json", etc / "group.txt")
    assert generated.tables and generated.catalogs and generated.impersonation
