"""The SQL gateway (``ioc serve-sql``): departments query the lake with Trino SQL, on one machine.

Production runs Trino (``infra/trino/``) with the Delta Lake connector and file-based access
control from the generated ``rules.json``. A Trino server cannot run here, so this package
speaks Trino's client REST protocol itself, runs the SQL on DuckDB over the same Delta
tables (translated from Trino's dialect by sqlglot), and enforces **the same** ``rules.json``
and ``group.txt``: table privileges, row filters, column masks. Every Trino client — the
``trino`` Python client (DB-API and ``trino://`` SQLAlchemy), Superset, dbt-trino, the Trino
CLI and JDBC — connects unchanged, so the production wiring is exercised locally. Every
query is audited to ``ops.query_audit``. What SQL it supports: ``infra/trino/GATEWAY.md``.
"""

from lakehouse.gateway.errors import TrinoError
from lakehouse.gateway.rules import AccessRules, Identity, TableGrant, load_rules, parse_groups
from lakehouse.gateway.server import SqlGateway, lake_catalog_name

__all__ = ["AccessRules", "Identity", "SqlGateway", "TableGrant", "TrinoError", "lake_catalog_name",
           "load_rules", "parse_groups"]
