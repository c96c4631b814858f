# Two commands on a fresh machine with Python 3.11+: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest conformance clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "tickwork needs Python 3.11 or newer; set PYTHON=python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/tickwork run --config examples/tickwork.toml

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest $(PYTEST_ARGS)

# Drives .venv/bin/tickwork next with the shared vectors (needs ../shared beside the clone).
conformance: $(STAMP)
	$(BIN)/python ../shared/conformance/check_cron_vectors.py -q

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Benchmarks report, never assert timings (bench/__main__.py lists the workloads).
.PHONY: bench
BENCH_STAMP := $(VENV)/.installed-bench
$(BENCH_STAMP): $(STAMP) requirements-bench.txt
	$(BIN)/python -m pip install --quiet --require-hashes -r requirements.txt -r requirements-bench.txt
	touch $(BENCH_STAMP)

# The plot goes to bench-results/ (not tracked); BENCH_PLOT=docs/benchmarks.png refreshes the doc's.
BENCH_PLOT ?= bench-results/benchmarks.png
bench: $(BENCH_STAMP)
	$(BIN)/python -m bench all --plot $(BENCH_PLOT)
