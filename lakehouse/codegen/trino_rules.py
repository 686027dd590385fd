"""Trino's file-based access control, generated from the access policy (``lakehouse.access``).

``infra/trino/etc/rules.json`` is what Trino enforces in production (``access-control.name=file``)
and what the embedded SQL gateway enforces on one machine; ``group.txt`` (Trino's file group
provider) puts one service user per department in its department's group. Both are committed
so a reviewer sees every grant a contract change adds or removes; a test fails when they drift.

Rules are matched top to bottom and the first match wins; a table no rule matches is denied.
"""

from __future__ import annotations

import json
from pathlib import Path

from lakehouse.access import PLATFORM, AccessPolicy, TableAccess, load_policy
from lakehouse.contracts import Catalog
from lakehouse.settings import REPO_ROOT

TRINO_ETC = REPO_ROOT / "infra" / "trino" / "etc"
RULES_FILE = TRINO_ETC / "rules.json"
GROUP_FILE = TRINO_ETC / "group.txt"
LAKE_CATALOG = "lake"  # the Delta Lake catalog's name in Trino (infra/trino/etc/catalog/lake.properties)
# The platform's service users: full access (dbt-trino builds gold, Airflow registers tables,
# Superset impersonates the logged-in department user).
PLATFORM_USERS = ("platform", "dbt", "airflow", "superset")
IMPERSONATOR = "superset"
ALL_PRIVILEGES = ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"]


def _table_rule(grant: TableAccess) -> dict:
    rule: dict = {"group": grant.department, "catalog": LAKE_CATALOG, "schema": grant.tier,
                  "table": ".*" if grant.table == "*" else grant.table, "privileges": ["SELECT"]}
    if grant.row_filter:
        rule["filter"] = grant.row_filter
    if grant.masks:
        rule["columns"] = [{"name": column, "mask": mask} for column, mask in sorted(grant.masks.items())]
    return rule


def rules(policy: AccessPolicy) -> dict:
    departments = sorted(policy.departments)
    readers = "|".join(departments)
    return {
        "catalogs": [
            {"group": PLATFORM, "catalog": ".*", "allow": "all"},
            {"group": readers, "catalog": f"({LAKE_CATALOG}|system)", "allow": "read-only"},
            {"catalog": ".*", "allow": "none"},
        ],
        "schemas": [
            {"group": PLATFORM, "schema": ".*", "owner": True},
            {"schema": ".*", "owner": False},
        ],
        "tables": [
            {"group": PLATFORM, "privileges": ALL_PRIVILEGES},
            *(_table_rule(g) for g in policy.grants),
            # JDBC clients (DBeaver, Excel) read their metadata from system.jdbc / metadata.
            {"group": readers, "catalog": "system", "schema": "(jdbc|metadata)", "privileges": ["SELECT"]},
        ],
        # Everyone runs queries; each sees and kills only its own (the owner always may).
        "queries": [
            {"group": PLATFORM, "allow": ["execute", "kill", "view"]},
            {"allow": ["execute"]},
        ],
        # Superset connects as one service user and runs each query as the logged-in
        # department's user, so the department's own rules apply; never as a platform user.
        "impersonation": [
            {"original_user": IMPERSONATOR, "new_user": f"({readers})", "allow": True},
            {"original_user": ".*", "new_user": ".*", "allow": False},
        ],
    }


def groups(policy: AccessPolicy) -> str:
    lines = [f"{PLATFORM}:{','.join(PLATFORM_USERS)}"]
    lines += [f"{code}:{code}" for code in sorted(policy.departments)]
    return "\n".join(lines) + "\n"


def outputs(catalog: Catalog) -> dict[Path, str]:
    from lakehouse.access.lineage import gold_lineage, load_manifest
    from lakehouse.access.policy import build_policy
    from lakehouse.pipeline.dbt_runner import ensure_manifest

    policy = build_policy(catalog, gold_lineage(load_manifest(ensure_manifest())))
    # No header comment: JSON has none, and Trino reads this file as it is.
    text = json.dumps(rules(policy), indent=2, ensure_ascii=False) + "\n"
    return {RULES_FILE: text, GROUP_FILE: groups(policy)}


__all__ = ["GROUP_FILE", "LAKE_CATALOG", "PLATFORM_USERS", "RULES_FILE", "groups", "load_policy", "outputs",
           "rules"]
