# The two set-up commands: `make demo` and `make test`. Both create or refresh .venv
# from pyproject.toml first, so a fresh clone needs nothing done by hand. uv installs the
# same packages as pip does (same versions, checked with `pip freeze`), byte-compiled like
# pip's, in 36 s instead of 66 s (warm caches, 2 cores).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test soak bench lint clean java cds submit pyfiles

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "inferwatch needs Python 3.10+")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $(STAMP)

java: $(STAMP)
	@bash scripts/check_java.sh
	@bash scripts/build_jvm.sh $(BIN)/python

# the archive of a Spark driver's classes (scripts/build_cds.sh): ~30 s once, then every
# driver JVM starts ~4 s sooner. The suite starts dozens; the demo one, so it goes without
cds: $(STAMP) java
	@bash scripts/build_cds.sh $(BIN)/python

demo: $(STAMP) java
	$(BIN)/inferwatch demo

test: $(STAMP) java cds
	$(BIN)/python -m pytest

# randomized schedules of deliveries, jobs, kills, overlaps and maintain against a pandas
# oracle (tests/jobs/schedules.py), over many more seeds than `make test` runs
SEEDS ?= 100
soak: $(STAMP) java
	$(BIN)/python -m tests.jobs.schedules 1000 $$((1000 + $(SEEDS)))

bench: $(STAMP) java
	$(BIN)/python benchmarks/bench_partition.py
	$(BIN)/python benchmarks/bench_labels.py
	$(BIN)/python benchmarks/bench_profile.py
	$(BIN)/python benchmarks/bench_quality.py
	$(BIN)/python benchmarks/bench_logger.py

# `spark-submit jobs/submit.py JOB [options]` (`inferwatch run JOB [options]`) without
# activating the venv, e.g.
#   make submit JOB=partition ARGS="--conf conf/local.yaml"
#   make submit JOB=performance ARGS="--model fraud" SPARK_ARGS="--master local[2]"
# pip's pyspark finds SPARK_HOME through the `python` on PATH, hence the venv first on PATH.
# The driver class path holds the local file system class `make` builds (used with a local
# master; a --driver-class-path of SPARK_ARGS wins).
JOB ?=
ARGS ?=
SPARK_ARGS ?=
submit: $(STAMP) java
	@test -n "$(JOB)" || { echo "usage: make submit JOB=partition|join-labels|profile|drift|multivariate|performance|quality|alerts|rollup|maintain|hourly\
	[ARGS='--conf conf/local.yaml ...'] [SPARK_ARGS='--master local[2] ...']" >&2; exit 2; }
	PATH="$(CURDIR)/$(BIN):$$PATH" PYSPARK_PYTHON="$(CURDIR)/$(BIN)/python" \
	  $(BIN)/spark-submit --driver-class-path lib/inferwatch/jvm/inferwatch-fs.jar $(SPARK_ARGS) \
	  jobs/submit.py $(JOB) $(ARGS)

# the package a cluster's executors import, for `spark-submit --py-files dist/inferwatch.zip`
# (docs/operations.md#a-cluster)
PYFILES ?= dist/inferwatch.zip
pyfiles:
	@PYTHONPATH=lib $(PYTHON) -m inferwatch.shipping $(PYFILES)

lint: $(STAMP)
	$(BIN)/ruff check lib tests jobs benchmarks

clean:
	rm -rf $(VENV) lake .pytest_cache
