"""The Spark ↔ Delta bridge against real tables: other engines read what Spark writes and
Spark reads what they write; pruning, time travel, schema rules, maintenance operations,
concurrency, failed jobs and idempotent batches."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake
from pyspark.sql import functions as F
from pyspark.sql.datasource import CaseInsensitiveDict, EqualTo, GreaterThan

from lakehouse.lake.delta import app_id
from lakehouse.lake.duck import lake_connection
from lakehouse.spark import (
    DeltaConflictError,
    DeltaDataError,
    DeltaDataSource,
    DeltaSchemaError,
    DeltaUnsupportedError,
    read_delta,
    write_delta,
)
from lakehouse.spark.delta_source import EngineScan, FileGroup

SCHEMA = ("site string, n int, big bigint, x double, ok boolean, day date, at timestamp, "
          "amount decimal(12,2)")
T0 = datetime(2025, 6, 1, 7, 30, 15, 123456, tzinfo=UTC)
ROWS = [
    ("a b/c", 1, 10_000_000_000, 1.5, True, date(2025, 6, 1), T0, Decimal("1234.50")),
    ("a b/c", 2, None, None, False, date(2025, 6, 2), T0.replace(hour=23), Decimal("-0.01")),
    ("hạ long", 3, 3, 2.25, None, date(2025, 6, 2), None, None),
    (None, 4, 4, -1.0, True, None, T0.replace(year=2024), Decimal("0.00")),
]
ONE_FILE_PER_TASK = {"maxPartitionBytes": "1"}


def parquet_files(uri: str) -> set[str]:
    root = Path(uri)
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet")
            if "_delta_log" not in p.parts}


def sorted_rows(table: pa.Table, key: str = "n") -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: (r[key] is None, r[key]))


def expected_rows() -> list[dict]:
    names = [c.split()[0] for c in SCHEMA.split(", ")]
    return sorted([dict(zip(names, r, strict=True)) for r in ROWS], key=lambda r: r["n"])


def test_spark_writes_what_delta_rs_duckdb_and_spark_read(spark, lake_table, lake_settings):
    uri = lake_table("readings")
    df = spark.createDataFrame(ROWS, SCHEMA)
    result = write_delta(df, uri, partition_by=["site"])
    assert (result.version, result.rows, result.skipped) == (0, 4, False)

    table = DeltaTable(uri)
    assert table.metadata().partition_columns == ["site"]
    types = {f.name: str(f.type) for f in table.schema().fields}
    assert types["at"] == 'PrimitiveType("timestamp")'  # tz-aware UTC, not timestamp_ntz
    assert types["amount"] == 'PrimitiveType("decimal(12,2)")'
    assert types["day"] == 'PrimitiveType("date")'
    assert sorted_rows(table.to_pyarrow_table()) == expected_rows()

    actions = pa.table(table.get_add_actions(flatten=True)).to_pylist()
    assert {a["partition.site"] for a in actions} == {None, "a b/c", "hạ long"}
    assert sum(a["num_records"] for a in actions) == 4
    both = [a for a in actions if a["partition.site"] == "a b/c"]  # one file per task
    assert min(a["min.n"] for a in both) == 1 and max(a["max.n"] for a in both) == 2
    assert sum(a["null_count.big"] for a in both) == 1
    assert max(a["max.at"] for a in both) >= T0.replace(hour=23)  # ms stats still bound it

    con = lake_connection(lake_settings)
    assert con.execute("SELECT count(*), sum(n), sum(amount) FROM silver.readings").fetchone() == (
        4, 10, Decimal("1234.49"))
    assert con.execute("SELECT n FROM silver.readings WHERE site = 'a b/c' ORDER BY n").fetchall() \
        == [(1,), (2,)]
    assert con.execute("SELECT count(*) FROM silver.readings WHERE site IS NULL").fetchone() == (1,)

    back = read_delta(spark, uri)
    assert back.schema.simpleString() == spark.createDataFrame([], SCHEMA).schema.simpleString()
    assert sorted_rows(back.toArrow()) == expected_rows()


def test_delta_rs_tables_read_in_spark_with_time_travel_and_projection(spark, lake_table):
    uri = lake_table("events")
    first = pa.table({"id": pa.array([1, 2], pa.int64()),
                      "seen": pa.array([datetime(2025, 1, 1, 8), datetime(2025, 1, 2, 9)],
                                       pa.timestamp("us")),  # timestamp_ntz, as dbt/DuckDB writes
                      "tags": pa.array([["x"], []], pa.list_(pa.string())),
                      "where": pa.array([{"lat": 20.9, "lon": 107.1}, None],
                                        pa.struct([("lat", pa.float64()), ("lon", pa.float64())]))})
    write_deltalake(uri, first)
    write_deltalake(uri, first.slice(0, 1).set_column(0, "id", pa.array([3], pa.int64())),
                    mode="append")

    latest = read_delta(spark, uri)
    assert latest.schema["seen"].dataType.simpleString() == "timestamp_ntz"
    assert sorted(r.id for r in latest.collect()) == [1, 2, 3]
    v0 = read_delta(spark, uri, version=0).toArrow()
    assert sorted_rows(v0, "id") == sorted_rows(first, "id")
    created = DeltaTable(uri).history()[-1]["timestamp"]  # ms since epoch, version 0
    as_of = datetime.fromtimestamp(created / 1000, UTC).isoformat()
    assert read_delta(spark, uri, timestamp=as_of).count() == 2
    projected = read_delta(spark, uri, columns=["tags", "id", "id"])
    assert projected.columns == ["tags", "id"]
    assert sorted((r.id, r.tags) for r in projected.collect()) == [(1, ["x"]), (2, []), (3, ["x"])]
    with pytest.raises(Exception, match="no column"):
        read_delta(spark, uri, columns=["nope"])


def _partitioned(spark, uri: str) -> None:
    days = [date(2025, 6, d) for d in (1, 2, 3, 4)]
    rows = [(day, i, float(day.day * 100 + i)) for day in days for i in range(5)]
    df = spark.createDataFrame(rows, "day date, i int, reading double").repartition(1)
    write_delta(df, uri, partition_by=["day"])
    # a second file per day whose `i` range is disjoint from the first one's (data skipping)
    more = spark.createDataFrame([(day, 100 + i, 0.0) for day in days for i in range(3)],
                                 "day date, i int, reading double").repartition(1)
    write_delta(more, uri)


def test_where_prunes_partitions_and_skips_files(spark, lake_table):
    uri = lake_table("pruned")
    _partitioned(spark, uri)

    def scan(where: str | None = None):
        frame = read_delta(spark, uri, where=where, options=ONE_FILE_PER_TASK)
        return frame.rdd.getNumPartitions(), frame

    tasks, everything = scan()
    assert tasks == 8  # 4 days × 2 files, one task each
    tasks, one_day = scan("day = '2025-06-02'")
    assert tasks == 2 and one_day.count() == 8
    tasks, two_days = scan("day >= '2025-06-03'")
    assert tasks == 4 and sorted({r.day.day for r in two_days.collect()}) == [3, 4]
    tasks, late = scan("i >= 100")  # data column: statistics rule out the first file per day
    assert tasks == 4 and late.count() == 12
    tasks, both = scan("day = DATE '2025-06-01' AND i < 3")
    assert tasks == 1 and sorted(r.i for r in both.collect()) == [0, 1, 2]
    tasks, either = scan("day = '2025-06-01' OR i >= 100")  # OR: no pruning, exact rows
    assert tasks == 8 and either.count() == 8 + 12 - 3
    projected = read_delta(spark, uri, columns=["i"], where="day IN ('2025-06-04')")
    assert projected.columns == ["i"] and sorted(r.i for r in projected.collect()) == [
        0, 1, 2, 3, 4, 100, 101, 102]
    assert everything.count() == 32


def test_reused_dataframe_is_not_served_a_stale_pruned_plan(spark, lake_table):
    uri = lake_table("reused")
    _partitioned(spark, uri)
    frame = read_delta(spark, uri)
    assert frame.where("day = '2025-06-01'").count() == 8
    assert frame.count() == 32  # pyspark 4.3 with Spark-level pushdown on would say 8 here
    assert frame.where("day = '2025-06-01' OR i = 100").count() == 11


def test_spark_level_pushdown_when_enabled(spark, lake_table):
    uri = lake_table("pushed")
    _partitioned(spark, uri)
    previous = spark.conf.get("spark.sql.python.filterPushdown.enabled")
    spark.conf.set("spark.ioc.delta.pushdown", "true")
    spark.conf.set("spark.sql.python.filterPushdown.enabled", "true")
    try:
        def tasks(condition) -> int:  # a fresh DataFrame per query (see the test above)
            frame = read_delta(spark, uri, options=ONE_FILE_PER_TASK).where(condition)
            return frame.rdd.getNumPartitions()

        assert tasks(F.col("day") == date(2025, 6, 2)) == 2
        assert tasks("day >= '2025-06-03' AND i >= 100") == 2
        assert tasks("day IS NULL OR i > 1") == 8
        fresh = read_delta(spark, uri, options=ONE_FILE_PER_TASK).where("day = '2025-06-04'")
        assert sorted(r.i for r in fresh.collect()) == [0, 1, 2, 3, 4, 100, 101, 102]
    finally:
        spark.conf.unset("spark.ioc.delta.pushdown")
        spark.conf.set("spark.sql.python.filterPushdown.enabled", previous)


def test_reader_planning_handles_partition_filters_and_returns_data_filters(spark, lake_table):
    uri = lake_table("planned")
    _partitioned(spark, uri)
    source = DeltaDataSource(CaseInsensitiveDict({"path": uri, "filterPushdown": "true",
                                                  **ONE_FILE_PER_TASK}))
    reader = source.reader(source.schema())
    day, data = EqualTo(("day",), date(2025, 6, 4)), GreaterThan(("i",), 50)
    remaining = list(reader.pushFilters([day, data]))
    assert remaining == [data]  # the partition filter is exact, the data filter only skips
    planned = reader.partitions()
    assert all(isinstance(p, FileGroup) for p in planned)
    files = [f for p in planned for f in p.files]
    assert len(files) == 1 and dict(files[0].partition)["day"] == date(2025, 6, 4)
    rows = pa.Table.from_batches([b for p in planned for b in reader.read(p)])
    assert sorted(rows.column("i").to_pylist()) == [100, 101, 102]


def test_schema_evolution_merges_only_when_asked(spark, lake_table):
    uri = lake_table("evolving")
    created = write_delta(spark.createDataFrame([], "id long, name string"), uri)
    assert created.version == 0 and read_delta(spark, uri).count() == 0  # schema-only table
    write_delta(spark.createDataFrame([(1, "a")], "id long, name string"), uri)
    wider = spark.createDataFrame([(2, "b", 7.5)], "id long, name string, score double")
    with pytest.raises(DeltaSchemaError, match="score"):
        write_delta(wider, uri)
    assert DeltaTable(uri).version() == 1

    result = write_delta(wider, uri, merge_schema=True)
    table = DeltaTable(uri)
    assert [f.name for f in table.schema().fields] == ["id", "name", "score"]
    assert result.version == table.version() == 3  # metadata commit, then the data commit
    rows = sorted(read_delta(spark, uri).collect())
    assert [tuple(r) for r in rows] == [(1, "a", None), (2, "b", 7.5)]

    narrower = spark.createDataFrame([(3,)], "id int")  # int widens to long; missing cols NULL
    write_delta(narrower, uri)
    assert DeltaTable(uri).to_pyarrow_table().num_rows == 3
    with pytest.raises(DeltaSchemaError, match="id"):
        write_delta(spark.createDataFrame([("x",)], "id string"), uri)
    assert DeltaTable(uri).version() == 4


def test_tables_after_delete_update_optimize_and_checkpoint(spark, lake_table):
    uri = lake_table("maintained")
    for part in range(3):
        batch = pa.table({"k": pa.array(range(part * 10, part * 10 + 10), pa.int64()),
                          "g": pa.array([f"g{part}"] * 10)})
        write_deltalake(uri, batch, mode="append", partition_by=["g"])
    table = DeltaTable(uri)
    table.delete("k % 3 = 0")
    table.update(updates={"k": "k + 1000"}, predicate="g = 'g1'")
    before_compaction = table.version()
    table.optimize.compact()
    table.create_checkpoint()
    write_deltalake(uri, pa.table({"k": pa.array([99], pa.int64()), "g": ["g9"]}), mode="append")
    table = DeltaTable(uri)
    assert list(Path(uri, "_delta_log").glob("*.checkpoint.parquet"))
    assert "deletionVectors" not in (table.protocol().reader_features or [])
    assert pa.table(table.deletion_vectors()).num_rows == 0

    expected = sorted(table.to_pyarrow_table().column("k").to_pylist())
    assert sorted(r.k for r in read_delta(spark, uri).collect()) == expected
    assert 1010 in expected and 0 not in expected
    old = DeltaTable(uri, version=before_compaction).to_pyarrow_table().column("k").to_pylist()
    assert sorted(r.k for r in read_delta(spark, uri, version=before_compaction).collect()) \
        == sorted(old)


def test_deletion_vector_and_column_mapping_tables(spark, lake_table):
    dv_uri = lake_table("dv_enabled")
    data = pa.table({"a": pa.array([1, 2, 3], pa.int64()), "b": ["x", "y", "z"]})
    write_deltalake(dv_uri, data, configuration={"delta.enableDeletionVectors": "true"})
    DeltaTable(dv_uri).delete("a = 2")  # delta-rs rewrites the file: no DV is written
    source = DeltaDataSource(CaseInsensitiveDict({"path": dv_uri}))
    assert all(isinstance(p, FileGroup) for p in source.reader(source.schema()).partitions())
    assert sorted(r.a for r in read_delta(spark, dv_uri).collect()) == [1, 3]

    mapped = lake_table("column_mapped")
    write_deltalake(mapped, data, configuration={"delta.columnMapping.mode": "name"})
    source = DeltaDataSource(CaseInsensitiveDict({"path": mapped}))
    assert [type(p) for p in source.reader(source.schema()).partitions()] == [EngineScan]
    assert sorted(tuple(r) for r in read_delta(spark, mapped).collect()) == [
        (1, "x"), (2, "y"), (3, "z")]
    with pytest.raises(DeltaUnsupportedError, match="column mapping"):
        write_delta(spark.createDataFrame([(4, "w")], "a long, b string"), mapped)


def test_overwrite_modes(spark, lake_table):
    uri = lake_table("overwritten")
    df = spark.createDataFrame([(p, i) for p in ("a", "b: 2/3", "c") for i in range(4)],
                               "p string, i int")
    write_delta(df.repartition(1), uri, partition_by=["p"])  # one file per partition

    write_delta(spark.createDataFrame([("b: 2/3", 100)], "p string, i int"), uri,
                mode="overwrite_partition")  # dynamic: only that partition is replaced
    assert sorted((r["p"], r["i"]) for r in DeltaTable(uri).to_pyarrow_table().to_pylist()) \
        == [("a", i) for i in range(4)] + [("b: 2/3", 100)] + [("c", i) for i in range(4)]

    files_before = parquet_files(uri)
    write_delta(spark.createDataFrame([("c", 200)], "p string, i int"), uri,
                mode="overwrite_partition", predicate="p = 'c' AND i >= 2")  # partial rewrite
    got = sorted((r["p"], r["i"]) for r in DeltaTable(uri).to_pyarrow_table().to_pylist())
    assert [x for x in got if x[0] == "c"] == [("c", 0), ("c", 1), ("c", 200)]
    assert len(parquet_files(uri) - files_before) == 2  # the new rows + the rewritten kept rows

    version = DeltaTable(uri).version()
    with pytest.raises(DeltaDataError, match="overwrite predicate"):
        write_delta(spark.createDataFrame([("a", 1)], "p string, i int"), uri,
                    mode="overwrite_partition", predicate="p = 'c'")
    assert DeltaTable(uri).version() == version

    result = write_delta(spark.createDataFrame([("z", 1)], "p string, i int"), uri,
                         mode="overwrite")
    assert DeltaTable(uri).to_pyarrow_table().to_pylist() == [{"p": "z", "i": 1}]
    assert result.version == version + 1 and result.rows == 1


def _gated(spark, rows, schema: str, gate: Path):
    """A DataFrame whose single task waits for ``gate/release`` (after touching
    ``gate/started``): the write is planned, its read version pinned, then held."""
    started, release = str(gate / "started"), str(gate / "release")

    def hold(batches):
        import os
        import time as clock

        open(started, "w").close()
        deadline = clock.time() + 60
        while not os.path.exists(release) and clock.time() < deadline:
            clock.sleep(0.05)
        yield from batches

    frame = spark.createDataFrame(rows, schema).repartition(1)
    return frame.mapInArrow(hold, frame.schema)


def _run_while_held(gate: Path, write, meanwhile) -> BaseException | None:
    gate.mkdir()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            write()
        except BaseException as error:  # noqa: BLE001 - handed to the test
            failure.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    deadline = time.time() + 60
    while not (gate / "started").exists() and time.time() < deadline and thread.is_alive():
        time.sleep(0.05)
    reasons = [str(e)[:500] for e in failure]
    assert (gate / "started").exists(), f"the Spark task never started: {reasons}"
    meanwhile()
    (gate / "release").touch()
    thread.join(90)
    assert not thread.is_alive()
    return failure[0] if failure else None


def test_concurrent_commits(spark, lake_table, tmp_path):
    uri = lake_table("contended")
    write_deltalake(uri, pa.table({"p": ["a", "b"], "v": pa.array([1, 2], pa.int64())}),
                    partition_by=["p"])

    # Blind appends do not conflict: delta-rs rebases the Spark commit, both land.
    appended = _gated(spark, [("a", 10)], "p string, v long", tmp_path / "append")
    error = _run_while_held(
        tmp_path / "append", lambda: write_delta(appended, uri),
        lambda: write_deltalake(uri, pa.table({"p": ["b"], "v": pa.array([20], pa.int64())}),
                                mode="append"))
    assert error is None
    assert sorted(DeltaTable(uri).to_pyarrow_table().column("v").to_pylist()) == [1, 2, 10, 20]
    assert DeltaTable(uri).version() == 2

    # Replacing partition a while another writer deletes it: the second commit loses.
    files_before = parquet_files(uri)
    replacing = _gated(spark, [("a", 99)], "p string, v long", tmp_path / "replace")
    error = _run_while_held(
        tmp_path / "replace", lambda: write_delta(replacing, uri, mode="overwrite_partition"),
        lambda: DeltaTable(uri).delete("p = 'a'"))
    assert isinstance(error, DeltaConflictError), error
    assert "concurrent" in str(error)
    table = DeltaTable(uri)
    assert table.version() == 3  # the delete; no Spark commit
    assert sorted(table.to_pyarrow_table().column("v").to_pylist()) == [2, 20]
    assert parquet_files(uri) == files_before  # the Spark task's files were removed


def test_failed_job_commits_nothing_and_leaves_no_files(spark, lake_table):
    uri = lake_table("failing")
    write_delta(spark.createDataFrame([(0, "seed")], "id long, note string"), uri)
    before = parquet_files(uri)
    root, seed = uri, set(before)

    def explode_in_second_task(batches):
        import os
        import time as clock

        from pyspark import TaskContext

        if TaskContext.get().partitionId() == 1:
            # wait until the healthy task has written a file, then fail mid-job
            deadline = clock.time() + 30
            while clock.time() < deadline and not any(
                    name.endswith(".parquet") and name not in seed for name in os.listdir(root)):
                clock.sleep(0.05)
            raise RuntimeError("disk pulled out mid-write")
        yield from batches

    df = spark.createDataFrame([(i, "x") for i in range(1, 9)], "id long, note string")
    df = df.repartition(2).mapInArrow(explode_in_second_task, df.schema)
    with pytest.raises(Exception, match="disk pulled out"):
        write_delta(df, uri)
    assert DeltaTable(uri).version() == 0
    assert DeltaTable(uri).to_pyarrow_table().column("id").to_pylist() == [0]
    assert parquet_files(uri) == before


def test_same_batch_id_is_written_once(spark, lake_table):
    uri = lake_table("batches")
    df = spark.createDataFrame([(1, "a"), (2, "b")], "id long, v string")
    first = write_delta(df, uri, batch_id="2025-06-01T00")
    again = write_delta(df, uri, batch_id="2025-06-01T00")
    assert not first.skipped and again.skipped and again.version == first.version == 0
    table = DeltaTable(uri)
    assert table.transaction_version(app_id("2025-06-01T00")) == 1
    assert table.history(1)[0]["ioc.batch_id"] == "2025-06-01T00"

    # Past the helper's early check (a race): the writer itself drops the batch.
    (df.write.format("ioc_delta").mode("append")
     .option("txnAppId", app_id("2025-06-01T00")).option("txnVersion", "1").save(uri))
    assert DeltaTable(uri).version() == 0 and DeltaTable(uri).to_pyarrow_table().num_rows == 2
    assert parquet_files(uri) == {a["path"] for a in
                                  pa.table(DeltaTable(uri).get_add_actions()).to_pylist()}

    other = write_delta(df, uri, batch_id="2025-06-01T01")
    assert other.version == 1 and DeltaTable(uri).to_pyarrow_table().num_rows == 4
