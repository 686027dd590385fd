"""The video indexing job: every new bronze segment indexed on Spark, into gold.

One Spark task per segment (``mapInPandas`` over the segments, repartitioned to one per
partition): the task decodes the clip from the lake's object area, indexes it
(:class:`~lakehouse.video.indexer.ClipIndexer`), writes its thumbnails next to the clips and
returns its rows as Arrow IPC payloads, one per gold table. The driver then writes each gold
table through the Delta bridge, replacing exactly the indexed segments' rows
(``overwrite_partition`` on ``segment_date`` and ``segment_id``): a re-run of a segment
replaces its rows, never duplicates them, and a crash mid-write leaves each table as it was.
``video_segments_indexed`` is written last, so a segment counts as indexed only once all its
rows are in.

``spark_jobs/video_index.py`` is the ``spark-submit`` entry point; the ``video_index`` DAG
calls :func:`run_video_index` in embedded mode.
"""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from lakehouse.lake.paths import Tier, storage_options, table_uri
from lakehouse.lake.storage import lake_location, local_copy, put_object
from lakehouse.settings import Settings, get_settings
from lakehouse.video.config import IndexerConfig
from lakehouse.video.tables import PARTITION_BY, SCHEMAS

log = logging.getLogger(__name__)
ENVELOPE = "segment_id string, table_name string, payload binary"


@dataclass
class VideoIndexResult:
    segments: int = 0
    indexed: int = 0
    failed: int = 0
    skipped: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)


def thumbnail_root(settings: Settings) -> str:
    """Where thumbnails go: beside the clips, in the lake's object area (a folder or a prefix
    of the lake's bucket)."""
    return f"{lake_location(settings)}/objects"


def _spark_type(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "timestamp"
    return {pa.string(): "string", pa.date32(): "date", pa.int32(): "int", pa.float64(): "double"}[kind]


def spark_schema(schema: pa.Schema) -> str:
    return ", ".join(f"{f.name} {_spark_type(f.type)}" for f in schema)


def _ipc(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue()


def index_partition(batches: Iterator[pd.DataFrame], config: IndexerConfig, object_dir: str,
                    detector_bytes: bytes | None, detector_name: str | None,
                    options: dict[str, str] | None = None) -> Iterator[pd.DataFrame]:
    """Spark task body: index each segment of the partition, write its thumbnails, return its
    rows (one envelope row per gold table). Clips on an object store are read from a local
    temporary copy (OpenCV decodes files); ``options`` are the lake's storage options."""
    import cv2

    from lakehouse.video.detectors import OnnxDetector
    from lakehouse.video.indexer import ClipIndexer, VideoDecodeError
    from lakehouse.video.records import clip_records, failed_records

    detector = OnnxDetector(detector_bytes, name=detector_name or "onnx") if detector_bytes else None
    indexer = ClipIndexer(config, detector)
    for batch in batches:
        out = []
        for row in batch.itertuples(index=False):
            start = pd.Timestamp(row.start_time)
            start = (start.tz_localize("UTC") if start.tzinfo is None else start.tz_convert("UTC")).to_pydatetime()
            try:
                with local_copy(row.object_uri, options) as path:
                    clip = indexer.index(path, segment_id=row.segment_id, camera_id=row.camera_id,
                                         start_time=start)
                records = clip_records(clip, config, object_prefix=object_dir)
            except (VideoDecodeError, cv2.error, OSError) as exc:  # a clip that breaks fails alone
                records = failed_records(row.segment_id, row.camera_id, start, str(exc), config)
            for relative, data in records.thumbnails.items():
                put_object(object_dir, relative, data, options)
            for name, table in records.tables().items():
                out.append({"segment_id": row.segment_id, "table_name": name, "payload": _ipc(table)})
        yield pd.DataFrame(out, columns=["segment_id", "table_name", "payload"])


def _decoder(schema: pa.Schema):
    def decode(batches):
        for batch in batches:
            for payload in batch.column("payload").to_pylist():
                table = pa.ipc.open_stream(payload).read_all()
                yield from table.cast(schema).to_batches()
    return decode


def pending_segments(spark, settings: Settings, config: IndexerConfig, *, segments: list[str] | None = None,
                     force: bool = False):
    """The bronze segments to index: every segment not yet indexed with this configuration
    (or exactly ``segments``; ``force`` re-indexes what was indexed already)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from lakehouse.lake import delta
    from lakehouse.spark import read_delta

    so = storage_options(settings)
    bronze = read_delta(spark, table_uri(Tier.bronze, "video_segments", settings),
                        columns=["segment_id", "camera_id", "start_time", "object_uri", "_ingested_at"],
                        storage_options=so)
    latest = Window.partitionBy("segment_id").orderBy(F.col("_ingested_at").desc())
    bronze = (bronze.where(F.col("object_uri").isNotNull())
              .withColumn("_n", F.row_number().over(latest)).where("_n = 1").drop("_n", "_ingested_at"))
    if segments:
        bronze = bronze.where(F.col("segment_id").isin(segments))
    done_uri = table_uri(Tier.gold, "video_segments_indexed", settings)
    if force or segments or delta.try_open(done_uri, so) is None:
        return bronze
    done = read_delta(spark, done_uri, columns=["segment_id", "status", "config_digest"], storage_options=so)
    done = done.where((F.col("status") == "indexed") & (F.col("config_digest") == config.digest))
    return bronze.join(done.select("segment_id"), "segment_id", "left_anti")


def run_video_index(settings: Settings | None = None, *, config: IndexerConfig | None = None,
                    segments: list[str] | None = None, force: bool = False, spark=None) -> VideoIndexResult:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from lakehouse.lake import delta
    from lakehouse.spark import get_spark, write_delta

    settings = settings or get_settings()
    config = config or IndexerConfig()
    spark = spark or get_spark(settings, app_name="ioc-video-index")
    result = VideoIndexResult()
    bronze_uri = table_uri(Tier.bronze, "video_segments", settings)
    if delta.try_open(bronze_uri, storage_options(settings)) is None:
        log.warning("bronze.video_segments does not exist yet: nothing to index")
        return result
    todo = pending_segments(spark, settings, config, segments=segments, force=force).toPandas()
    result.segments = len(todo)
    if todo.empty:
        log.info("every bronze segment is indexed with configuration %s", config.digest)
        return result
    detector_bytes, detector_name = _registered_detector(settings)
    object_dir, options = thumbnail_root(settings), storage_options(settings)
    log.info("indexing %d segments on %s (detector %s)", len(todo), spark.sparkContext.master,
             detector_name or "classic-hog")
    frame = spark.createDataFrame(todo).repartition(len(todo), "segment_id")

    def per_partition(batches):
        return index_partition(batches, config, object_dir, detector_bytes, detector_name, options)

    envelope = frame.mapInPandas(per_partition, schema=ENVELOPE).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        envelope.count()  # index once; every table below reads the persisted rows
        ids = sorted(todo["segment_id"])
        # Same segments, same settings: the same rows, so a retried write is skipped. A forced
        # re-index is a new batch (the code that indexes may have changed).
        nonce = uuid.uuid4().hex if force else ""
        digest = hashlib.sha256(("|".join(ids) + config.digest + nonce).encode()).hexdigest()[:16]
        days = sorted({pd.Timestamp(t).date().isoformat() for t in todo["start_time"]})
        id_list = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
        predicate = (f"segment_date IN ({', '.join(repr(d) for d in days)}) "
                     f"AND segment_id IN ({id_list})")
        for name, schema in SCHEMAS.items():  # video_segments_indexed last
            rows = envelope.where(F.col("table_name") == name).select("payload").mapInArrow(
                _decoder(schema), schema=spark_schema(schema))
            written = write_delta(rows, table_uri(Tier.gold, name, settings), mode="overwrite_partition",
                                  predicate=predicate, partition_by=PARTITION_BY,
                                  storage_options=storage_options(settings), batch_id=f"{name}:{digest}")
            result.rows[name] = written.rows
        statuses = envelope.where(F.col("table_name") == "video_segments_indexed").select("payload").collect()
        for (payload,) in statuses:  # one small row per segment
            row = pa.ipc.open_stream(payload).read_all().to_pylist()[0]
            if row["status"] == "indexed":
                result.indexed += 1
            else:
                result.failed += 1
                result.failures[row["segment_id"]] = row["error"]
    finally:
        envelope.unpersist()
    log.info("video index: %d indexed, %d failed; rows %s", result.indexed, result.failed, result.rows)
    return result


def _registered_detector(settings: Settings) -> tuple[bytes | None, str | None]:
    """The registered ONNX detector's bytes (shipped to every task), or none."""
    from lakehouse.video.detectors import registered_detector

    try:
        detector = registered_detector(settings)
    except Exception as exc:  # noqa: BLE001 - an unreachable registry must not stop indexing (classic detector)
        log.warning("MLflow registry not readable (%s): classic detector", exc)
        return None, None
    if detector is None:
        return None, None
    return detector.model_bytes, detector.name

