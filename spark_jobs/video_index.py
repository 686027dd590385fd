"""spark-submit entry point of the video indexing job (``lakehouse.video.job``).

    spark-submit --master "$IOC_SPARK_MASTER" spark_jobs/video_index.py [--segment ID ...] [--force]

Embedded mode runs the same function from the ``video_index`` DAG on a local session.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segment", action="append", default=[], help="only this segment id (repeatable)")
    parser.add_argument("--force", action="store_true", help="re-index segments indexed already")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from lakehouse.video.job import run_video_index

    result = run_video_index(segments=args.segment or None, force=args.force)
    print(f"{result.segments} segments: {result.indexed} indexed, {result.failed} failed; rows {result.rows}")
    for segment_id, error in result.failures.items():
        print(f"  {segment_id}: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
