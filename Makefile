# The two commands of the README: `make run` and `make test` (CI runs `make lint` first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test unit lint down status bench

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

# The fast suite (unit and DAG tests, no stack) on both cores: pytest-xdist, each worker taking a
# file's tests in order (a module's chdb engine is built once) and stealing from the other when idle.
# It uses none of the plugins the integration suite needs, so it does not load them (~1 s a process).
FAST := -n 2 --dist worksteal -p no:schemathesis -p no:hypothesispytest -p no:faker -p no:anyio \
        -p no:asyncio -p no:pytest_mock -m "not integration"

## The whole test suite: the fast suite in parallel, then three pytests at once: the integration tests on
## one embedded stack, the fault and lifecycle tests (tests/faults) on a second stack of their own (other
## ports and state directory: tests/support/stack.py; first the brief's check on that stack started from
## nothing, tests/faults/test_console_fresh_stack.py), and the tests that start servers of their own
## (tests/support/fixtures.py marks them `own_servers`). The two background runs' output follows the
## integration run's (test-output/*.log). Any part failing fails it. BALANCE: integration modules run on the
## second stack so that both stacks finish at about the same time (docs/benchmarks.md, "Test suite").
## The second stack runs on a host clock of Asia/Kolkata (TZ, inherited by every process but the OLAP
## server, which pins UTC): reports must answer the same whatever the machine's zone (docs/reports.md).
BALANCE := tests/integration/test_source_tables.py tests/integration/test_report_answers.py
test: $(STAMP)
	$(BIN)/python -m pytest $(FAST) --durations=25 tests/unit tests/dags; fast=$$?; \
	mkdir -p test-output; \
	$(BIN)/python -m pytest -m own_servers --durations=10 tests/integration tests/faults \
		> test-output/own-servers.log 2>&1 & own=$$!; \
	TZ=Asia/Kolkata BIONICFLOW_TEST_STACK=2 $(BIN)/python -m pytest -m "not own_servers" --durations=25 tests/faults $(BALANCE) \
		> test-output/faults.log 2>&1 & faults=$$!; \
	echo "fault tests run beside these on a second stack: test-output/faults.log"; \
	$(BIN)/python -m pytest -m "not own_servers" --durations=25 $(BALANCE:%=--ignore=%) tests/integration; slow=$$?; \
	wait $$faults; broken=$$?; wait $$own; servers=$$?; \
	echo "--- fault and lifecycle tests, on the second stack (test-output/faults.log) ---"; \
	cat test-output/faults.log; \
	echo "--- tests with servers of their own (test-output/own-servers.log) ---"; \
	cat test-output/own-servers.log; \
	exit $$(( fast ? fast : slow ? slow : broken ? broken : servers ))

## The fast suite alone: unit and DAG tests, no stack (under a minute on 2 cores).
unit: $(STAMP)
	$(BIN)/python -m pytest $(FAST) --durations=25 tests/unit tests/dags

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
