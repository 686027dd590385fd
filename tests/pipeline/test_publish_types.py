"""What ``publish_gold`` selects from the warehouse: DuckDB's HUGEINT sums go to Delta as BIGINT,
everything else as it is, and a sum too large for BIGINT fails instead of wrapping."""

from __future__ import annotations

import duckdb
import pytest

from lakehouse.pipeline.gold import GOLD_SCHEMA, published_columns


@pytest.fixture
def warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"create schema {GOLD_SCHEMA}")
    con.execute(f"""create table {GOLD_SCHEMA}.counts as
        select unit, sum(n) as people, sum(n * 1.5) as share, cast(sum(n) as decimal(18, 0)) as revenue
        from (values ('a', 2), ('a', 3), ('b', 7)) t(unit, n) group by unit""")
    return con


def test_hugeint_sums_are_published_as_bigint_and_nothing_else_changes(warehouse) -> None:
    assert warehouse.execute(f"select typeof(people) from {GOLD_SCHEMA}.counts limit 1").fetchone() == ("HUGEINT",)
    select = ", ".join(published_columns(warehouse, "counts").values())
    table = warehouse.execute(f"select {select} from {GOLD_SCHEMA}.counts order by unit").fetch_arrow_table()
    assert {f.name: str(f.type) for f in table.schema} == {
        "unit": "string", "people": "int64", "share": "decimal128(38, 1)", "revenue": "decimal128(18, 0)"}
    assert table.column("people").to_pylist() == [5, 7]


def test_a_sum_beyond_bigint_fails_the_publish_instead_of_wrapping(warehouse) -> None:
    warehouse.execute(f"create table {GOLD_SCHEMA}.huge as select sum(x) as total "
                      "from (values (9223372036854775807), (1)) t(x)")
    select = ", ".join(published_columns(warehouse, "huge").values())
    with pytest.raises(duckdb.ConversionException):
        warehouse.execute(f"select {select} from {GOLD_SCHEMA}.huge").fetchall()
