"""CDC health as numbers: connector states, lag per table, retained WAL, consumer backlog."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TYPE_CHECKING

from bionicflow.cdc.connectors import KafkaConnectClient, load_connectors
from bionicflow.cdc.ddl import DATABASE, TABLES, Table
from bionicflow.kernel.config import Settings
from bionicflow.kernel.errors import BionicflowError
from bionicflow.cdc.heartbeat_lag import pipeline_lag

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

# Opens a PostgreSQL connection to a source database by name, as a role that may read the
# slots and commit timestamps (the stack passes its superuser connection: the CDC road
# knows no cluster manager).
SourceConnector = Callable[[str], Any]

SLOT_SQL = """
SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained_bytes, active
FROM pg_replication_slots WHERE slot_name = %s
"""
# Every slot of the database, with what it holds back (reconciliation checks them all).
SLOTS_SQL = """
SELECT slot_name, coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint, active
FROM pg_replication_slots WHERE database = current_database() ORDER BY slot_name
"""


class RetainedWalError(BionicflowError):
    """A replication slot holds back more WAL than the configured limit."""


def retained_wal_problems(slots: dict[str, tuple[int, bool]], limit_bytes: int) -> list[str]:
    """One line per slot over the limit, with what to do: ``slots`` maps a slot to (retained bytes, active)."""
    return [
        f"replication slot {name} holds back {retained / 1024**2:.1f} MiB of WAL (limit {limit_bytes / 1024**2:.1f} "
        f"MiB){'' if active else ', and no client is reading it'}: the source's disk fills until it is read. Check "
        "the connector (`bionicflow status`, Kafka Connect); if the slot is abandoned, drop it: "
        f"SELECT pg_drop_replication_slot('{name}')"
        for name, (retained, active) in sorted(slots.items()) if retained > limit_bytes
    ]
LAST_COMMIT_SQL = "SELECT (pg_last_committed_xact()).timestamp"
NEWEST_CHANGE_SQL = "SELECT max(_source_ts), count() FROM {db}.{table}"
DEAD_LETTERS_SQL = f"SELECT count() FROM {DATABASE}.dead_letters WHERE topic = {{topic:String}}"


def connectors(settings: Settings) -> dict:
    try:
        return KafkaConnectClient(f"http://{settings.host}:{settings.kafka_connect_port}").statuses()
    except (BionicflowError, OSError) as exc:
        return {"error": f"Kafka Connect unreachable: {exc}"}


def _slot_for(table: Table) -> str:
    prefix = table.topic.split(".")[0]
    return next((spec.slot for spec in load_connectors() if spec.slot.startswith(prefix)), f"bionicflow_{prefix}")


def connector_for(table: Table) -> str:
    """The name of the connector that streams ``table``: a brief one (debezium/*.json) or an added source's."""
    prefix = table.topic.split(".")[0]
    return next((spec.name for spec in load_connectors() if spec.config.get("topic.prefix") == prefix),
                f"{prefix}-connector")


def _connector_state(status: dict | None) -> str:
    if not status:
        return "not registered"
    tasks = [t.get("state") for t in status.get("tasks", [])]
    return status.get("state", "?") + (f" (tasks: {', '.join(tasks)})" if tasks != ["RUNNING"] else "")


def table_health(olap: OlapClient, kafka_bootstrap: str, connector_states: dict | None,
                 slots: dict[str, tuple[int, bool]], limit_bytes: int, added: tuple[Table, ...] = ()) -> list[dict]:
    """Per table, the CDC road as it is now: connector, lag, unread messages, retained WAL, dead letters.

    ``connector_states``: Kafka Connect's statuses (None: Connect unreachable); ``slots``: slot
    name -> (retained bytes, active), as SLOTS_SQL reads them. Each part that cannot be read
    says why instead of failing the whole.
    """
    rows = []
    for table in (*TABLES, *added):  # added: tables `tables add` put in the catalogue
        row: dict[str, Any] = {"table": table.name, "connector": connector_for(table)}
        row["connector_state"] = ("Kafka Connect unreachable" if connector_states is None
                                  else _connector_state(connector_states.get(row["connector"])))
        try:
            measured = pipeline_lag(kafka_bootstrap, table)
            row.update(lag_seconds=measured.seconds, lag_basis=measured.basis, unread=measured.unread_messages)
        except Exception as exc:  # shown on the page, not raised: the other parts still count
            row.update(lag_seconds=None, lag_basis=f"Kafka unreachable: {str(exc)[:120]}", unread=None)
        slot = _slot_for(table)
        retained, active = slots.get(slot, (None, None))
        row.update(slot=slot, retained_wal_bytes=retained, slot_active=active,
                   wal_problem=retained_wal_problems({slot: (retained, bool(active))}, limit_bytes)[0]
                   if retained is not None and retained > limit_bytes else "")
        try:
            row["dead_letters"] = int(olap.query(DEAD_LETTERS_SQL, parameters={"topic": table.topic}).result_rows[0][0])
        except Exception as exc:
            row["dead_letters"] = f"unknown: {str(exc).splitlines()[0][:120]}"
        rows.append(row)
    return rows


def source_position(table: Table, connect_source: SourceConnector) -> dict:
    """The table's replication slot and the source's last commit, read over ``connect_source``."""
    conn = connect_source(table.source_database)
    try:
        with conn.cursor() as cur:
            cur.execute(SLOT_SQL, (_slot_for(table),))
            slot = cur.fetchone()
            cur.execute(LAST_COMMIT_SQL)
            last_commit = cur.fetchone()[0]
    finally:
        conn.close()
    return {
        "slot": _slot_for(table),
        "slot_retained_wal_bytes": slot[0] if slot else None,
        "slot_active": slot[1] if slot else None,
        "last_source_commit": last_commit,
    }


def _source_entry(table: Table, connect_source: SourceConnector) -> dict:
    """The brief table's slot and its source's last commit (an added table's source: `bionicflow sources check`)."""
    entry: dict = {}
    try:
        source = source_position(table, connect_source)
        entry["slot"] = source["slot"]
        entry["slot_retained_wal_bytes"] = source["slot_retained_wal_bytes"]
        entry["slot_active"] = source["slot_active"]
        last = source["last_source_commit"]
        entry["last_source_commit"] = last.isoformat() if last else None
    except Exception as exc:
        entry["source_error"] = str(exc).splitlines()[0][:200]
    return entry


def lag(settings: Settings, olap: OlapClient, connect_source: SourceConnector, added: tuple[Table, ...] = ()) -> dict:
    """Per table: the lag against Debezium's heartbeats (bionicflow/cdc/heartbeat_lag.py), backlogs, the slot.

    ``added``: tables `tables add` put in the catalogue (their slot and last commit are in sources the
    stack's superuser does not reach: `bionicflow sources check` reads those).
    """
    result = {}
    for table in (*TABLES, *added):
        entry: dict = {}
        try:
            newest, rows = olap.query(NEWEST_CHANGE_SQL.format(db=DATABASE, table=table.name)).result_rows[0]
            entry["rows_in_clickhouse"] = rows
            entry["newest_change_in_clickhouse"] = newest.isoformat() if rows else None
            # kept, not applied: `bionicflow cdc dead-letters` says why, and replays them once fixed
            entry["dead_letters"] = int(
                olap.query(DEAD_LETTERS_SQL, parameters={"topic": table.topic}).result_rows[0][0])
        except Exception as exc:  # reported, not raised: status must show every part it can
            entry["clickhouse_error"] = str(exc).splitlines()[0][:200]
        if table in TABLES:
            entry.update(_source_entry(table, connect_source))
        try:
            measured = pipeline_lag(f"{settings.host}:{settings.kafka_port}", table)
            entry["lag_seconds"] = measured.seconds
            entry["lag_basis"] = measured.basis
            entry["last_heartbeat"] = measured.heartbeat_at.isoformat() if measured.heartbeat_at else None
            entry["consumer_lag_messages"] = measured.unread_messages
        except Exception as exc:
            entry["kafka_error"] = str(exc)[:200]
        entry["measured_at"] = datetime.now(UTC).isoformat()
        result[table.name] = entry
    return result
