"""The Debezium connector of an added source: one per source database, its copied tables in one
publication and one replication slot, every type sent exactly (docs/sources.md, "The CDC road").

The brief's two connectors stay as their JSON files (debezium/*.json). A source's password never
enters the connector's configuration, which Kafka Connect shows to anyone who can read its REST
API: the configuration names a properties file (Kafka's FileConfigProvider, `${file:PATH:password}`)
that the stack writes in its secrets folder, readable by its own user only.
"""

from __future__ import annotations

import re
from pathlib import Path

from bionicflow.cdc.connectors import ConnectorSpec
from bionicflow.kernel.identifiers import pg_ident
from bionicflow.kernel.source_registry import SourceAddress, password_variable
from bionicflow.kernel.tables import Table

# How Debezium must send each type for both roads to hold the same exact value (docs/sources.md).
EXACT_TYPE_OPTIONS = {
    "decimal.handling.mode": "string",
    "binary.handling.mode": "base64",
    "interval.handling.mode": "string",
    "time.precision.mode": "adaptive_time_microseconds",
    "value.converter.replace.null.with.default": "false",
}
# The largest change message of an added source: `tables add` makes the table REPLICA IDENTITY FULL (an
# untouched TOASTed value would otherwise arrive as a placeholder), so an update carries the row twice; 64 MiB
# lets a row of ~30 MB of values stream (the brief's connectors keep the stack's 16 MiB, docs/cdc.md).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
LARGE_MESSAGES = {
    "producer.override.max.request.size": str(MAX_MESSAGE_BYTES),
    "producer.override.buffer.memory": str(2 * MAX_MESSAGE_BYTES),
    "topic.creation.default.max.message.bytes": str(MAX_MESSAGE_BYTES),
}
# What every connector of the platform shares with the brief's two (debezium/*.json).
COMMON_OPTIONS = {
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "tasks.max": "1",
    "plugin.name": "pgoutput",
    "snapshot.mode": "initial",
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "true",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "true",
    "tombstones.on.delete": "false",
    "skipped.operations": "none",  # Debezium skips TRUNCATE by default; both roads apply it (docs/cdc.md)
    "heartbeat.interval.ms": "10000",
    # the source's clock into the WAL every interval: the CDC lag is measured against it (cdc/heartbeat_lag.py)
    "heartbeat.action.query": "SELECT pg_logical_emit_message(false, 'bionicflow-heartbeat', now()::text)",
    "max.batch.size": "8192",
    "max.queue.size": "32768",
    "poll.interval.ms": "100",
    "errors.max.retries": "-1",
    "topic.creation.default.replication.factor": "-1",
    "topic.creation.default.partitions": "1",
}


def slot_name(source: SourceAddress) -> str:
    return f"bionicflow_{source.name}"


def password_reference(source: SourceAddress, password_file: Path | None) -> str:
    """The configuration's stand-in for the password: Connect reads the file (or, without one, its environment
    variable) when it starts the task."""
    if password_file is None:
        return f"${{env:{password_variable(source.name)}}}"
    return f"${{file:{password_file}:password}}"


def source_connector(source: SourceAddress, tables: list[Table], password_file: Path | None) -> ConnectorSpec:
    """The connector that streams ``tables`` (all of ``source``) into topics <source>.<schema>.<table>."""
    if any(t.source_database != source.database for t in tables):
        raise ValueError(f"every table of {source.name}'s connector must come from {source.database}")
    config = {
        **COMMON_OPTIONS, **EXACT_TYPE_OPTIONS, **LARGE_MESSAGES,
        "database.hostname": source.host, "database.port": str(source.port), "database.user": source.user,
        "database.password": password_reference(source, password_file), "database.dbname": source.database,
        "topic.prefix": source.name,
        "table.include.list": ",".join([*(f"{t.source_schema}.{t.source_table}" for t in tables), SIGNAL_TABLE]),
        # backfills of the CDC road are Debezium incremental snapshots, asked for through this table (cdc/signals.py)
        "signal.enabled.channels": "source", "signal.data.collection": SIGNAL_TABLE,
        # bionicflow makes the publication with the tables it copies (tables add); Debezium only reads it
        "publication.name": slot_name(source), "publication.autocreate.mode": "disabled",
        "slot.name": slot_name(source),
    }
    return ConnectorSpec(name=f"{source.name}-connector", config=config, slot=slot_name(source),
                         database_port_var="")


# Debezium replaces every character Kafka does not allow in a topic name with `_` (`Order Lines` → `Order_Lines`).
_TOPIC_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def topic(source: SourceAddress, table: Table) -> str:
    """The topic Debezium writes the table's changes to."""
    return _TOPIC_UNSAFE.sub("_", f"{source.name}.{table.source_schema}.{table.source_table}")


def publication_ddl(source: SourceAddress, tables: list[Table]) -> str:
    """The publication the connector reads: exactly the copied tables and the signal table (made by tables add)."""
    names = ", ".join([*(f"{pg_ident(t.source_schema)}.{pg_ident(t.source_table)}" for t in tables), SIGNAL_TABLE])
    return f"CREATE PUBLICATION {pg_ident(slot_name(source))} FOR TABLE {names}"


# Debezium's signalling table in bionicflow's schema of the source: a backfill writes an `execute-snapshot` row,
# Debezium its snapshot windows' watermarks (its columns are Debezium's, docs/sources.md).
SIGNAL_TABLE = "bionicflow.debezium_signal"
SIGNAL_DDL = (f"CREATE TABLE IF NOT EXISTS {SIGNAL_TABLE} (id varchar(42) PRIMARY KEY, type varchar(32) NOT NULL, "
              "data varchar(2048))")
