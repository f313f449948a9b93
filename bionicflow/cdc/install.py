"""The CDC road's part of the bootstrap: the `debezium` schema and the connectors (both idempotent).

The platform's bootstrap (bionicflow/platform/bootstrap.py) runs these with the other roads' steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dataclasses
import logging

from bionicflow.cdc import ddl, evolve, initial_load
from bionicflow.cdc.connectors import KafkaConnectClient, load_connectors

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.cdc.install")


def create_schema(olap: OlapClient, mode: str = "embedded", broker_list: str = ddl.DEFAULT_BROKER_LIST) -> int:
    """Run every `debezium` DDL statement; returns how many ran.

    `mode` "embedded" (our consumer feeds Null-engine tables) or "kafka" (ClickHouse's Kafka engine
    reads `broker_list`, as in docker-compose.yaml).
    """
    statements = ddl.render(mode, broker_list)
    for statement in statements:
        olap.command(statement)
    for table in ddl.TABLES:  # views just made from the catalogue lack the columns the CDC road added
        grown = evolve.extended(olap, table)
        if evolve.views_lack(olap, grown):
            log.info("%s: views made again with the added columns", table.name)
            evolve.rebuild_views(olap, grown)
    return len(statements)


def register(connect: KafkaConnectClient, initial: str = "debezium") -> list[str]:
    """Register or update every connector; returns the names that changed.

    `initial` ("debezium" | "olap") picks the snapshot mode of connectors created now; an
    existing connector keeps its own (`initial_load.snapshot_mode`, which also checks `initial`).
    """
    changed = []
    for spec in load_connectors():
        mode = initial_load.snapshot_mode(spec, connect.config(spec.name), initial)
        if connect.upsert(dataclasses.replace(spec, config={**spec.config, "snapshot.mode": mode})):
            log.info("connector %s registered or updated (snapshot.mode %s)", spec.name, mode)
            changed.append(spec.name)
    return changed
