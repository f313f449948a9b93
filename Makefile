# The two commands of the README: `make run` and `make test` (CI runs `make lint` first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit lint down status bench clean-state

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "installing bionicflow and its Python dependencies into $(VENV) (first time: a few minutes)..."
	@$(BIN)/pip install --disable-pip-version-check -q --upgrade pip
	@$(BIN)/pip install --disable-pip-version-check -q --progress-bar off -e '.[test]'
	@touch $(STAMP)

## Start the embedded stack (first run also fetches the Kafka/Debezium jars) and print the URLs.
run: $(STAMP)
	$(BIN)/bionicflow up
	$(BIN)/bionicflow demo

## The whole test suite: unit tests, then integration tests on one embedded stack started for the run.
test: $(STAMP)
	$(BIN)/python -m pytest --durations=25 tests/unit tests/dags tests/integration tests/faults

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

## Lint and type-check the product code (what and how: pyproject.toml's [tool.ruff] and [tool.mypy]).
lint: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/mypy

down: $(STAMP)
	$(BIN)/bionicflow down

status: $(STAMP)
	$(BIN)/bionicflow status

bench: $(STAMP)
	$(BIN)/python -m bench.stack_startup
	$(BIN)/python -m bench.olap_throughput
	$(BIN)/python -m bench.cdc_views
