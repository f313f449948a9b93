"""
### cdc_reconcile

Every 10 minutes: compares each table in the source, in `default` and in `debezium` —
row count, missing and extra keys, and an order-independent checksum over every business
column of every row — and reads CDC health (connector and task states, lag measured against
Debezium's heartbeats: near zero for an idle source, growing while any part is stalled).

Every run is stored in `ops.reconciliation_runs` and `ops.reconciliation_tables`.
When CDC is unhealthy (a connector or task FAILED, lag over 5 minutes, or `debezium`
still differing from the source after a 10-minute grace period) the run restarts failed
connector tasks once, marks `debezium` degraded in `ops.schema_health`, and triggers
`etl_default` in full-refresh mode as the fallback so `default` is fresh.

`default` is judged by its last load's cursor: rows written since are lag (the next load
brings them); rows written before it that are missing or different mean `default` is
wrong. Then the run repairs it through `etl_default` (so it never runs beside a scheduled
load): mode `repair` reloads the wrong rows by key (recorded in `ops.default_repair_keys`),
or, past 100,000 of them, mode `full` refreshes those tables whole. Then it verifies
`default`; a difference that persists fails the run.

`apply_truncations` first purges `debezium` of the rows a source TRUNCATE removed, where the
CDC consumer has not already (compose: ClickHouse's Kafka engine feeds the views).

`check_retained_wal` fails the run when a source's replication slot holds back more WAL than
`wal_retained_limit_bytes` (the param, or BIONICFLOW_WAL_RETAINED_LIMIT_BYTES, 1 GiB by
default): a stalled slot fills the source's disk, the classic CDC outage.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, get_current_context, task

from bionicflow_airflow.dag_defaults import dag_kwargs

LAST_COMMIT_SQL = "SELECT (pg_last_committed_xact()).timestamp"

# The task log: Airflow routes the standard logging of a running task there.
log = logging.getLogger("airflow.task")


@dag(
    dag_id="cdc_reconcile",
    description="Every 10 min: compare source, default and debezium row by row; repair default, restart CDC tasks.",
    schedule="*/10 * * * *",
    **dag_kwargs(retry_seconds=30),
    max_active_runs=1,
    tags=["bionicflow", "cdc", "reconcile"],
    doc_md=__doc__,
    params={
        "wal_retained_limit_bytes": Param(None, type=["null", "integer"], minimum=1,
                                          description="Fail when a replication slot holds back more WAL than this "
                                                      "(empty: BIONICFLOW_WAL_RETAINED_LIMIT_BYTES, 1 GiB)."),
    },
)
def cdc_reconcile():
    # the result is a dict per table: the lines below say it in words; it stays in the XCom tab and in ops
    @task(multiple_outputs=True, show_return_value_in_logs=False)
    def reconcile() -> dict:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        from bionicflow.cdc.connectors import ConnectError, load_connectors
        from bionicflow.cdc.heartbeat_lag import pipeline_lag
        from bionicflow.kernel.tables import TABLES
        from bionicflow.reconcile.log_lines import table_lines, verdict_line
        from bionicflow.reconcile.run import reconcile as run_reconciliation
        from bionicflow_airflow import ClickHouseHook, KafkaConnectHook
        from bionicflow_airflow.cdc_health import source_drift
        from bionicflow_airflow.sources import SOURCE_CONNECTIONS, added_sources, pg_source

        try:
            connectors = KafkaConnectHook().get_conn().statuses()
        except (ConnectError, OSError) as exc:  # Connect down is a finding of this run, not a crash
            log.warning("Kafka Connect unreachable: %s", exc)
            connectors = None
        last_commit = {table: PostgresHook(postgres_conn_id=conn_id).get_first(LAST_COMMIT_SQL)[0]
                       for table, conn_id in SOURCE_CONNECTIONS.items()}
        olap, kafka_bootstrap = ClickHouseHook().get_client(), KafkaConnectHook().kafka_bootstrap()
        lags = {}
        for table in TABLES:  # against Debezium's heartbeats: an idle table is not late
            try:
                measured = pipeline_lag(kafka_bootstrap, table)
            except Exception as exc:  # Kafka down is a finding too; the commit-based lag stands in
                log.warning("%s: CDC lag not measurable against heartbeats: %s", table.name, exc)
                continue
            lags[table.name] = measured.seconds
            log.info("%s: CDC lag %s s (%s)", table.name, measured.seconds, measured.basis)
        for line in source_drift(olap):  # a source column added, dropped or renamed: never a silent divergence
            log.warning("source schema: %s", line)
        report = run_reconciliation(
            olap, {t: pg_source(t) for t in SOURCE_CONNECTIONS}, connectors,
            [s.name for s in load_connectors()], last_commit, run_id=get_current_context()["run_id"],
            measured_lags=lags, added=added_sources(olap),
        )
        for line in table_lines(report.results):  # a sentence per table, not its dict
            log.info("%s", line)
        log.info("%s", verdict_line(report.verdict, report.decision.reasons, report.results))
        return report.summary()

    @task
    def apply_truncations() -> list[dict]:
        """Purge `debezium` of what a source TRUNCATE removed (compose's Kafka engine has no consumer to do it)."""
        from dataclasses import asdict

        from bionicflow.cdc.truncations import apply_pending
        from bionicflow_airflow import ClickHouseHook

        return [asdict(p) for p in apply_pending(ClickHouseHook().get_client())]

    @task
    def restart_failed(summary: dict) -> list[str]:
        from bionicflow_airflow import KafkaConnectHook

        connect = KafkaConnectHook().get_conn()
        for name in summary["restart"]:
            log.info("restarting failed parts of %s", name)
            connect.restart_failed(name)
        return summary["restart"]

    @task.short_circuit
    def needs_fallback(summary: dict) -> bool:
        """Start etl_default (a fallback or a repair) or not; False skips the rest, and the log says why."""
        from bionicflow.reconcile.log_lines import fallback_decision

        needed, why = fallback_decision(summary)
        (log.warning if needed else log.info)("%s", why)
        return needed

    @task
    def verify_default() -> list[dict]:
        from dataclasses import asdict

        from bionicflow.reconcile.run import verify_default as verify
        from bionicflow_airflow import ClickHouseHook
        from bionicflow_airflow.sources import SOURCE_CONNECTIONS, pg_source

        results = verify(ClickHouseHook().get_client(), {t: pg_source(t) for t in SOURCE_CONNECTIONS})
        return [asdict(r) for r in results]

    @task(multiple_outputs=True, retries=0)  # a slot over the limit is not transient: say so at once
    def check_retained_wal() -> dict:
        from bionicflow.cdc.monitor import RetainedWalError, retained_wal_problems
        from bionicflow.kernel.config import Settings
        from bionicflow_airflow.cdc_health import read_slots

        limit = get_current_context()["params"].get("wal_retained_limit_bytes") or Settings().wal_retained_limit_bytes
        slots = read_slots()
        for name, (retained, _) in slots.items():
            log.info("slot %s holds back %.1f MiB of WAL (limit %.1f MiB)", name, retained / 1024**2, limit / 1024**2)
        problems = retained_wal_problems(slots, limit)
        if problems:
            raise RetainedWalError("; ".join(problems))
        return {name: retained for name, (retained, _) in slots.items()}

    check_retained_wal()
    summary = reconcile()
    apply_truncations() >> summary
    # a task called in a DAG takes XComArgs; Airflow's typing expects the values themselves
    restart_failed(summary)  # type: ignore[arg-type]
    # etl_default runs one at a time (max_active_runs=1): a repair never overlaps a scheduled load
    # a paused etl_default would leave its run queued: fail after 20 min rather than wait forever
    needs_fallback(summary) >> TriggerDagRunOperator(  # type: ignore[arg-type]  # XComArgs, as above
        task_id="fallback_etl_default", trigger_dag_id="etl_default",
        # that key's own XCom of the reconcile task (multiple_outputs): a task's result is indexable at run time
        conf=summary["etl_default_conf"],  # type: ignore[index]
        wait_for_completion=True, poke_interval=5, failed_states=["failed"],
        execution_timeout=timedelta(minutes=20),
    ) >> verify_default()


cdc_reconcile()
