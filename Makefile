# deskbridge: `make run` serves on SQLite with the example config; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# `make run PORT=8081` when 8080 is taken.
PORT ?= 8080
# Two test workers per core: many tests wait on real processes and sockets, not the CPU.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 1) * 2 )))

.PHONY: run test demo lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	# An editable install leaves the package's own modules uncompiled, and where
	# PYTHONDONTWRITEBYTECODE is set every command compiles them again (0.15-0.25 s a start).
	$(BIN)/python -m compileall -q *.py bot config connectors store workflows > /dev/null
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/deskbridge serve --port $(PORT)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -n $(TEST_WORKERS)

demo: $(STAMP)
	$(BIN)/deskbridge replay examples/scenario.jsonl --until 2026-03-02T18:00:00Z --format text

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/webhook_throughput.py

clean:
	rm -rf $(VENV) deskbridge.db deskbridge.db-wal deskbridge.db-shm
