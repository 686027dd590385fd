"""The platform's SparkSession factory: one place that decides how Spark runs here.

Embedded mode (``settings.spark_master`` is ``local[...]``) gets a session tuned for a
2-core / 24 GiB box; a cluster URL (``spark://``, ``k8s://``, ``yarn``) gets only the
settings that change *results* (UTC session time zone, Arrow, filter pushdown), because
sizing belongs to ``spark-submit`` there.

The lake is Delta. When the Delta Lake jar is on the classpath (its session extension in
``spark.sql.extensions``) the helpers use ``format("delta")``; otherwise the delta-rs
backed Python data source ``ioc_delta`` (:mod:`lakehouse.spark.delta_source`) is
registered once per session. ``spark.ioc.delta.format`` (``delta`` | ``ioc_delta``) forces
the choice.

Spark-level filter pushdown into Python data sources is switched off on Spark builds where
it returns wrong results for reused DataFrames (:func:`pushdown_is_safe`); the bridge then
prunes files from ``read_delta(where=...)`` instead.

Settings (``lakehouse.settings``, from ``IOC_*`` variables; all optional):

* ``IOC_SPARK_UI`` = ``true`` | ``false``: the web UI. Default: off while pytest runs a test
  (``PYTEST_CURRENT_TEST`` is set), on otherwise. Tests never bind port 4040.
* ``IOC_SPARK_DIR``: where the warehouse and the Derby home go (default
  ``<repo>/var/spark``, git-ignored), so nothing lands in the working directory.
* ``IOC_SPARK_DRIVER_MEMORY``: embedded driver heap (default ``2g``; only read when the JVM
  starts, i.e. by the first session of the process).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lakehouse.lake.storage import hadoop_s3a_conf, is_object_store
from lakehouse.settings import Settings, get_settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
FORMAT_CONF = "spark.ioc.delta.format"
REGISTERED_CONF = "spark.ioc.delta.sourceRegistered"
PUSHDOWN_CONF = "spark.ioc.delta.pushdown"
PUSHDOWN_SQL_CONF = "spark.sql.python.filterPushdown.enabled"
PYTHON_SOURCE_CLASS = "org.apache.spark.sql.execution.datasources.v2.python.PythonDataSourceV2"
JVM_SESSION_CLASS = "org.apache.spark.sql.classic.SparkSession"
JAR_FORMAT = "delta"
BRIDGE_FORMAT = "ioc_delta"



def is_embedded(master: str) -> bool:
    """``local``, ``local[2]``, ``local[*]``, ``local[4,2]``: Spark inside this process."""
    return master.strip().startswith("local")


def ui_enabled(settings: Settings) -> bool:
    """The web UI: ``IOC_SPARK_UI`` wins; otherwise off under pytest, on elsewhere."""
    if settings.spark_ui is not None:
        return settings.spark_ui
    return "PYTEST_CURRENT_TEST" not in os.environ


def spark_dir(settings: Settings) -> Path:
    """Scratch space for the warehouse and Derby: never the current directory."""
    return Path(settings.spark_dir)


def spark_conf(settings: Settings, *, app_name: str = "ioc") -> dict[str, str]:
    """The configuration :func:`get_spark` applies (exposed so it can be inspected/tested)."""
    conf = {
        "spark.app.name": app_name,
        # Results must not depend on the machine's time zone; timestamps are UTC instants.
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.execution.arrow.pyspark.fallback.enabled": "true",
        # Python data sources only see filters when this is on (pyspark >= 4.1); get_spark
        # turns it off again on builds where it is unsafe (see pushdown_is_safe).
        PUSHDOWN_SQL_CONF: "true",
        "spark.pyspark.python": os.environ.get("PYSPARK_PYTHON", sys.executable),
        "spark.pyspark.driver.python": sys.executable,
    }
    if is_object_store(settings.lake_root):
        # For Delta's own jar (production image): s3:// through S3A, configured from the same
        # IOC_STORAGE_OPTIONS delta-rs uses. Spark redacts the keys in its UI and logs.
        conf.update(hadoop_s3a_conf(settings.storage_options))
    if is_embedded(settings.spark_master):
        scratch = spark_dir(settings)
        conf.update({
            "spark.pyspark.python": sys.executable,
            "spark.driver.memory": settings.spark_driver_memory,
            # Two cores: a handful of shuffle partitions, not 200 near-empty tasks.
            "spark.sql.shuffle.partitions": "4",
            "spark.ui.enabled": str(ui_enabled(settings)).lower(),
            "spark.ui.showConsoleProgress": "false",
            "spark.driver.host": "127.0.0.1",
            "spark.driver.bindAddress": "127.0.0.1",
            "spark.sql.warehouse.dir": str(scratch / "warehouse"),
            "spark.driver.extraJavaOptions": f"-Dderby.system.home={scratch / 'derby'}",
        })
    return conf


def pushdown_is_safe(spark: SparkSession) -> bool:
    """Whether Spark-level filter pushdown into Python data sources gives correct results.

    Since pushdown for Python sources arrived (4.1), Spark stores the read plan of a scan
    with pushed filters on the relation (``PythonDataSourceV2.setReadInfo``) and reuses it
    for the next scan of the same DataFrame that pushes nothing:
    ``df.where("day = 'x'").count()`` then ``df.count()`` returns the filtered count
    (reproduced on 4.3.0; newer Spark keeps pushed plans on the scan instead). Pushdown is
    used only on a JVM without that method, unless ``spark.ioc.delta.pushdown``
    (``true`` | ``false``) decides explicitly.
    """
    forced = (spark.conf.get(PUSHDOWN_CONF, "") or "").strip().lower()
    if forced in {"true", "false"}:
        return forced == "true"
    try:
        jvm = spark.sparkContext._jvm
        source = jvm.java.lang.Class.forName(PYTHON_SOURCE_CLASS)
        methods = {m.getName() for m in source.getMethods()}
    except Exception:  # noqa: BLE001 - not a classic JVM session: assume the worst
        return False
    return "setReadInfo" not in methods


def get_spark(settings: Settings | None = None, *, app_name: str = "ioc",
              conf: Mapping[str, str] | None = None) -> SparkSession:
    """The (shared) SparkSession for ``settings``, with the Delta format ready to use.

    ``conf`` overrides or adds settings (e.g. ``{"spark.sql.shuffle.partitions": "8"}``).
    Like any ``getOrCreate``, a second call in the same process returns the running
    session: JVM-level settings (driver memory, UI) are fixed by the first one.
    """
    from pyspark.sql import SparkSession

    settings = settings or get_settings()
    options = spark_conf(settings, app_name=app_name)
    options.update(conf or {})
    # Python workers must run this interpreter, or they will not find deltalake/lakehouse.
    if is_embedded(settings.spark_master):
        os.environ["PYSPARK_PYTHON"] = options["spark.pyspark.python"]
    else:
        os.environ.setdefault("PYSPARK_PYTHON", options["spark.pyspark.python"])
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    if is_embedded(settings.spark_master):
        Path(options["spark.sql.warehouse.dir"]).mkdir(parents=True, exist_ok=True)
        (spark_dir(settings) / "derby").mkdir(parents=True, exist_ok=True)

    builder = SparkSession.builder.master(settings.spark_master)
    for key, value in options.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if not pushdown_is_safe(spark):
        # Protects every Python data source in the session from the stale-plan bug; the
        # bridge prunes with read_delta(where=...) instead.
        spark.conf.set(PUSHDOWN_SQL_CONF, "false")
    ensure_delta_format(spark)
    return spark


def uses_delta_jar(spark: SparkSession) -> bool:
    """True when Spark has the real Delta Lake jar: the helpers then use ``format("delta")``."""
    forced = (spark.conf.get(FORMAT_CONF, "") or "").strip().lower()
    if forced:
        return forced == JAR_FORMAT
    extensions = spark.conf.get("spark.sql.extensions", "") or ""
    return DELTA_EXTENSION in extensions


def delta_format(spark: SparkSession) -> str:
    """``"delta"`` with the jar, ``"ioc_delta"`` (delta-rs bridge) without it."""
    return JAR_FORMAT if uses_delta_jar(spark) else BRIDGE_FORMAT


def activate(spark: SparkSession) -> None:
    """Make ``spark`` the JVM's active session on this thread. Spark resolves Python data
    sources through the active session, and a new thread (a thread pool, an Airflow task
    runner) starts without one: ``format("ioc_delta")`` would not be found there."""
    jvm = getattr(spark, "_jvm", None)
    if jvm is not None:
        getattr(jvm, JVM_SESSION_CLASS).setActiveSession(spark._jsparkSession)


def ensure_delta_format(spark: SparkSession) -> str:
    """Register the delta-rs data source once per session (unless the jar is present) and
    make ``spark`` active on the calling thread."""
    activate(spark)
    if uses_delta_jar(spark):
        return JAR_FORMAT
    if (spark.conf.get(REGISTERED_CONF, "false") or "false") != "true":
        from lakehouse.spark.delta_source import DeltaDataSource

        spark.dataSource.register(DeltaDataSource)
        spark.conf.set(REGISTERED_CONF, "true")
        log.debug("registered the %s data source", BRIDGE_FORMAT)
    return BRIDGE_FORMAT


def stop_spark() -> None:
    """Stop the active session, if any (tests, CLI shutdown)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        active.stop()
