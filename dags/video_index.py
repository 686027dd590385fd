"""
### Index camera video: detections, tracks, counts, events and thumbnails in gold

Triggered when new video segments land in `bronze.video_segments`.

1. `index_segments`: the Spark job (`spark_jobs/video_index.py`): one task per segment not
   yet indexed with the current settings; a cheap motion gate on a downscaled copy of each
   frame decides where the detector (OpenCV HOG people + vehicle blobs, or the ONNX model
   registered as `ioc_video_detector@champion` in MLflow) must look; tracks, per-minute
   counts, events (crowd, stopped vehicle, blackout, tampering) and JPEG thumbnails go to
   gold. A re-run replaces a segment's rows, never duplicates them.
   Embedded: a local Spark session in the worker. Production (`IOC_MODE=production`):
   `spark-submit` to `IOC_SPARK_MASTER`.
2. `refresh_video_marts`: dbt rebuilds only what reads the index (`camera_counts_minute`,
   and `incidents`, which stacks the video events) and publishes those marts.

Search what was seen with `ioc video search` or SQL over `gold.video_*`.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from lakehouse import orchestration as orch
from lakehouse.video import INDEX_TABLES


@dag(
    dag_id="video_index",
    schedule=[orch.asset("bronze", "video_segments")],
    start_date=pendulum.datetime(2025, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=1,
    default_args={**orch.DEFAULT_ARGS, "retries": 1},
    tags=["video", "cameras", "spark", "ai"],
    doc_md=__doc__,
)
def video_index():
    outlets = [orch.asset("gold", name) for name in INDEX_TABLES]

    def run_job() -> dict:
        from lakehouse.video.job import run_video_index

        result = run_video_index()
        if result.failed:  # the clip is kept; its row in video_segments_indexed says why
            print(f"segments that could not be indexed: {result.failures}")
        return {"segments": result.segments, "indexed": result.indexed, "failed": result.failed,
                "rows": result.rows}

    index_segments = orch.spark_job_task("index_segments", "video_index.py", outlets, run_job)

    @task(outlets=[orch.asset("gold", "camera_counts_minute"), orch.asset("gold", "incidents")])
    def refresh_video_marts() -> dict[str, int]:
        from lakehouse.pipeline.gold import refresh_video_marts as refresh

        return refresh().published

    index_segments() >> refresh_video_marts()


video_index()
