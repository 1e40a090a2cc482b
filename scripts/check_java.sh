#!/usr/bin/env bash
# Spark 4 needs Java 17 or newer; say so plainly instead of a JVM stack trace.
set -euo pipefail
if ! command -v java >/dev/null 2>&1; then
  echo "inferwatch needs Java 17+ (Spark 4 runs on the JVM) and found no 'java' on PATH." >&2
  echo "Install one, e.g. 'apt-get install -y openjdk-17-jre-headless', or set JAVA_HOME." >&2
  exit 1
fi
version=$(java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}')
major=${version%%.*}
if [ "${major:-0}" -lt 17 ] 2>/dev/null; then
  echo "inferwatch needs Java 17+; 'java' on PATH is version $version." >&2
  exit 1
fi
