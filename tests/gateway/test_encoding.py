"""The two page encoders write the same values, in the forms the ``trino`` client reads."""

from __future__ import annotations

import json

import pytest

from lakehouse.gateway.encoding import SMALL_PAGE_ROWS, encode_duckdb, encode_page, encode_python
from lakehouse.gateway.types import trino_type
from lakehouse.lake.duck import connect

SCALARS = """
SELECT * FROM (VALUES
  (true, 1::TINYINT, -2::SMALLINT, 3::INTEGER, 9007199254740993::BIGINT, 1.5::FLOAT, 'NaN'::DOUBLE,
   12.30::DECIMAL(10,2), 'Hạ Long "quoted"' || chr(10) || 'tab' || chr(9), DATE '2025-06-01',
   TIMESTAMP '2025-06-01 10:00:00.123456', TIMESTAMPTZ '2025-06-01 10:00:00.5+07', 'ab'::BLOB,
   uuid '6ba7b810-9dad-11d1-80b4-00c04fd430c8', '{"a": [1, 2]}'::JSON, TIME '10:00:01.5'),
  (NULL, NULL, NULL, NULL, NULL, NULL, 'Infinity'::DOUBLE, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (false, (-128)::TINYINT, 0::SMALLINT, 0, -1, -0.25, '-Infinity'::DOUBLE, -0.05, '', DATE '1970-01-01',
   TIMESTAMP '1999-12-31 23:59:59', TIMESTAMPTZ '2000-01-01 00:00:00+00', ''::BLOB, NULL, 'null'::JSON, NULL)
) AS t(b, ti, si, i, bi, f, d, dec, s, dt, ts, tstz, bl, u, j, tm)
"""


@pytest.fixture(scope="module")
def con():
    connection = connect()
    connection.execute("SET TimeZone = 'UTC'")
    return connection


def _batch(con, sql):
    cursor = con.cursor()
    cursor.execute(sql)
    types = [trino_type(d[1]) for d in cursor.description]
    return cursor.fetch_record_batch(10_000).read_next_batch(), types


def test_both_encoders_agree_on_every_scalar_type(con):
    batch, types = _batch(con, SCALARS)
    python = encode_python(batch, types)
    assert python is not None, "every scalar type has a Python path"
    duck = encode_duckdb(batch, types, con.cursor())
    assert json.loads(b"[" + python + b"]") == json.loads(b"[" + duck + b"]")


def test_values_are_in_trinos_wire_forms(con):
    batch, types = _batch(con, SCALARS)
    first, second, _ = json.loads(b"[" + encode_python(batch, types) + b"]")
    assert first[4] == 9007199254740993  # bigint beyond a double's precision survives
    assert first[6] == "NaN" and second[6] == "Infinity"
    assert first[7] == "12.30" and first[9] == "2025-06-01"
    assert first[10] == "2025-06-01 10:00:00.123456"
    assert first[11] == "2025-06-01 03:00:00.500000 UTC"
    assert first[12] == "YWI=" and first[14] == '{"a": [1, 2]}' and first[15] == "10:00:01.500000"
    assert [t.name for t in types][6:8] == ["double", "decimal(10,2)"]


def test_nested_types_take_the_duckdb_path_and_keep_their_structure(con):
    batch, types = _batch(con, "SELECT [1.5, 2.25]::DECIMAL(5,2)[] AS a, {'x': 1, 'y': 'two'} AS r, "
                               "MAP([1, 2], ['a', 'b']) AS m, [['x'], []] AS nested, NULL::INTEGER[] AS none")
    assert encode_python(batch, types) is None
    row = json.loads(b"[" + encode_page(batch, types, con.cursor) + b"]")[0]
    assert row == [["1.50", "2.25"], [1, "two"], {"1": "a", "2": "b"}, [["x"], []], None]
    assert [t.name for t in types] == ["array(decimal(5,2))", "row(x integer, y varchar)", "map(integer, varchar)",
                                       "array(array(varchar))", "array(integer)"]
    assert types[1].signature()["arguments"][0] == {
        "kind": "NAMED_TYPE", "value": {"fieldName": {"name": "x"}, "typeSignature": {"rawType": "integer",
                                                                                      "arguments": []}}}


def test_big_pages_are_rendered_by_duckdb_in_order(con):
    rows = SMALL_PAGE_ROWS * 3
    batch, types = _batch(con, f"SELECT range AS id, 'r' || range AS label FROM range({rows})")
    data = json.loads(b"[" + encode_page(batch, types, con.cursor) + b"]")
    assert data == [[i, f"r{i}"] for i in range(rows)]


def test_types_without_a_trino_counterpart_are_sent_as_text(con):
    batch, types = _batch(con, "SELECT INTERVAL 3 DAY AS iv, 'a'::VARCHAR::ENUM('a', 'b') AS e")
    assert [t.name for t in types] == ["varchar", "varchar"]
    assert json.loads(b"[" + encode_page(batch, types, con.cursor) + b"]") == [["3 days", "a"]]
