"""Lake maintenance: compaction, checkpoints and vacuum change files, never data, batch markers
or recent time travel; a second run is a no-op; writers keep writing meanwhile."""

from __future__ import annotations

import threading

import duckdb
import pyarrow as pa
import pytest
from airflow.dag_processing.dagbag import DagBag
from deltalake import DeltaTable
from deltalake.exceptions import CommitFailedError

from lakehouse.lake import delta
from lakehouse.lake.extensions import extension_directory
from lakehouse.lake.maintenance import MaintenancePolicy, lake_tables, maintain_lake, maintain_table
from lakehouse.settings import REPO_ROOT

SCHEMA = pa.schema([pa.field("k", pa.int64()), pa.field("unit", pa.string()), pa.field("v", pa.float64())])


def _batch(i: int, rows: int = 3) -> pa.Table:
    return pa.table({"k": [i * 100 + j for j in range(rows)], "unit": [f"u{i % 3}"] * rows,
                     "v": [float(i)] * rows}, schema=SCHEMA)


def _small_files(uri: str, batches: int, **kwargs) -> None:
    for i in range(batches):
        delta.append(uri, _batch(i), batch_id=f"b{i}", **kwargs)


def _rows(uri: str, version: int | None = None) -> list[dict]:
    return sorted(delta.read(uri, version=version).to_pylist(), key=lambda r: r["k"])


def test_compaction_keeps_rows_batch_markers_and_time_travel(tmp_path):
    uri = str(tmp_path / "t")
    _small_files(uri, 20, configuration=delta.CDF_ON)
    before, at_version_4 = _rows(uri), _rows(uri, version=4)

    result = maintain_table(uri)

    assert result.compacted and (result.files_before, result.files_after) == (20, 1)
    assert _rows(uri) == before
    assert _rows(uri, version=4) == at_version_4  # a week of time travel is kept
    assert delta.append(uri, _batch(7), batch_id="b7").skipped  # a re-run batch is still a no-op
    assert len(_rows(uri)) == 60
    assert [e["operation"] for e in DeltaTable(uri).history(1)] == ["OPTIMIZE"]
    assert (tmp_path / "t" / "_delta_log" / "_last_checkpoint").exists()
    con = duckdb.connect(config={"extension_directory": extension_directory()})
    con.execute("LOAD delta")
    assert con.execute(f"select count(*), sum(v) from delta_scan('{uri}')").fetchone() == (60, 570.0)


def test_a_second_run_changes_nothing(tmp_path):
    uri = str(tmp_path / "t")
    _small_files(uri, 20)
    maintain_table(uri)
    version = DeltaTable(uri).version()
    again = maintain_table(uri)
    assert not again.compacted and again.files_vacuumed == 0
    assert DeltaTable(uri).version() == version


def test_few_files_are_left_alone(tmp_path):
    uri = str(tmp_path / "t")
    _small_files(uri, 5)
    result = maintain_table(uri, MaintenancePolicy(min_files=16))
    assert not result.compacted and result.version_after == result.version_before == 4


def test_partitions_are_compacted_one_by_one(tmp_path):
    uri = str(tmp_path / "t")
    _small_files(uri, 18, partition_by=["unit"])
    before = _rows(uri)
    result = maintain_table(uri)
    assert (result.files_before, result.files_after) == (18, 3)  # one file per unit
    assert _rows(uri) == before
    assert sorted({p.split("/")[-2] for p in DeltaTable(uri).file_uris()}) == ["unit=u0", "unit=u1", "unit=u2"]


def test_vacuum_removes_only_what_no_kept_version_reads(tmp_path):
    uri = str(tmp_path / "t")
    _small_files(uri, 20)
    assert maintain_table(uri).files_vacuumed == 0  # compacted files are younger than a week
    result = maintain_table(uri, MaintenancePolicy(vacuum_retention_hours=0))
    assert result.files_vacuumed == 20
    assert len(_rows(uri)) == 60
    assert len(list((tmp_path / "t").glob("*.parquet"))) == 1


def test_writers_keep_writing_while_a_table_is_compacted(tmp_path):
    uri = str(tmp_path / "t")
    _small_files(uri, 30)
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            for i in range(30, 45):
                delta.append(uri, _batch(i), batch_id=f"b{i}")
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    thread = threading.Thread(target=writer)
    thread.start()
    for _ in range(3):
        maintain_table(uri, MaintenancePolicy(min_files=2))
    thread.join()
    assert not errors
    rows = _rows(uri)
    assert len(rows) == 45 * 3 and len({r["k"] for r in rows}) == 45 * 3  # none lost, none twice


def test_a_merge_that_races_the_compaction_is_planned_again(tmp_path, monkeypatch, caplog):
    """A MERGE reads the files it rewrites, so a compaction committed between its read and its
    commit fails the commit; ``delta.merge`` plans it again on the new version and the batch
    lands once. (The race is made certain: the first merge's commit waits for a compaction.)"""
    from deltalake.table import TableMerger

    uri = str(tmp_path / "t")

    def upsert(i: int) -> None:  # updates a recurring key, inserts a new one
        delta.merge(uri, pa.table({"k": [i % 5, 1000 + i], "unit": ["u", "u"], "v": [float(i)] * 2}, schema=SCHEMA),
                    keys=["k"], batch_id=f"m{i}", order_by="v")

    execute, race, compactions = TableMerger.execute, [], []

    def compaction_first(self):
        if race:  # a compaction commits after this merge read the table, before it commits
            race.clear()
            compactions.append(maintain_table(uri, MaintenancePolicy(min_files=2)))
        return execute(self)

    monkeypatch.setattr(TableMerger, "execute", compaction_first)
    for i in range(20):
        upsert(i)

    monkeypatch.setattr(delta, "MERGE_ATTEMPTS", 1)  # without planning again, the race is lost
    race.append(True)
    with pytest.raises(CommitFailedError):
        upsert(20)
    assert compactions.pop().compacted
    assert not delta.batch_committed(uri, "m20") and len(_rows(uri)) == 5 + 20

    for i in range(21, 40):
        upsert(i)
    for j in range(3):  # small files gather again (a merge rewrites the one file it matched)
        delta.append(uri, pa.table({"k": [2000 + j], "unit": ["u"], "v": [0.0]}, schema=SCHEMA), batch_id=f"a{j}")
    monkeypatch.setattr(delta, "MERGE_ATTEMPTS", 5)
    race.append(True)
    with caplog.at_level("WARNING", logger="lakehouse.lake.delta"):
        upsert(20)  # the failed batch, re-run
    assert compactions.pop().compacted
    assert "conflicted" in caplog.text  # the first plan lost the race, the second landed
    rows = {r["k"]: r["v"] for r in _rows(uri)}
    assert len(rows) == 5 + 40 + 3 and rows[0] == 35.0  # a late batch does not overwrite newer values
    assert delta.batch_committed(uri, "m20")
    assert [e["operation"] for e in DeltaTable(uri).history(2)] == ["MERGE", "OPTIMIZE"]


def test_an_invalid_policy_is_refused():
    with pytest.raises(ValueError, match="invalid maintenance policy"):
        MaintenancePolicy(min_files=1)


def test_the_whole_lake_or_some_tiers(lake_settings):
    root = lake_settings.lake_root
    for tier in ("silver", "gold", "ops"):
        _small_files(f"{root}/{tier}/t", 17)
    assert len(lake_tables(lake_settings)) == 3
    done = maintain_lake(lake_settings, tiers=["gold", "ops"])
    assert sorted(r.uri.rsplit("/", 2)[-2] for r in done) == ["gold", "ops"]
    assert all(r.files_after == 1 for r in done)
    assert len(DeltaTable(f"{root}/silver/t").file_uris()) == 17


@pytest.mark.slow
def test_the_maintenance_dag_maintains_every_table(lake_settings, airflow_db):
    root = lake_settings.lake_root
    for tier in ("bronze", "silver", "gold"):
        _small_files(f"{root}/{tier}/t", 16)
    dag = DagBag(str(REPO_ROOT / "dags")).dags["lake_maintenance"]
    run = dag.test()
    assert str(run.state) == "success"
    assert [len(DeltaTable(f"{root}/{tier}/t").file_uris()) for tier in ("bronze", "silver", "gold")] == [1, 1, 1]
    assert all(len(_rows(f"{root}/{tier}/t")) == 48 for tier in ("bronze", "silver", "gold"))
