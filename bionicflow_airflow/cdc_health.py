"""The CDC road's health, read live through Airflow's connections (the "CDC vs batch" page, cdc_reconcile)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import logging

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger(__name__)


def read_slots() -> dict[str, tuple[int, bool]]:
    """Every replication slot of the source databases: name -> (retained WAL bytes, active)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from bionicflow.cdc.monitor import SLOTS_SQL
    from bionicflow_airflow.sources import SOURCE_CONNECTIONS

    return {name: (int(retained), bool(active)) for conn_id in dict.fromkeys(SOURCE_CONNECTIONS.values())
            for name, retained, active in PostgresHook(postgres_conn_id=conn_id).get_records(SLOTS_SQL)}


def live_cdc_health(olap: OlapClient) -> list[dict]:
    """Per table: connector state, lag, unread messages, retained WAL and dead letters, measured now."""
    from bionicflow.cdc.connectors import ConnectError
    from bionicflow.cdc.monitor import table_health
    from bionicflow.kernel.config import Settings
    from bionicflow_airflow.kafka_connect_hook import KafkaConnectHook
    from bionicflow.kernel.table_catalogue import list_entries

    hook = KafkaConnectHook()
    try:
        states = hook.get_conn().statuses()
    except (ConnectError, OSError) as exc:
        log.warning("Kafka Connect unreachable: %s", exc)
        states = None
    try:
        slots = read_slots()
    except Exception as exc:  # a source down: the page still shows the rest
        log.warning("replication slots unreadable: %s", exc)
        slots = {}
    added = tuple(entry.table for entry in list_entries(olap) if not entry.built_in)
    return table_health(olap, hook.kafka_bootstrap(), states, slots, Settings().wal_retained_limit_bytes, added)


def source_drift(olap: OlapClient) -> list[str]:
    """One line per difference between a source table's columns and what the two roads copy (docs/cdc.md)."""
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    from bionicflow.platform import drift
    from bionicflow_airflow.sources import SOURCE_CONNECTIONS

    return drift.source_drift(
        olap, lambda table: PostgresHook(postgres_conn_id=SOURCE_CONNECTIONS[table.name]).get_conn())
