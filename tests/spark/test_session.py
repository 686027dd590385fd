"""The session factory: embedded tuning, UI policy, scratch dirs, Delta format selection."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

import pytest

from lakehouse.settings import REPO_ROOT, Settings
from lakehouse.spark import (
    delta_format,
    get_spark,
    pushdown_is_safe,
    spark_conf,
    uses_delta_jar,
)
from lakehouse.spark.delta_io import bridge_write_options, jar_write_options
from lakehouse.spark.session import FORMAT_CONF, ui_enabled


def test_embedded_conf_is_sized_for_a_small_box(monkeypatch, tmp_path):
    monkeypatch.setenv("IOC_SPARK_DIR", str(tmp_path / "scratch"))
    monkeypatch.delenv("IOC_SPARK_UI", raising=False)
    conf = spark_conf(Settings(spark_master="local[2]"), app_name="job")
    assert conf["spark.app.name"] == "job"
    assert conf["spark.driver.memory"] == "2g"
    assert conf["spark.sql.shuffle.partitions"] == "4"
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert conf["spark.sql.python.filterPushdown.enabled"] == "true"
    assert conf["spark.ui.enabled"] == "false"  # pytest is running this test
    assert conf["spark.pyspark.python"] == sys.executable
    assert conf["spark.sql.warehouse.dir"].startswith(str(tmp_path / "scratch"))
    assert f"-Dderby.system.home={tmp_path / 'scratch'}" in conf["spark.driver.extraJavaOptions"]


def test_cluster_conf_leaves_sizing_to_spark_submit():
    conf = spark_conf(Settings(spark_master="spark://master:7077"))
    assert conf["spark.sql.session.timeZone"] == "UTC"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    for key in ("spark.driver.memory", "spark.sql.shuffle.partitions", "spark.ui.enabled",
                "spark.sql.warehouse.dir"):
        assert key not in conf


def test_ui_policy(monkeypatch):
    monkeypatch.delenv("IOC_SPARK_UI", raising=False)
    assert ui_enabled(Settings()) is False  # PYTEST_CURRENT_TEST is set
    monkeypatch.setenv("IOC_SPARK_UI", "true")
    assert ui_enabled(Settings()) is True
    monkeypatch.setenv("IOC_SPARK_UI", "false")
    monkeypatch.delenv("PYTEST_CURRENT_TEST")
    assert ui_enabled(Settings()) is False
    monkeypatch.delenv("IOC_SPARK_UI")
    assert ui_enabled(Settings()) is True


def test_default_scratch_dir_is_not_the_repo_root(monkeypatch):
    monkeypatch.delenv("IOC_SPARK_DIR", raising=False)
    conf = spark_conf(Settings(spark_master="local[*]"))
    warehouse = conf["spark.sql.warehouse.dir"]
    assert warehouse.startswith(str(REPO_ROOT / "var"))  # git-ignored, not ./spark-warehouse


def test_live_session(spark):
    assert spark.sparkContext.master == "local[2]"
    assert spark.sparkContext.uiWebUrl is None  # UI off in tests
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "4"
    assert os.environ["PYSPARK_PYTHON"] == sys.executable
    warehouse = spark.conf.get("spark.sql.warehouse.dir").removeprefix("file:")
    assert not warehouse.startswith(str(REPO_ROOT))  # the fixture's scratch dir, not the repo
    # a second call returns the same session and keeps the data source registered
    again = get_spark(Settings(spark_master="local[2]"))
    assert again is spark
    assert delta_format(spark) == "ioc_delta"
    assert spark.range(3).selectExpr("sum(id)").first()[0] == 3


def test_delta_jar_detection(spark):
    def fake(conf: dict[str, str]):
        return SimpleNamespace(conf=SimpleNamespace(get=lambda k, d=None: conf.get(k, d)))

    assert uses_delta_jar(fake({"spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension"}))
    assert not uses_delta_jar(fake({"spark.sql.extensions": "org.example.Other"}))
    extension = "io.delta.sql.DeltaSparkSessionExtension"
    assert not uses_delta_jar(fake({"spark.sql.extensions": extension, FORMAT_CONF: "ioc_delta"}))
    spark.conf.set(FORMAT_CONF, "delta")
    try:
        assert delta_format(spark) == "delta"
    finally:
        spark.conf.unset(FORMAT_CONF)
    assert delta_format(spark) == "ioc_delta"


def test_pushdown_follows_the_safety_check(spark):
    conf = "spark.sql.python.filterPushdown.enabled"
    # get_spark keeps Spark-level pushdown only where the Python scan cannot go stale
    assert spark.conf.get(conf) == str(pushdown_is_safe(spark)).lower()
    for forced in ("true", "false"):
        spark.conf.set("spark.ioc.delta.pushdown", forced)
        try:
            assert pushdown_is_safe(spark) is (forced == "true")
        finally:
            spark.conf.unset("spark.ioc.delta.pushdown")


@pytest.mark.parametrize(("mode", "predicate", "expected"), [
    ("overwrite_partition", "d = '2025-01-01'", {"replaceWhere": "d = '2025-01-01'"}),
    ("overwrite_partition", None, {"partitionOverwriteMode": "dynamic"}),
    ("append", None, {}),
])
def test_the_same_write_in_both_dialects(mode, predicate, expected):
    jar = jar_write_options(mode=mode, predicate=predicate, batch_id="b7", merge_schema=True,
                            write_id="w1")
    bridge = bridge_write_options(mode=mode, predicate=predicate, batch_id="b7",
                                  merge_schema=True, write_id="w1", partition_by=["d"],
                                  storage_options=None)
    for options in (jar, bridge):
        assert options["txnAppId"] == "ioc-batch:b7" and options["txnVersion"] == "1"
        assert options["mergeSchema"] == "true"
    for key, value in expected.items():
        assert jar[key] == value
    assert bridge["writeMode"] == mode
    assert bridge.get("replaceWhere") == predicate
