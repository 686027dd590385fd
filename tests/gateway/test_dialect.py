"""The Trino SQL ``infra/trino/GATEWAY.md`` says the gateway supports, run through the real
client: each expression must give Trino's answer. Known differences are pinned too, so the
document cannot drift from what the gateway does."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tests.gateway.conftest import query_all

TRINO_ANSWERS = [
    ("date_format(TIMESTAMP '2025-06-01 10:30:00', '%Y-%m-%d %H:%i')", "2025-06-01 10:30"),
    ("date_parse('2025-06-01 10:00', '%Y-%m-%d %H:%i')", datetime(2025, 6, 1, 10, 0)),
    ("format_datetime(TIMESTAMP '2025-06-01 10:30:00', 'yyyy-MM-dd''T''HH:mm')", "2025-06-01T10:30"),
    ("date_trunc('month', DATE '2025-06-17')", date(2025, 6, 1)),
    ("date_diff('day', DATE '2025-06-01', DATE '2025-06-10')", 9),
    ("day_of_week(DATE '2025-06-01')", 7),
    ("year(DATE '2025-06-01')", 2025),
    ("extract(hour FROM TIMESTAMP '2025-06-01 10:30:00')", 10),
    ("hour(TIMESTAMP '2025-06-01 10:30:00 UTC' AT TIME ZONE 'Asia/Ho_Chi_Minh')", 17),
    ("hour(at_timezone(TIMESTAMP '2025-06-01 10:30:00 UTC', 'Asia/Ho_Chi_Minh'))", 17),  # Superset's form
    ("from_iso8601_timestamp('2025-06-01T10:00:00Z')", datetime(2025, 6, 1, 10, 0, tzinfo=UTC)),
    ("from_unixtime(1748736000)", datetime(2025, 6, 1, tzinfo=UTC)),
    ("CAST('2025-06-01' AS date)", date(2025, 6, 1)),
    ("regexp_extract('Hạ Long 2025', '\\d+')", "2025"),
    ("regexp_replace('a,b,c', ',', ';')", "a;b;c"),
    ("regexp_like('Hạ Long', 'Long$')", True),
    ("split('a,b,c', ',')", ["a", "b", "c"]),
    ("split_part('a,b,c', ',', 2)", "b"),
    ("strpos('Hạ Long', 'Long')", 4),
    ("length('Hạ Long')", 7),
    ("substr('Quảng Ninh', 1, 5)", "Quảng"),
    ("upper('hạ long')", "HẠ LONG"),
    ("lpad('7', 3, '0')", "007"),
    ("concat('a', 'b', 'c')", "abc"),
    ("'a' || 'b'", "ab"),
    ("format('%s-%03d', 'x', 7)", "x-007"),
    ("json_extract_scalar('{\"a\": {\"b\": 5}}', '$.a.b')", "5"),
    ("cardinality(ARRAY[1, 2, 3])", 3),
    ("element_at(ARRAY['a', 'b'], 2)", "b"),
    ("contains(ARRAY[1, 2], 2)", True),
    ("array_join(ARRAY['a', 'b'], '-')", "a-b"),
    ("transform(ARRAY[1, 2], x -> x * 10)", [10, 20]),
    ("filter(ARRAY[1, 2, 3], x -> x > 1)", [2, 3]),
    ("sequence(1, 3)", [1, 2, 3]),
    ("if(1 = 1, 'y', 'n')", "y"),
    ("coalesce(NULL, 'x')", "x"),
    ("nullif(1, 1)", None),
    ("try_cast('x' AS integer)", None),
    ("CAST('12.50' AS decimal(10, 2))", Decimal("12.50")),
    ("round(2.567, 2)", Decimal("2.57")),
    ("greatest(1, 5, 3)", 5),
    ("mod(7, 3)", 1),
    ("power(2, 10)", 1024.0),
    ("infinity()", float("inf")),
    ("is_nan(nan())", True),
    ("codepoint('A')", 65),
    ("CASE WHEN 2 > 1 THEN 'big' ELSE 'small' END", "big"),
]


@pytest.mark.parametrize(("expression", "answer"), TRINO_ANSWERS, ids=[e for e, _ in TRINO_ANSWERS])
def test_the_gateway_gives_trinos_answer(connect, expression, answer):
    assert query_all(connect("admin"), f"SELECT {expression}") == [[answer]]


def test_aggregates_and_grouping(connect):
    rows = query_all(connect("admin"), """
        SELECT unit_code, count(*), count_if(ok), approx_distinct(station), bool_and(aqi >= 0),
               max_by(id, aqi) > 0, arbitrary(unit_code) = unit_code, array_agg(DISTINCT unit_code)
        FROM readings GROUP BY unit_code ORDER BY unit_code LIMIT 1""")
    unit, n, ok, stations, all_positive, has_max, same, units = rows[0]
    assert (unit, stations, all_positive, has_max, same, units) == ("193", 40, True, True, True, ["193"])
    assert n == 8334 and ok == sum(1 for i in range(0, 25_000, 3) if i % 5 != 0)


def test_set_operations_values_unnest_and_lateral(connect):
    assert query_all(connect("admin"), "SELECT x FROM (VALUES 1, 2) AS t(x) UNION ALL SELECT 3 ORDER BY 1") == [
        [1], [2], [3]]
    assert query_all(connect("admin"), "SELECT t.x FROM UNNEST(ARRAY[5, 6]) AS t(x) ORDER BY 1") == [[5], [6]]
    assert query_all(connect("admin"), "SELECT id, tag FROM readings CROSS JOIN UNNEST(tags) AS t(tag) "
                                       "WHERE id = 1 ORDER BY tag") == [[1, "hourly"], [1, "pm"]]


KNOWN_DIFFERENCES = [
    # (expression, the gateway's answer, Trino's answer) -- documented in GATEWAY.md
    ("7 / 2", 3.5, 3),  # Trino divides integers as integers
    ("date_add('day', 1, DATE '2025-06-01')", datetime(2025, 6, 2), date(2025, 6, 2)),
]


@pytest.mark.parametrize(("expression", "ours", "trino"), KNOWN_DIFFERENCES, ids=[e for e, *_ in KNOWN_DIFFERENCES])
def test_known_differences_are_what_the_document_says(connect, expression, ours, trino):
    answer = query_all(connect("admin"), f"SELECT {expression}")[0][0]
    assert answer == ours and type(answer) is type(ours) and answer != trino


@pytest.mark.parametrize("sql", [
    "SELECT * FROM lake.gold.readings FOR VERSION AS OF 0",
    "SELECT * FROM TABLE(sequence(1, 3))",
    "SHOW FUNCTIONS",
    "START TRANSACTION",
    "CALL lake.system.register_table('gold', 'x', 's3://bucket/x')",
])
def test_unsupported_statements_are_refused_as_not_supported(connect, sql):
    from trino.exceptions import TrinoUserError

    with pytest.raises(TrinoUserError) as caught:
        query_all(connect("admin"), sql)
    assert caught.value.error_name in ("NOT_SUPPORTED", "SYNTAX_ERROR"), caught.value.message


def test_the_statement_forms_the_document_lists(connect):
    admin = connect("admin")
    assert query_all(admin, "SELECT unit_code, count(*) FROM readings GROUP BY GROUPING SETS ((unit_code), ()) "
                            "ORDER BY 1 NULLS LAST")[-1] == [None, 25_000]
    assert len(query_all(admin, "SELECT unit_code, ok, count(*) FROM readings GROUP BY ROLLUP (unit_code, ok)")) == 10
    assert query_all(admin, "SELECT id FROM readings ORDER BY id OFFSET 3 LIMIT 2") == [[3], [4]]
    assert query_all(admin, "SELECT id FROM readings ORDER BY id DESC FETCH FIRST 1 ROWS ONLY") == [[24_999]]
    assert query_all(admin, "SELECT count(*) FILTER (WHERE ok) FROM readings") == [[20_000]]
    assert query_all(admin, "SELECT x FROM people CROSS JOIN LATERAL (SELECT person_id * 2 AS x) "
                            "WHERE EXISTS (SELECT 1 FROM readings) ORDER BY x LIMIT 2") == [[0], [2]]
    assert query_all(admin, "SELECT id FROM readings WHERE id < 3 INTERSECT SELECT person_id FROM people "
                            "ORDER BY 1") == [[0], [1], [2]]
    assert query_all(admin, "SHOW CREATE TABLE people")[0][0].startswith("CREATE TABLE lake.gold.people (")
    plan = query_all(connect("hl"), "EXPLAIN SELECT count(*) FROM people")[0][0]
    assert "193" in plan  # the row filter is part of what runs
