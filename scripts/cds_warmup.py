"""Run by scripts/build_jvm.sh under `spark-submit` with `-XX:ArchiveClassesAtExit`: a few
seconds of the Spark work every job does (partitioned Parquet written and read back,
grouped and windowed aggregates, sketches, a join, Arrow to pandas), so that the classes
they load are in the archive a driver JVM then maps instead of loading them one by one."""
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

spark = SparkSession.builder.getOrCreate()
rows = spark.range(2000).selectExpr(
    "id", "CAST(id % 7 AS STRING) AS k", "rand(1) AS x", "id % 3 = 0 AS flag",
    "timestamp_seconds(1700000000 + id * 60) AS ts")
rows.write.mode("overwrite").partitionBy("k").parquet(sys.argv[1])
back = spark.read.parquet(sys.argv[1])
stats = back.groupBy("k").agg(
    F.count("*").alias("n"), F.sum("x").alias("s"), F.avg("x").alias("m"),
    F.expr("kll_sketch_agg_double(x)").alias("kll"), F.expr("hll_sketch_agg(id)").alias("hll"),
    F.expr("map_from_entries(collect_list(struct(CAST(id AS STRING), x)))").alias("mp"))
ranked = back.withColumn("r", F.row_number().over(Window.partitionBy("k").orderBy("ts")))
joined = ranked.join(stats, "k", "left").filter("r < 5")
joined.selectExpr("k", "kll_sketch_get_quantile_double(kll, 0.5) AS q",
                  "hll_sketch_estimate(hll) AS d", "date_trunc('HOUR', ts) AS h").toPandas()
spark.sql("SELECT k, percentile_approx(x, 0.5) AS p FROM {t} GROUP BY k", t=back).collect()
spark.stop()
