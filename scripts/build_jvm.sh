#!/usr/bin/env bash
# Build lib/inferwatch/jvm/inferwatch-fs.jar (inferwatch.session puts it on a local
# driver's class path) from its Java source with the JDK's javac, against the Hadoop API
# jar pip's pyspark ships. Without a JDK nothing is built and Spark keeps Hadoop's own
# local file system: the same files, each write slower (it forks `chmod` per file).
set -euo pipefail
python=${1:?usage: build_jvm.sh PYTHON}
dir=lib/inferwatch/jvm
jar=$dir/inferwatch-fs.jar
src=$dir/NioLocalFileSystem.java
[ -f "$jar" ] && [ "$jar" -nt "$src" ] && exit 0
javac=${JAVA_HOME:+$JAVA_HOME/bin/}javac
if ! command -v "$javac" >/dev/null 2>&1; then
  echo "note: no javac (a JDK, e.g. openjdk-17-jdk-headless): $jar not built; Spark writes" \
       "local files with Hadoop's own file system, which is slower" >&2
  exit 0
fi
jars=$("$python" -c 'import pathlib, pyspark; print(pathlib.Path(pyspark.__file__).parent / "jars")')
api=$(ls "$jars"/hadoop-client-api-*.jar | head -1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$javac" --release 17 -nowarn -cp "$api" -d "$out" "$src"
"${JAVA_HOME:+$JAVA_HOME/bin/}jar" cf "$jar" -C "$out" .
echo "built $jar"
