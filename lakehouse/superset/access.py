"""Superset roles, dataset access and row-level security, generated from the contracts.

Nothing about who sees what is written here: :class:`lakehouse.access.AccessPolicy` (built
from ``catalog/``) says which gold/ops tables each department reads and with which row
filter; this module maps that onto the bundle's datasets:

* one role per department (``Dept <code>``): Gamma's view permissions (dashboards, charts,
  explore) plus ``datasource_access`` on exactly the datasets whose tables it may read. A
  virtual dataset counts as reading every table its SQL names, so it is granted only when
  all of them are;
* one Regular RLS filter per (department, physical dataset) whose grant has a row filter.
  Superset also applies a physical dataset's filters inside virtual datasets' SQL; where a
  virtual dataset exposes the filter's columns it gets the filter directly as well;
* one demo user per department (username = department code) with a generated password,
  kept in ``var/superset/users.json`` (0600, never committed).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlglot
import yaml
from sqlglot import exp

from lakehouse.access import PUBLIC, AccessPolicy, TableAccess
from lakehouse.access.policy import filter_columns
from lakehouse.superset.bundle import bundle_files
from lakehouse.superset.env import BUNDLE_DIR, SupersetEnv

ROLE_PREFIX = "Dept "  # as ioc_superset.setup names them


@dataclass(frozen=True)
class BundleDataset:
    """A dataset of the bundle, and the lake tables (``tier.table``) it reads."""

    uuid: str
    name: str  # schema.table_name for physical datasets, table_name for virtual ones
    columns: frozenset[str]
    reads: frozenset[str]
    virtual: bool


def sql_tables(sql: str) -> frozenset[str]:
    """``schema.table`` for every table a virtual dataset's SQL reads (CTE names excluded)."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    tables = set()
    for table in tree.find_all(exp.Table):
        if table.name in ctes and not table.db:
            continue
        if not table.db:
            raise ValueError(f"virtual dataset SQL must name tables with their schema (gold.x): {table.sql()}")
        tables.add(f"{table.db}.{table.name}")
    return frozenset(tables)


def bundle_datasets(bundle: Path = BUNDLE_DIR) -> list[BundleDataset]:
    found = []
    for name, text in bundle_files(bundle).items():
        if not name.startswith("datasets/"):
            continue
        data = yaml.safe_load(text)
        columns = frozenset(c["column_name"] for c in data.get("columns") or [] if not c.get("expression"))
        if data.get("sql"):
            found.append(BundleDataset(str(data["uuid"]), data["table_name"], columns, sql_tables(data["sql"]), True))
        else:
            key = f"{data['schema']}.{data['table_name']}"
            found.append(BundleDataset(str(data["uuid"]), key, columns, frozenset({key}), False))
    return sorted(found, key=lambda d: d.name)


def _grants(policy: AccessPolicy, department: str) -> dict[str, TableAccess]:
    grants = {}
    for grant in policy.grants_for(department):
        if grant.tier == "ops" and grant.table == "*":  # the platform's own tables, all of them
            for key, info in policy.tables.items():
                if info.tier == "ops":
                    grants[key] = grant
            grants["ops.*"] = grant
        elif grant.tier in ("gold", "ops"):
            grants[grant.key] = grant
    return grants


def _readable(key: str, grants: dict[str, TableAccess]) -> TableAccess | None:
    return grants.get(key) or (grants.get("ops.*") if key.startswith("ops.") else None)


def role_spec(policy: AccessPolicy, department: str, datasets: list[BundleDataset]) -> dict:
    """The datasets ``department`` may query and the RLS clauses it gets."""
    grants = _grants(policy, department)
    physical = {d.name for d in datasets if not d.virtual}
    granted, rls = [], []
    for dataset in datasets:
        accesses = [_readable(key, grants) for key in sorted(dataset.reads)]
        if not all(accesses):
            continue
        filters = [(a.key, a.row_filter) for a in accesses if a.row_filter]
        if dataset.virtual:
            # Superset narrows each table inside the SQL by its physical dataset's filter;
            # without that dataset there is nothing to narrow by: refuse.
            if any(key not in physical for key, _ in filters):
                continue
            for _, clause in filters:
                if filter_columns(clause) <= dataset.columns:
                    rls.append({"dataset": dataset.uuid, "clause": clause})
        else:
            rls.extend({"dataset": dataset.uuid, "clause": clause} for _, clause in filters)
        granted.append(dataset.uuid)
    return {"name": department, "datasets": granted, "rls": rls}


def department_passwords(env: SupersetEnv, departments: list[str]) -> dict[str, str]:
    """Each demo user's password: generated once, kept in ``users_file`` (0600)."""
    path = env.users_file
    known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    missing = [d for d in departments if d not in known]
    if missing:
        known.update({d: secrets.token_urlsafe(12) for d in missing})
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(known, out, indent=1, sort_keys=True)
    return {d: known[d] for d in departments}


def access_spec(policy: AccessPolicy, env: SupersetEnv, bundle: Path = BUNDLE_DIR) -> dict:
    """Roles, RLS filters and users for every department but ``public`` (open data is not a
    Superset login)."""
    datasets = bundle_datasets(bundle)
    codes = [c for c in policy.departments if c != PUBLIC]
    passwords = department_passwords(env, codes)
    roles = [role_spec(policy, code, datasets) for code in codes]
    users = []
    for code in codes:
        department = policy.departments[code]
        users.append({"username": code, "first_name": department.name_en[:64], "last_name": f"({code})",
                      "email": f"{code}@ioc.local", "role": code, "password": passwords[code]})
    return {"roles": roles, "users": users}


__all__ = ["ROLE_PREFIX", "BundleDataset", "access_spec", "bundle_datasets", "department_passwords",
           "role_spec", "sql_tables"]
