# deskbridge: `make run` serves on SQLite with the example config; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The modules compiled by mypyc (workflows/compiled.py): rebuilt when a source changes; until
# then the changed sources run, not the old build.
COMPILED := $(VENV)/.compiled
COMPILED_SOURCES := workflows/compiled.py tools/build_compiled.py workflows/memo.py \
	workflows/text.py workflows/classify.py workflows/state.py workflows/rules/risk.py \
	store/memory.py workflows/rules/sla.py workflows/activity.py workflows/decision.py \
	workflows/rules/three_responses.py workflows/rules/interactions.py \
	workflows/business_hours.py workflows/rules/routing.py workflows/rules/oncall.py \
	workflows/actions.py workflows/rules/combine.py
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

# Where there is no C compiler it says so and the Python sources run.
$(COMPILED): $(STAMP) $(COMPILED_SOURCES)
	$(BIN)/python tools/build_compiled.py
	touch $(COMPILED)

run: $(COMPILED)
	$(BIN)/deskbridge serve --port $(PORT)

test: $(COMPILED)
	$(BIN)/ruff check .
	# The tests that patch or watch a compiled module, on the Python sources (compiled code
	# calls directly; the full run skips them when the modules are compiled).
	DESKBRIDGE_PURE=1 $(BIN)/pytest -q -p no:cacheprovider -m source_only tests
	$(BIN)/pytest -q -n $(TEST_WORKERS)

demo: $(COMPILED)
	$(BIN)/deskbridge replay examples/scenario.jsonl --until 2026-03-02T18:00:00Z --format text

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(COMPILED)
	$(BIN)/python benchmarks/webhook_throughput.py

clean:
	rm -rf $(VENV) deskbridge.db deskbridge.db-wal deskbridge.db-shm build/mypyc
	find bot config connectors store workflows -name '*.so' -delete
