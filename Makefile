# The two set-up commands: `make demo` and `make test`. Both create or refresh .venv
# from pyproject.toml first, so a fresh clone needs nothing done by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean java

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "inferwatch needs Python 3.10+")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

java:
	@bash scripts/check_java.sh

demo: $(STAMP) java
	$(BIN)/inferwatch demo

test: $(STAMP) java
	$(BIN)/python -m pytest

bench: $(STAMP) java
	$(BIN)/python benchmarks/bench_partition.py
	$(BIN)/python benchmarks/bench_labels.py

lint: $(STAMP)
	$(BIN)/ruff check lib tests jobs benchmarks

clean:
	rm -rf $(VENV) lake .pytest_cache
