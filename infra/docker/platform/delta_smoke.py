"""Image build check: Spark writes and reads a Delta table with the jar it was given.

Run by the Dockerfile twice: once with ``spark.jars.packages`` (which resolves Delta Lake and
hadoop-aws into Ivy's cache), once more after the jars are copied into Spark's own folder,
with no packages and the image's spark-defaults.conf, as every production session runs.
"""

import tempfile

from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("ioc-image-delta-smoke").getOrCreate()
path = tempfile.mkdtemp(prefix="delta-smoke-")
spark.range(5).write.format("delta").mode("overwrite").save(path)
count = spark.read.format("delta").load(path).count()
assert count == 5, count
spark.sparkContext._jvm.java.lang.Class.forName("org.apache.hadoop.fs.s3a.S3AFileSystem")
print(f"delta smoke test: {count} rows through format('delta'); S3AFileSystem on the classpath")
spark.stop()
