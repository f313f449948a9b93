"""The `bionicflow status` document: each service's health, then the roads' state (CDC lag, batch freshness, warnings).

The launcher starts and stops processes; this module only looks: supervisord's states, each
service's health check, and, through the roads' own monitors, what the data is doing.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bionicflow.cdc import monitor
from bionicflow.kernel import cursors
from bionicflow.kernel.config import Settings
from bionicflow.kernel.source_columns import is_pending
from bionicflow.kernel.olap import OlapClient, olap_client
from bionicflow.kernel.tables import TABLES
from bionicflow.platform.drift import source_drift
from bionicflow.stack.launcher import orphans
from bionicflow.stack.postgres import CLUSTERS, ClusterManager
from bionicflow.stack.services import Service, build_services
from bionicflow.stack.supervisor import Supervisor


def status(settings: Settings, cdc: bool = True) -> dict:
    """Machine-readable health of every service (the `status --json` document)."""
    services = build_services(settings, env={})  # the env only feeds start-up steps
    supervisor = Supervisor(settings.state_dir)
    states = supervisor.states()

    def one(service: Service) -> tuple[str, dict]:
        state = states.get(service.name)
        return service.name, {
            "healthy": bool(state and state.state == "RUNNING" and service.healthy()),
            "state": state.state if state else "NOT_STARTED",
            "pid": state.pid if state else None,
            "port": getattr(settings, service.port_field) if service.port_field else None,
            "url": service.url,
        }

    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        result = dict(pool.map(one, services.values()))
    doc: dict[str, Any] = {
        "supervisor": {"running": supervisor.is_running(), "pid": supervisor.daemon_pid() if states else None},
        "state_dir": str(settings.state_dir),
        "services": result,
        "orphans": [{"pid": p.pid, "service": p.service, "command": p.command} for p in orphans(settings, supervisor)],
    }
    if cdc:
        doc["connectors"] = monitor.connectors(settings) if result["kafka_connect"]["healthy"] else {}
        olap = olap_client(settings) if result["olap"]["healthy"] else None
        doc["lag"] = monitor.lag(settings, olap, superuser_connector(settings), _added_tables(olap)) if olap else {}
        slots = {e["slot"]: (e["slot_retained_wal_bytes"], bool(e.get("slot_active")))
                 for e in doc["lag"].values() if e.get("slot") and e.get("slot_retained_wal_bytes") is not None}
        doc["warnings"] = monitor.retained_wal_problems(slots, settings.wal_retained_limit_bytes)
        drift = source_column_drift(settings, result, olap)
        doc["warnings"] += [line for line in drift if not is_pending(line)]
        # a column on its way to the other road (its next change or load copies it): said, not a fault
        doc["notices"] = [line for line in drift if is_pending(line)]
        # the batch road's freshness: when each `default` table was last loaded (docs/airflow.md)
        doc["batch"] = cursors.freshness(olap) if olap else {}
    return doc


def _added_tables(olap: OlapClient) -> tuple:
    """The tables `tables add` put in the catalogue (none when it cannot be read: status shows the rest)."""
    from bionicflow.kernel.table_catalogue import list_entries

    try:
        return tuple(e.table for e in list_entries(olap) if not e.built_in)
    except Exception:  # noqa: BLE001 — status reports every part it can; the catalogue is one part
        return ()


def source_column_drift(settings: Settings, services: dict, olap: OlapClient | None = None) -> list[str]:
    """Differences between the source tables' columns and the ones bionicflow copies (docs/cdc.md)."""
    connect = superuser_connector(settings)
    # a database that is down is reported as such already
    up = [t for t in TABLES if services.get(t.source_database, {}).get("healthy")]
    return source_drift(olap, lambda table: connect(table.source_database), up)


def superuser_connector(settings: Settings):
    """Connections to the source databases as their cluster's superuser (slots, commit timestamps)."""
    def connect(database: str):
        cluster = CLUSTERS[database]
        return ClusterManager(cluster, settings).connect(database=cluster.database)

    return connect
