"""Every DAG file imports cleanly, offline, with no secrets present, and follows our policies."""

import os
import socket
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "bionicflow_airflow" / "dags"
PLUGINS = Path(__file__).resolve().parents[2] / "bionicflow_airflow" / "plugins"
EXPECTED = {
    "cdc_bootstrap": None,
    "etl_default": "@hourly",
    "demo_data": None,
    "cdc_reconcile": "*/10 * * * *",
    "backfill": None,
    "reports": "@daily",
    "report_snapshots": "*/5 * * * *",
}


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory):
    import sys

    home = tmp_path_factory.mktemp("airflow_home")
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("AIRFLOW_CONN_"):
            del os.environ[name]  # DAGs must parse with no connections configured
    os.environ.update({"AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                       "AIRFLOW__CORE__UNIT_TEST_MODE": "True"})
    sys.path.insert(0, str(PLUGINS))

    def no_network(*args, **kwargs):
        raise AssertionError(f"a DAG file touched the network at import: {args}")

    original = socket.socket.connect
    socket.socket.connect = no_network
    try:
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(DAGS_FOLDER))
    finally:
        socket.socket.connect = original
        os.environ.clear()
        os.environ.update(saved)
    return bag


def test_every_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}, dagbag.import_errors


def test_expected_dags_and_schedules(dagbag):
    assert set(EXPECTED) <= set(dagbag.dag_ids)
    for dag_id, schedule in EXPECTED.items():
        dag = dagbag.dags[dag_id]
        assert dag.schedule == schedule, f"{dag_id}: schedule {dag.schedule!r}, expected {schedule!r}"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_policies(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert "bionicflow" in dag.tags
    assert dag.catchup is False
    assert dag.doc_md and dag.doc_md.strip().startswith("###")
    assert dag.description and len(dag.description) <= 120, "a one-line description for the UI's DAG list"
    assert dag.default_args.get("retries", 0) >= 2, "retries >= 2 by default; a task may opt out (params checks)"


def test_platform_dag_list_matches_the_folder(dagbag):
    from bionicflow.kernel.airflow_api import PLATFORM_DAGS

    assert set(PLATFORM_DAGS) == set(dagbag.dag_ids)


def test_cdc_bootstrap_offers_both_initial_loads(dagbag):
    from bionicflow.cdc.initial_load import MODES

    param = dagbag.dags["cdc_bootstrap"].params.get_param("initial_load")
    assert param.value == "debezium" and tuple(param.schema["enum"]) == MODES
    tasks = dagbag.dags["cdc_bootstrap"].task_dict
    assert tasks["initial_copy"].upstream_task_ids == {"verify_topics"}


def test_cdc_bootstrap_runs_the_platform_step_list_in_order(dagbag):
    """The DAG's tasks are made from the same list `bionicflow cdc bootstrap` runs: none added, none left out."""
    from bionicflow.platform.bootstrap import STEPS

    tasks = dagbag.dags["cdc_bootstrap"].task_dict
    names = [s.name for s in STEPS]
    assert sorted(tasks) == sorted(names)
    for before, after in zip(names, names[1:]):
        assert tasks[after].upstream_task_ids == {before}, (after, tasks[after].upstream_task_ids)


# Mapped tasks the UI names by what they work on (Airflow's rendered map index), not `load [0]`.
NAMED_MAPS = {("etl_default", "load"): ("item", "table"), ("backfill", "refill"): ("item", "table"),
              ("reports", "build"): ("schema", None)}


@pytest.mark.parametrize(("dag_id", "task_id"), sorted(NAMED_MAPS))
def test_mapped_tasks_are_named_by_their_table_or_schema(dagbag, dag_id, task_id):
    """The template renders from the task's own expanded argument, so a failed instance is named too."""
    from jinja2 import Environment

    task = dagbag.dags[dag_id].task_dict[task_id]
    assert task.map_index_template, f"{dag_id}.{task_id}: set map_index_template so the UI names each instance"
    argument, field = NAMED_MAPS[(dag_id, task_id)]
    value = {field: "telemetry_events"} if field else "debezium"
    fake_task = type("Task", (), {"op_kwargs": {argument: value}})
    expected = "telemetry_events" if field else "debezium"
    assert Environment().from_string(task.map_index_template).render(task=fake_task) == expected


def test_the_backfill_form_leaves_the_window_to_the_run(dagbag):
    """An untouched form refills the last full day (bionicflow/etl/plan.py default_window), not a fixed date."""
    params = dagbag.dags["backfill"].params
    for name in ("window_start", "window_end"):
        assert params[name] is None, f"backfill's {name} defaults to a fixed date: {params[name]!r}"
    assert "last full UTC day" in params.get_param("window_start").description


def test_needs_fallback_gates_the_trigger_and_the_conf_comes_from_reconcile(dagbag):
    tasks = dagbag.dags["cdc_reconcile"].task_dict
    trigger = tasks["fallback_etl_default"]
    assert "needs_fallback" in trigger.upstream_task_ids and "reconcile" in trigger.upstream_task_ids
    # needs_fallback returns a bool now: the run's conf is reconcile's own XCom of that key
    assert (trigger.conf.operator.task_id, trigger.conf.key) == ("reconcile", "etl_default_conf")
    assert tasks["needs_fallback"].__class__.__name__ == "_ShortCircuitDecoratedOperator"
    assert tasks["reconcile"].show_return_value_in_logs is False, "its log says each table in words, not as a dict"


@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_every_form_field_left_empty_by_default_may_stay_empty(dagbag, dag_id):
    """Airflow's trigger form marks a field required unless its type allows null: an empty default that is not
    "null" leaves the form unsendable as it opens (the backfill form's `time_column` did)."""
    for name, param in dagbag.dags[dag_id].params.items():
        schema = dagbag.dags[dag_id].params.get_param(name).schema
        if param in (None, ""):
            types = schema.get("type")
            assert "null" in (types if isinstance(types, list) else [types]), (dag_id, name, schema)
