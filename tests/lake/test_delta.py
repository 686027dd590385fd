"""Delta IO guarantees: exactly-once batches, atomic writes, concurrent appends, merge, time travel."""

from __future__ import annotations

import multiprocessing as mp

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError, SchemaMismatchError

from lakehouse.lake import delta

SCHEMA = pa.schema([pa.field("k", pa.int64(), nullable=False), pa.field("v", pa.string()),
                    pa.field("ts", pa.int64())])


def _table(keys, values, ts=None):
    return pa.table({"k": keys, "v": values, "ts": ts or [0] * len(keys)}, schema=SCHEMA)


def test_same_batch_twice_is_stored_once(tmp_path):
    uri = str(tmp_path / "t")
    first = delta.append(uri, _table([1, 2], ["a", "b"]), batch_id="b1")
    again = delta.append(uri, _table([1, 2], ["a", "b"]), batch_id="b1")
    assert not first.skipped and again.skipped
    assert delta.read(uri).num_rows == 2
    assert DeltaTable(uri).version() == 0
    delta.append(uri, _table([3], ["c"]), batch_id="b2")
    assert delta.read(uri).num_rows == 3


def test_exception_mid_write_leaves_previous_version(tmp_path):
    uri = str(tmp_path / "t")
    delta.append(uri, _table([1, 2], ["a", "b"]), batch_id="b1")

    def exploding():
        yield _table([3, 4], ["c", "d"]).to_batches()[0]
        raise RuntimeError("disk pulled out mid-write")

    with pytest.raises(Exception, match="disk pulled out"):
        delta.append(uri, delta.batches(exploding(), SCHEMA), batch_id="b2")
    assert DeltaTable(uri).version() == 0
    assert sorted(delta.read(uri).column("k").to_pylist()) == [1, 2]
    # The failed batch was not recorded as done: retrying it lands it.
    assert not delta.batch_committed(uri, "b2")
    delta.append(uri, _table([3, 4], ["c", "d"]), batch_id="b2")
    assert delta.read(uri).num_rows == 4


def test_schema_is_enforced(tmp_path):
    uri = str(tmp_path / "t")
    delta.append(uri, _table([1], ["a"]), batch_id="b1")
    wrong = pa.table({"k": [2], "v": ["b"], "ts": [0], "extra": [1]})
    with pytest.raises(SchemaMismatchError, match="number of fields"):
        delta.append(uri, wrong, batch_id="b2")
    nulls = pa.table({"k": pa.array([None], pa.int64()), "v": ["x"], "ts": [0]})
    with pytest.raises(DeltaError, match="failed validation"):  # k is NOT NULL in the table
        delta.append(uri, nulls, batch_id="b3")
    assert DeltaTable(uri).version() == 0 and delta.read(uri).num_rows == 1


def _append_worker(uri: str, worker: int, rows: int) -> None:
    keys = list(range(worker * 1000, worker * 1000 + rows))
    delta.append(uri, _table(keys, [f"w{worker}"] * rows), batch_id=f"worker-{worker}")


def test_two_concurrent_appends_both_land(tmp_path):
    uri = str(tmp_path / "t")
    delta.append(uri, _table([0], ["seed"]), batch_id="seed")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_worker, args=(uri, w, 50)) for w in (1, 2, 3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    values = delta.read(uri).column("v").to_pylist()
    assert len(values) == 151
    assert {v: values.count(v) for v in set(values)} == {"seed": 1, "w1": 50, "w2": 50, "w3": 50}
    assert DeltaTable(uri).version() == 3


def test_merge_upserts_and_late_data_does_not_win(tmp_path):
    uri = str(tmp_path / "t")
    delta.merge(uri, _table([1, 2], ["a", "b"], [10, 10]), keys=["k"], batch_id="m1", order_by="ts")
    delta.merge(uri, _table([2, 3], ["B", "c"], [20, 20]), keys=["k"], batch_id="m2", order_by="ts")
    late = _table([2], ["stale"], [15])  # an older event arriving after a newer one
    delta.merge(uri, late, keys=["k"], batch_id="m3", order_by="ts")
    again = delta.merge(uri, late, keys=["k"], batch_id="m3", order_by="ts")
    assert again.skipped
    rows = {r["k"]: r["v"] for r in delta.read(uri).to_pylist()}
    assert rows == {1: "a", 2: "B", 3: "c"}
    assert DeltaTable(uri).metadata().configuration.get("delta.enableChangeDataFeed") == "true"


def test_overwrite_partition_replaces_only_that_partition(tmp_path):
    uri = str(tmp_path / "t")
    day = pa.schema([pa.field("day", pa.string()), pa.field("n", pa.int64())])
    delta.overwrite_partition(uri, pa.table({"day": ["d1", "d2"], "n": [1, 2]}, schema=day),
                              predicate="day = 'd1'", batch_id="p0", partition_by=["day"])
    delta.overwrite_partition(uri, pa.table({"day": ["d1"], "n": [10]}, schema=day),
                              predicate="day = 'd1'", batch_id="p1", partition_by=["day"])
    assert sorted(delta.read(uri).to_pylist(), key=lambda r: r["day"]) == [
        {"day": "d1", "n": 10}, {"day": "d2", "n": 2}]


def test_time_travel_and_history(tmp_path):  # compaction and vacuum: tests/lake/test_maintenance.py
    uri = str(tmp_path / "t")
    for i in range(4):
        delta.append(uri, _table([i], [str(i)]), batch_id=f"b{i}")
    assert delta.read(uri, version=1).num_rows == 2
    history = delta.history(uri)
    assert len(history) == 4 and history[0]["ioc.batch_id"] == "b3"


def test_soft_deletes_remove_keys_and_never_insert(tmp_path):
    uri = str(tmp_path / "t")
    schema = pa.schema([pa.field("k", pa.int64(), nullable=False), pa.field("ts", pa.int64()),
                        pa.field("deleted", pa.bool_())])
    def batch(rows):
        return pa.table({"k": [r[0] for r in rows], "ts": [r[1] for r in rows], "deleted": [r[2] for r in rows]},
                        schema=schema)
    delta.merge(uri, batch([(1, 1, False), (2, 1, False), (3, 1, True)]), keys=["k"], batch_id="a",
                order_by="ts", soft_delete="deleted")
    delta.merge(uri, batch([(1, 2, True), (2, 0, True), (4, 2, True)]), keys=["k"], batch_id="b",
                order_by="ts", soft_delete="deleted")
    # 1 deleted by a newer version; 2's delete is older than what silver has; 3 and 4 never existed live.
    assert sorted(delta.read(uri).column("k").to_pylist()) == [2]
