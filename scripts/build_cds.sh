#!/usr/bin/env bash
# Build lib/inferwatch/jvm/spark-classes.jsa: a class-data-sharing archive (JDK 13+) of
# the classes a Spark driver loads, dumped at the exit of one small spark-submit run
# (scripts/cds_warmup.py). A driver JVM this project starts maps it instead of reading
# and verifying ~15,000 classes from Spark's jars: 4 s less per start on 2 cores
# (docs/benchmarks.md). Rebuilt when pyspark's jars or the file-system jar change; a JVM
# that finds it stale or foreign (another JDK, another class path) ignores it. The run
# that dumps it compiles with C1 alone: an archive holds classes, not compiled code, and
# the build takes 37-39 s instead of 43-45 s (a driver started with either archive:
# 4.8-5.5 s; 8.7 s without one).
set -euo pipefail
python=${1:?usage: build_cds.sh PYTHON}
dir=lib/inferwatch/jvm
jsa=$dir/spark-classes.jsa
jar=$dir/inferwatch-fs.jar
[ -f "$jar" ] || exit 0  # no JDK: nothing to archive for
core=$("$python" -c 'import pathlib, pyspark; print(next((pathlib.Path(pyspark.__file__).parent / "jars").glob("spark-core_*.jar")))')
[ -f "$jsa" ] && [ "$jsa" -nt "$core" ] && [ "$jsa" -nt "$jar" ] && exit 0
bin=$(dirname "$python")
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if SPARK_SUBMIT_OPTS="-XX:ArchiveClassesAtExit=$out/classes.jsa -Xlog:cds=off -Xlog:cds+dynamic=off -XX:TieredStopAtLevel=1" \
   PYSPARK_PYTHON="$python" "$bin/spark-submit" --master 'local[2]' \
   --conf "spark.driver.extraClassPath=$PWD/$jar" \
   --conf "spark.driver.extraJavaOptions=-Dlog4j2.configurationFile=file:$PWD/lib/inferwatch/log4j2.properties" \
   scripts/cds_warmup.py "$out/rows" >"$out/log" 2>&1 && [ -s "$out/classes.jsa" ]; then
  mv -f "$out/classes.jsa" "$jsa"
  echo "built $jsa"
else
  echo "note: $jsa not built (drivers load Spark's classes from its jars):" >&2
  tail -5 "$out/log" >&2
fi
