"""The serving DuckDB file: views only, read-only readers, and writers that never wait on it.

Readers here go through ``ioc_superset.duckdb_serving.shared_cursor`` — the code Superset's
``DB_CONNECTION_MUTATOR`` runs — while a writer commits new Delta versions of the same table."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from deltalake import write_deltalake

from lakehouse.lake.extensions import extension_directory
from lakehouse.settings import Settings
from lakehouse.superset.env import SUPERSET_DIR, VENV
from lakehouse.superset.serving import build_serving_db

sys.path.insert(0, str(SUPERSET_DIR))
from ioc_superset.duckdb_serving import shared_cursor

CONNECT_ARGS = {"read_only": True, "preload_extensions": ["delta", "spatial"],
                "config": {"extension_directory": extension_directory(), "autoinstall_known_extensions": False,
                           "autoload_known_extensions": False}}


@pytest.fixture
def lake(tmp_path: Path) -> Settings:
    root = tmp_path / "lake"
    write_deltalake(str(root / "gold" / "visits"), pa.table({"site": ["a", "b"], "visitors": [10, 20]}))
    write_deltalake(str(root / "ops" / "quality_results"), pa.table({"dataset": ["x"], "success": [True]}))
    write_deltalake(str(root / "bronze" / "raw"), pa.table({"secret": ["clear personal data"]}))
    return Settings(lake_root=str(root))


def test_serving_file_holds_only_views_of_the_served_tiers(lake: Settings, tmp_path: Path) -> None:
    path = tmp_path / "serving.duckdb"
    assert build_serving_db(path, lake) == ["gold.visits", "ops.quality_results"]
    con = duckdb.connect(str(path), read_only=True, config=CONNECT_ARGS["config"])
    con.execute("LOAD delta")
    assert con.execute("select table_schema, table_name, table_type from information_schema.tables "
                       "order by 1, 2").fetchall() == [("gold", "visits", "VIEW"), ("ops", "quality_results", "VIEW")]
    assert con.execute("select sum(visitors) from gold.visits").fetchone() == (30,)
    with pytest.raises(duckdb.Error):  # read-only: Superset cannot change it
        con.execute("create table gold.x as select 1")


def test_readers_and_a_writer_never_block_each_other(lake: Settings, tmp_path: Path) -> None:
    path = tmp_path / "serving.duckdb"
    build_serving_db(path, lake)
    uri = str(Path(lake.lake_root) / "gold" / "visits")
    errors: list[BaseException] = []
    seen: list[list[int]] = [[] for _ in range(4)]
    stop = threading.Event()

    def reader(counts: list[int]) -> None:
        try:
            while not stop.is_set():
                cursor = shared_cursor(str(path), CONNECT_ARGS)
                counts.append(cursor.execute("select count(*) from gold.visits").fetchone()[0])
                cursor.close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(counts,)) for counts in seen]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    for i in range(20):  # 20 commits while 4 readers query the same table through the shared instance
        write_deltalake(uri, pa.table({"site": [f"s{i}"], "visitors": [i]}), mode="append")
    writing = time.monotonic() - started
    time.sleep(0.3)
    stop.set()
    for thread in threads:
        thread.join()
    assert not errors, errors[:1]
    assert sum(map(len, seen)) > 20
    assert all(counts == sorted(counts) for counts in seen), "a reader never sees a version go back"
    assert all(counts[-1] == 22 for counts in seen), "a commit shows on the next query, no restart"
    assert writing < 20, f"the writer waited on readers ({writing:.1f} s for 20 commits)"


def test_a_rebuilt_serving_file_is_picked_up_by_the_next_query(lake: Settings, tmp_path: Path) -> None:
    path = tmp_path / "serving.duckdb"
    build_serving_db(path, lake)
    held = shared_cursor(str(path), CONNECT_ARGS)  # a query in flight on the old file
    write_deltalake(str(Path(lake.lake_root) / "gold" / "sites"), pa.table({"site": ["a"]}))
    time.sleep(0.01)  # a distinct mtime for the new file
    assert "gold.sites" in build_serving_db(path, lake)
    assert held.execute("select count(*) from gold.visits").fetchone() == (2,)  # old instance still serves it
    fresh = shared_cursor(str(path), CONNECT_ARGS)
    assert fresh.execute("select count(*) from gold.sites").fetchone() == (1,)


def test_duckdb_dialect_keeps_duckdb_reserved_words_without_a_query_per_dialect() -> None:
    """Superset builds a dialect per query; after ``reserved_words_once`` none asks DuckDB for its
    keywords again, and words DuckDB reserves (PostgreSQL does not) are still quoted."""
    probe = textwrap.dedent("""
        import duckdb, sqlalchemy
        from ioc_superset.duckdb_serving import reserved_words_once
        reserved_words_once()
        def refuse(*args, **kwargs):
            raise AssertionError("dialect queried DuckDB")
        duckdb.cursor = duckdb.execute = refuse
        for _ in range(3):
            preparer = sqlalchemy.create_engine("duckdb:///:memory:").dialect.identifier_preparer
            print(preparer.quote("qualify"), preparer.quote("pivot"), preparer.quote("visitors"))
    """)
    result = subprocess.run([str(VENV / "bin" / "python"), "-c", probe],
                            check=False, cwd=SUPERSET_DIR, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ['"qualify" "pivot" visitors'] * 3


def test_chart_aggregates_go_to_pandas_by_name_with_unchanged_results() -> None:
    """Superset's pivot/aggregate post-processing gives the same frames after the backported
    upstream fix, with the plain reductions passed to pandas by name (its compiled group-by)."""
    probe = textwrap.dedent("""
        import numpy as np, pandas as pd
        from superset.utils.pandas_postprocessing import aggregate, pivot
        from ioc_superset.pandas_aggregates import NATIVE_OPERATORS, native_aggregates_once
        df = pd.DataFrame({"t": pd.date_range("2026-12-01", periods=6, freq="h").repeat(4),
                           "station": ["a", "b", "c", "a"] * 6,
                           "v": [1.5, np.nan, 3.0, 4.5] * 5 + [np.nan] * 4})
        operators = sorted(NATIVE_OPERATORS) + ["median", "std", "var", "count"]
        def run():
            out = {}
            for op in operators:
                spec = {"v": {"operator": op}}
                out[op] = (pivot(df, index=["t"], columns=["station"], aggregates=spec),
                           aggregate(df, groupby=["station"], aggregates=spec))
            out["p90"] = (pivot(df, index=["t"], columns=["station"],
                                aggregates={"v": {"operator": "percentile", "options": {"q": 90}}}), None)
            return out
        before = run()
        native_aggregates_once(); native_aggregates_once()
        after = run()
        for op, (pivoted, aggregated) in before.items():
            pd.testing.assert_frame_equal(pivoted, after[op][0])
            if aggregated is not None:
                pd.testing.assert_frame_equal(aggregated, after[op][1])
        passed = []  # what pandas is handed, seen from pandas' side
        pivot_table = pd.DataFrame.pivot_table
        def spy(self, *args, **kwargs):
            passed.append(kwargs["aggfunc"]["v"])
            return pivot_table(self, *args, **kwargs)
        pd.DataFrame.pivot_table = spy
        for op in operators:
            pivot(df, index=["t"], columns=["station"], aggregates={"v": {"operator": op}})
        print(sorted(op for op, f in zip(operators, passed) if f == op))
    """)
    result = subprocess.run([str(VENV / "bin" / "python"), "-c", probe], check=False, cwd=SUPERSET_DIR,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['max', 'mean', 'min', 'prod', 'sum']"
