"""A real gateway on a loopback port over a real Delta lake, with rules in Trino's format.

``gateway`` serves a small typed lake (``gold.readings``: every scalar type and an array;
``gold.people``: personal data) under ``FIXTURE_RULES`` — written here in Trino's file-based
format, independent of the generated ``infra/trino/etc/rules.json`` (which
``test_department_access.py`` enforces against the contracts).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
import trino
from deltalake import write_deltalake

from lakehouse.gateway import SqlGateway
from lakehouse.settings import REPO_ROOT, Settings

READINGS = 25_000  # rows in gold.readings: five pages at the fixture's 5,000 rows a page
PAGE_ROWS = 5_000
UNITS = ["193", "194", "195"]

FIXTURE_GROUPS = "platform:admin,superset\nanalysts:ana\ndistrict:hl\n"
FIXTURE_RULES = {
    "catalogs": [
        {"group": "platform", "catalog": ".*", "allow": "all"},
        {"group": "analysts|district", "catalog": "(lake|system)", "allow": "read-only"},
        {"catalog": ".*", "allow": "none"},
    ],
    "schemas": [{"group": "platform", "schema": ".*", "owner": True}, {"schema": ".*", "owner": False}],
    "tables": [
        {"group": "platform", "privileges": ["SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP"]},
        {"group": "analysts", "catalog": "lake", "schema": "gold", "table": "readings", "privileges": ["SELECT"]},
        {"group": "analysts", "catalog": "lake", "schema": "gold", "table": "people", "privileges": ["SELECT"],
         "columns": [{"name": "phone", "mask": "'***'"}, {"name": "email", "allow": False},
                     {"name": "birth_date", "mask": "NULL"}]},
        {"group": "district", "catalog": "lake", "schema": "gold", "table": "readings|people",
         "privileges": ["SELECT"], "filter": "unit_code = '193'",
         "columns": [{"name": "phone", "mask": "substr(phone, 1, 3) || '****'"}]},
        {"group": "analysts|district", "catalog": "system", "schema": "(jdbc|metadata)", "privileges": ["SELECT"]},
    ],
    "queries": [{"group": "platform", "allow": ["execute", "kill", "view"]}, {"allow": ["execute"]}],
    "impersonation": [
        {"original_user": "superset", "new_user": "(ana|hl)", "allow": True},
        {"original_user": ".*", "new_user": ".*", "allow": False},
    ],
}


def readings_table(rows: int = READINGS) -> pa.Table:
    start = datetime(2025, 6, 1, tzinfo=UTC)
    return pa.table({
        "id": pa.array(range(rows), pa.int64()),
        "station": [f"ST-{i % 40:03d}" for i in range(rows)],
        "unit_code": [UNITS[i % 3] for i in range(rows)],
        "observed_at": pa.array([start + timedelta(minutes=15 * i) for i in range(rows)], pa.timestamp("us", tz="UTC")),
        "day": pa.array([date(2025, 6, 1) + timedelta(days=i // 96) for i in range(rows)], pa.date32()),
        "pm25": [None if i % 97 == 0 else round(5 + (i % 50) * 1.25, 2) for i in range(rows)],
        "aqi": pa.array([i % 300 for i in range(rows)], pa.int32()),
        "price": pa.array([Decimal(i % 1000) / 100 for i in range(rows)], pa.decimal128(12, 2)),
        "ok": [i % 5 != 0 for i in range(rows)],
        "tags": [["pm", "hourly"] if i % 2 else [] for i in range(rows)],
    })


def people_table() -> pa.Table:
    return pa.table({
        "person_id": pa.array(range(6), pa.int64()),
        "full_name": [f"Nguyễn Văn {c}" for c in "ABCDEF"],
        "phone": [f"09{n:08d}" for n in range(6)],
        "email": [f"p{n}@example.vn" for n in range(6)],
        "birth_date": pa.array([date(1990, 1, 1 + n) for n in range(6)], pa.date32()),
        "unit_code": [UNITS[n % 3] for n in range(6)],
    })


@pytest.fixture(scope="module")
def fixture_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lake")
    write_deltalake(str(root / "gold" / "readings"), readings_table())
    write_deltalake(str(root / "gold" / "people"), people_table())
    write_deltalake(str(root / "silver" / "hidden"), pa.table({"x": [1]}))
    return root


@pytest.fixture(scope="module")
def fixture_etc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Trino etc/ with the fixture rules and the production catalog file."""
    etc = tmp_path_factory.mktemp("trino-etc")
    (etc / "rules.json").write_text(json.dumps(FIXTURE_RULES), encoding="utf-8")
    (etc / "group.txt").write_text(FIXTURE_GROUPS, encoding="utf-8")
    (etc / "catalog").mkdir()
    production = REPO_ROOT / "infra" / "trino" / "etc" / "catalog" / "lake.properties"
    (etc / "catalog" / "lake.properties").write_text(production.read_text(encoding="utf-8"), encoding="utf-8")
    return etc


def gateway_settings(lake: Path, etc: Path, spool: Path, **overrides) -> Settings:
    values = {"sql_gateway_page_rows": PAGE_ROWS, "sql_gateway_audit_flush_s": 0.2, **overrides}
    return Settings(lake_root=str(lake), sql_gateway_trino_etc=etc, sql_gateway_spool_dir=spool, **values)


@pytest.fixture(scope="module")
def gateway(fixture_lake: Path, fixture_etc: Path, tmp_path_factory: pytest.TempPathFactory):
    settings = gateway_settings(fixture_lake, fixture_etc, tmp_path_factory.mktemp("spool"))
    with SqlGateway(settings, port=0) as running:
        yield running


def port_of(gateway: SqlGateway) -> int:
    return int(gateway.url.rsplit(":", 1)[1])


@pytest.fixture
def connect(gateway: SqlGateway):
    """``connect(user, **kwargs)``: a real ``trino`` DB-API connection to the gateway."""
    def _connect(user: str = "admin", **kwargs) -> trino.dbapi.Connection:
        kwargs.setdefault("catalog", "lake")
        kwargs.setdefault("schema", "gold")
        return trino.dbapi.connect(host="127.0.0.1", port=port_of(gateway), user=user, **kwargs)

    return _connect


def query_all(connection: trino.dbapi.Connection, sql: str, params: list | None = None) -> list[list]:
    cursor = connection.cursor()
    cursor.execute(sql, params)
    return cursor.fetchall()
