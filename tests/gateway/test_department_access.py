"""Every department in the contracts, from the denied side, through the real ``trino`` client.

The gateway enforces the generated ``infra/trino/etc/rules.json`` and ``group.txt`` (what
production Trino loads). The expectations come from the access policy computed from the
contracts (``lakehouse.access``), never typed here. For each department, with its own user:

* every lake table the policy does not grant it is refused with Trino's ``PERMISSION_DENIED``;
* every table it is granted is readable; each masked column comes back masked; each row
  filter holds (exactly the rows the filter selects, none from another unit);
* ``information_schema`` lists exactly the tables it is granted.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pyarrow as pa
import pytest
import sqlglot
import trino
from deltalake import write_deltalake
from sqlglot import exp
from trino.exceptions import TrinoUserError

from lakehouse.access import load_policy
from lakehouse.contracts import load_catalog
from lakehouse.gateway import SqlGateway
from lakehouse.gateway.rules import parse_groups
from lakehouse.lake.duck import connect
from lakehouse.settings import REPO_ROOT, Settings

ETC = REPO_ROOT / "infra" / "trino" / "etc"
OUTSIDER_UNIT = "99999"  # a unit no filter names: must never reach a filtered department
OPS_TABLE = "freshness_checks"


@pytest.fixture(scope="module")
def policy():
    return load_policy()


def _units(policy) -> list[str]:
    units = {OUTSIDER_UNIT}
    for grant in policy.grants:
        if grant.row_filter:
            units |= {lit.name for lit in sqlglot.parse_one(grant.row_filter).find_all(exp.Literal) if lit.is_string}
    return sorted(units)


@pytest.fixture(scope="module")
def department_lake(policy, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every table the policy knows, with its columns, one row per unit (string values)."""
    root = tmp_path_factory.mktemp("lake")
    units = _units(policy)
    for info in policy.tables.values():
        rows = len(units)
        columns = {c: (units if c == "unit_code" else [f"{c}:{i}" for i in range(rows)]) for c in info.columns}
        write_deltalake(str(root / info.tier / info.name), pa.table(columns))
    write_deltalake(str(root / "ops" / OPS_TABLE), pa.table({"dataset": ["x"], "state": ["fresh"]}))
    return root


@pytest.fixture(scope="module")
def department_gateway(department_lake: Path, tmp_path_factory: pytest.TempPathFactory):
    settings = Settings(lake_root=str(department_lake), sql_gateway_trino_etc=ETC,
                        sql_gateway_spool_dir=tmp_path_factory.mktemp("spool"))
    with SqlGateway(settings, port=0) as gateway:
        yield gateway


def _lake_tables(root: Path) -> list[str]:
    return sorted(f"{p.parent.parent.name}.{p.parent.name}" for p in root.glob("*/*/_delta_log"))


def test_each_department_has_its_own_user_in_its_group(catalog):
    groups = parse_groups((ETC / "group.txt").read_text(encoding="utf-8"))
    for code in catalog.departments:
        assert code in groups.get(code, set()), f"group.txt gives no user to department {code}"


@pytest.mark.parametrize("department", sorted(load_catalog(REPO_ROOT / "catalog").departments))
def test_a_department_reads_exactly_what_its_grants_allow(department, policy, department_gateway, department_lake):
    connection = trino.dbapi.connect(host="127.0.0.1", port=int(department_gateway.url.rsplit(":", 1)[1]),
                                     user=department, catalog="lake", source="test-department-access")
    cursor = connection.cursor()
    lake_tables = _lake_tables(department_lake)
    granted = {}
    for grant in policy.grants_for(department):  # "ops.*": every table of the tier
        for key in ([k for k in lake_tables if k.startswith(f"{grant.tier}.")] if grant.table == "*" else [grant.key]):
            granted[key] = grant
    checked_masks = checked_filters = 0
    for key in lake_tables:
        tier, name = key.split(".")
        if key not in granted:
            with pytest.raises(TrinoUserError) as caught:
                cursor.execute(f"SELECT * FROM lake.{tier}.{name}")
                cursor.fetchall()
            assert caught.value.error_name == "PERMISSION_DENIED", (department, key, caught.value.message)
            assert caught.value.message == f"Access Denied: Cannot select from table lake.{tier}.{name}"
            continue
        grant = granted[key]
        cursor.execute(f"SELECT * FROM lake.{tier}.{name}")
        rows = cursor.fetchall()
        names = [d.name for d in cursor.description]
        for column, mask in grant.masks.items():
            values = {row[names.index(column)] for row in rows}
            assert values <= {mask.strip("'") if mask != "NULL" else None}, (department, key, column, values)
            checked_masks += 1
        location = str(department_lake / tier / name)
        if grant.row_filter:
            expected = _filtered(location, grant.row_filter)
            got = sorted(row[names.index("unit_code")] for row in rows)
            assert got == expected and expected, (department, key, grant.row_filter)
            assert OUTSIDER_UNIT not in got
            checked_filters += 1
        else:
            assert len(rows) == len(_filtered(location, "true")), (department, key)
    policy_masks = sum(len(g.masks) for g in policy.grants_for(department))
    assert checked_masks == policy_masks
    assert checked_filters == sum(1 for g in policy.grants_for(department) if g.row_filter)
    cursor.execute("SELECT table_schema || '.' || table_name FROM lake.information_schema.tables "
                   "WHERE table_schema <> 'information_schema'")
    assert sorted(r[0] for r in cursor.fetchall()) == sorted(k for k in granted if k in lake_tables)


@functools.cache
def _direct():
    return connect()


def _filtered(location: str, predicate: str) -> list:
    """What the predicate selects, straight from the Delta table (the expected answer)."""
    column = "unit_code" if predicate != "true" else "1"
    return sorted(r[0] for r in _direct().cursor().execute(
        f"SELECT {column} FROM delta_scan('{location}') WHERE {predicate}").fetchall())


def test_filters_and_masks_are_exercised_somewhere(policy):
    """The per-department test above must not pass vacuously: the contracts do mask and filter."""
    assert any(g.masks for g in policy.grants) and any(g.row_filter for g in policy.grants)
