"""The real ``trino`` client (DB-API) against the gateway: results, types, paging,
cancellation, errors in Trino's shape, session statements."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
import requests
import trino
from trino.exceptions import TrinoQueryError, TrinoUserError

from tests.gateway.conftest import PAGE_ROWS, READINGS, query_all


def test_a_query_over_gold_comes_back_with_trino_types(connect):
    cursor = connect("admin").cursor()
    cursor.execute("SELECT id, station, observed_at, day, pm25, aqi, price, ok, tags FROM lake.gold.readings "
                   "WHERE id IN (1, 2) ORDER BY id")
    rows = cursor.fetchall()
    assert rows[0] == [1, "ST-001", datetime(2025, 6, 1, 0, 15, tzinfo=UTC), date(2025, 6, 1), 6.25, 1,
                       Decimal("0.01"), True, ["pm", "hourly"]]
    assert rows[1][8] == []
    types = {d.name: d.type_code for d in cursor.description}
    assert types == {"id": "bigint", "station": "varchar", "observed_at": "timestamp(6) with time zone",
                     "day": "date", "pm25": "double", "aqi": "integer", "price": "decimal(12,2)", "ok": "boolean",
                     "tags": "array(varchar)"}
    price = next(d for d in cursor.description if d.name == "price")
    assert (price.precision, price.scale) == (12, 2)
    assert next(d for d in cursor.description if d.name == "station").internal_size == 2147483647


def test_trino_sql_is_translated_aggregates_windows_ctes_and_dates(connect):
    rows = query_all(connect("admin"), """
        WITH daily AS (
            SELECT day, unit_code, count(*) AS n, approx_distinct(station) AS stations,
                   avg(pm25) AS pm25
            FROM readings WHERE day < DATE '2025-06-03' GROUP BY day, unit_code)
        SELECT day, unit_code, n, stations, rank() OVER (PARTITION BY day ORDER BY n DESC, unit_code) AS r,
               date_trunc('month', day) AS month, CAST(date_add('day', 1, day) AS date) AS next_day,
               format_datetime(CAST(day AS timestamp), 'yyyy-MM-dd') AS label
        FROM daily ORDER BY day, r""")
    assert len(rows) == 6  # two days x three units
    assert rows[0][2] == 32 and rows[0][4] == 1
    assert rows[0][5] == date(2025, 6, 1) and rows[0][6] == date(2025, 6, 2) and rows[0][7] == "2025-06-01"
    assert sum(r[2] for r in rows) == 2 * 96


def test_unnamed_columns_are_named_as_trino_names_them(connect):
    cursor = connect("admin").cursor()
    cursor.execute("SELECT 1 + 1, 'x' AS named, id FROM readings WHERE id = 0")
    assert [d.name for d in cursor.description] == ["_col0", "named", "id"]
    assert cursor.fetchall() == [[2, "x", 0]]


def test_a_result_larger_than_a_page_is_paged_through_next_uri(connect, gateway):
    cursor = connect("admin").cursor()
    cursor.execute("SELECT id, station FROM readings ORDER BY id")
    rows = cursor.fetchall()
    assert [r[0] for r in rows] == list(range(READINGS))
    query = gateway.runner.get(cursor.query_id)
    assert query.state == "FINISHED" and query.rows_sent == READINGS
    assert query.token >= READINGS // PAGE_ROWS  # one response per page at least


def test_a_retried_next_uri_request_gets_the_same_page_again(gateway):
    headers = {"X-Trino-User": "admin", "X-Trino-Catalog": "lake", "X-Trino-Schema": "gold"}
    first = requests.post(f"{gateway.url}/v1/statement", data="SELECT id FROM readings ORDER BY id",
                          headers=headers, timeout=10).json()
    next_uri = first["nextUri"]
    page = requests.get(next_uri, headers=headers, timeout=10).json()
    again = requests.get(next_uri, headers=headers, timeout=10).json()
    assert page["data"] == again["data"] and page["data"]
    requests.delete(again["nextUri"], headers=headers, timeout=10)


def test_delete_cancels_and_a_later_get_answers_user_canceled(gateway):
    headers = {"X-Trino-User": "admin", "X-Trino-Catalog": "lake", "X-Trino-Schema": "gold"}
    first = requests.post(f"{gateway.url}/v1/statement", data="SELECT * FROM readings",
                          headers=headers, timeout=10).json()
    assert first["stats"]["state"] in ("QUEUED", "RUNNING") and first["nextUri"]
    deleted = requests.delete(first["nextUri"], headers=headers, timeout=10)
    assert deleted.status_code == 204
    after = requests.get(first["nextUri"], headers=headers, timeout=10).json()
    assert after["stats"]["state"] == "FAILED"
    assert after["error"]["errorName"] == "USER_CANCELED" and after["error"]["errorType"] == "USER_ERROR"
    assert "nextUri" not in after


def test_the_client_cancels_a_running_query_and_duckdb_stops(connect, gateway):
    cursor = connect("admin").cursor()
    slow = "SELECT count(*) FROM readings a CROSS JOIN readings b WHERE (a.id * b.id) % 7 = 3"
    done = threading.Event()
    errors = []

    def run():
        try:
            cursor.execute(slow)
            cursor.fetchall()
        except TrinoQueryError as exc:
            errors.append(exc)
        done.set()

    threading.Thread(target=run, daemon=True).start()
    deadline = time.monotonic() + 10
    while cursor.query_id is None or gateway.runner.get(cursor.query_id).state != "RUNNING":
        assert time.monotonic() < deadline, "the query never started"
        time.sleep(0.05)
    started = time.monotonic()
    cursor.cancel()
    assert done.wait(10)
    query = gateway.runner.get(cursor.query_id)
    assert query.error.name == "USER_CANCELED"
    assert time.monotonic() - started < 5  # interrupted, not run to the end (625M pairs)
    assert not errors or errors[0].error_name == "USER_CANCELED"


@pytest.mark.parametrize(("sql", "name"), [
    ("SELEC 1", "SYNTAX_ERROR"),
    ("SELECT * FROM lake.gold.nope", "TABLE_NOT_FOUND"),
    ("SELECT * FROM lake.platinum.readings", "SCHEMA_NOT_FOUND"),
    ("SELECT * FROM hive.gold.readings", "CATALOG_NOT_FOUND"),
    ("SELECT no_such_column FROM readings", "COLUMN_NOT_FOUND"),
    ("SELECT no_such_function(id) FROM readings", "FUNCTION_NOT_FOUND"),
    ("SELECT CAST(station AS integer) FROM readings", "INVALID_CAST_ARGUMENT"),
    ("SELECT * FROM read_csv('/etc/passwd')", "NOT_SUPPORTED"),
    ('SELECT * FROM "/etc/passwd"', "TABLE_NOT_FOUND"),
    ("INSERT INTO readings SELECT * FROM readings", "NOT_SUPPORTED"),
    ("DROP TABLE readings", "NOT_SUPPORTED"),
])
def test_sql_errors_come_back_as_trino_errors(connect, sql, name):
    with pytest.raises(TrinoUserError) as caught:
        query_all(connect("admin"), sql)
    assert caught.value.error_name == name, caught.value.message
    assert caught.value.error_type == "USER_ERROR" and caught.value.query_id


def test_a_syntax_error_says_where(connect):
    with pytest.raises(TrinoUserError) as caught:
        query_all(connect("admin"), "SELECT id\nFROM readings WHERE")
    assert caught.value.error_location is not None and caught.value.error_location[0] == 2


def test_writes_from_a_read_only_department_are_access_denied(connect):
    with pytest.raises(TrinoUserError) as caught:
        query_all(connect("ana"), "DELETE FROM readings WHERE id = 1")
    assert caught.value.error_name == "PERMISSION_DENIED"
    assert caught.value.message == "Access Denied: Cannot delete from table lake.gold.readings"


def test_show_describe_and_use(connect):
    connection = connect("ana", catalog=None, schema=None)
    assert query_all(connection, "SHOW CATALOGS") == [["lake"], ["system"]]
    assert query_all(connection, "SHOW SCHEMAS FROM lake") == [["gold"], ["information_schema"]]
    cursor = connection.cursor()
    cursor.execute("USE lake.gold")
    cursor.fetchall()
    session = connection._client_session  # where the client keeps X-Trino-Set-Catalog/-Schema
    assert (session.catalog, session.schema) == ("lake", "gold")
    assert query_all(connection, "SHOW TABLES") == [["people"], ["readings"]]
    assert query_all(connection, "SHOW TABLES LIKE 'read%'") == [["readings"]]
    columns = query_all(connection, "DESCRIBE people")
    assert [c[0] for c in columns] == ["person_id", "full_name", "phone", "birth_date", "unit_code"]  # no email
    assert columns[3][1] == "date"


def test_parameters_go_through_execute_immediate_and_legacy_prepare(connect):
    expected = sum(1 for i in range(READINGS) if i % 3 == 0 and i % 300 < 10)
    assert query_all(connect("admin"), "SELECT count(*) FROM readings WHERE unit_code = ? AND aqi < ?",
                     ["193", 10]) == [[expected]]
    legacy = connect("admin", legacy_prepared_statements=True)
    assert query_all(legacy, "SELECT station FROM readings WHERE id = ?", [41]) == [["ST-001"]]


def test_session_properties_round_trip_and_query_max_run_time_is_enforced(connect):
    connection = connect("admin")
    cursor = connection.cursor()
    cursor.execute("SET SESSION query_max_run_time = '1s'")
    cursor.fetchall()
    assert connection._client_session.properties == {"query_max_run_time": "1s"}
    assert ["query_max_run_time", "1s"] == query_all(connection, "SHOW SESSION")[0][:2]
    with pytest.raises(TrinoQueryError) as caught:
        query_all(connection, "SELECT count(*) FROM readings a CROSS JOIN readings b WHERE (a.id * b.id) % 7 = 3")
    assert caught.value.error_name == "EXCEEDED_TIME_LIMIT"


def test_session_functions_answer_from_the_session(connect):
    assert query_all(connect("ana"), "SELECT current_user, current_catalog, current_schema") == [["ana", "lake", "gold"]]


def test_info_endpoint_answers_without_credentials(gateway):
    info = requests.get(f"{gateway.url}/v1/info", timeout=5).json()
    assert info["coordinator"] is True and info["starting"] is False


def test_a_query_id_and_stats_come_back(connect):
    cursor = connect("admin").cursor()
    cursor.execute("SELECT 1")
    cursor.fetchall()
    assert cursor.stats["state"] == "FINISHED" and cursor.query_id


def test_user_header_is_required_without_a_password_file(gateway):
    response = requests.post(f"{gateway.url}/v1/statement", data="SELECT 1", timeout=5)
    assert response.status_code == 400


def test_trino_client_errors_bubble_as_dbapi_errors(connect):
    with pytest.raises(trino.exceptions.ProgrammingError):
        query_all(connect("admin"), "SELECT * FROM lake.gold.nope")
