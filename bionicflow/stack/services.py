"""The services of the embedded stack: what each needs, how it runs, how it is checked."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

from bionicflow.kernel.config import Settings, project_root
from bionicflow.stack import airflow, health
from bionicflow.stack.jvm import ConnectWorker, KafkaBroker
from bionicflow.stack.postgres import CLUSTERS, ClusterManager
from bionicflow.stack.supervisor import Program


@dataclass
class Service:
    name: str
    port_field: str | None
    depends_on: tuple[str, ...]
    program: Callable[[], Program]
    healthy: Callable[[], bool]
    prepare: Callable[[], None] = lambda: None
    after_start: Callable[[], None] = lambda: None
    url: str | None = None
    start_timeout: float = 120.0
    extra_ports: tuple[str, ...] = field(default_factory=tuple)


# Services that hold data others read or write: they stop last, once no client of theirs runs.
DATA_STORES = frozenset({"crm_db", "telemetry_db", "airflow_db", "kafka", "olap"})


def stop_order(services: dict[str, Service]) -> list[list[str]]:
    """The groups `down` stops one after the other: clients nobody depends on, the other clients, the stores."""
    needed = {dependency for s in services.values() for dependency in s.depends_on}
    clients = [name for name in services if name not in DATA_STORES]
    return [[n for n in clients if n not in needed], [n for n in clients if n in needed],
            [n for n in services if n in DATA_STORES]]


def with_stop_order(services: dict[str, Service]) -> list[Program]:
    """Every service's program, told which services stop before it when supervisord dies (as `down` orders them)."""
    before: dict[str, tuple[str, ...]] = {}
    groups = stop_order(services)
    for i, group in enumerate(groups):
        for name in group:
            before[name] = tuple(n for earlier in groups[:i] for n in earlier)
    return [replace(s.program(), stop_after=before[s.name]) for s in services.values()]


def build_services(settings: Settings, env: dict[str, str]) -> dict[str, Service]:
    """Every service, in a dependency order (a service comes after what it needs)."""
    h = settings.host
    services: list[Service] = []
    for name, cluster in CLUSTERS.items():
        manager = ClusterManager(cluster, settings)
        services.append(Service(
            name=name, port_field=cluster.port_field, depends_on=(),
            program=manager.program, healthy=manager.healthy, prepare=manager.prepare,
            after_start=manager.initialize,
            url=f"postgresql://{h}:{cluster.port(settings)}/{cluster.database}", start_timeout=60,
        ))
    broker, worker = KafkaBroker(settings), ConnectWorker(settings)
    services += [
        Service(
            name="kafka", port_field="kafka_port", extra_ports=("kafka_controller_port",), depends_on=(),
            program=broker.program, prepare=broker.prepare, healthy=lambda: health.kafka_healthy(settings),
            url=f"{h}:{settings.kafka_port}",
        ),
        Service(
            name="kafka_connect", port_field="kafka_connect_port", depends_on=("kafka",),
            program=worker.program, prepare=worker.prepare, healthy=lambda: health.connect_healthy(settings),
            url=f"http://{h}:{settings.kafka_connect_port}",
        ),
        Service(
            name="olap", port_field="olap_port", depends_on=(),
            program=lambda: Program(
                name="olap", command=[sys.executable, "-m", "bionicflow.olap"],  # confined, then served
                directory=project_root(), stopwaitsecs=45,
            ),
            healthy=lambda: health.olap_healthy(settings),
            url=f"http://{h}:{settings.olap_port}",
        ),
    ]
    services.append(Service(
        name="cdc_consumer", port_field=None, depends_on=("kafka", "olap"),
        program=lambda: Program(
            name="cdc_consumer", command=[sys.executable, "-m", "bionicflow.cdc.consumer"],
            directory=project_root(), stopwaitsecs=60,
        ),
        healthy=lambda: health.consumer_healthy(settings),
    ))
    af_programs = {p.name: p for p in airflow.programs(settings)}
    services.append(Service(
        name="airflow_api_server", port_field="airflow_port", depends_on=("airflow_db",),
        program=lambda: af_programs["airflow_api_server"],
        prepare=lambda: airflow.prepare(settings, env),
        healthy=lambda: health.airflow_component_healthy(settings, "metadatabase"),
        url=f"http://{h}:{settings.airflow_port}", start_timeout=240,
    ))
    for name, component in (
        ("airflow_scheduler", "scheduler"), ("airflow_dag_processor", "dag_processor"),
        ("airflow_triggerer", "triggerer"),
    ):
        services.append(Service(
            name=name, port_field=None, depends_on=("airflow_api_server",),
            program=partial(af_programs.__getitem__, name),
            healthy=partial(health.airflow_component_healthy, settings, component),
            start_timeout=180,
        ))
    services.append(Service(
        name="reports_api", port_field="reports_api_port", depends_on=(),
        program=lambda: Program(
            name="reports_api",
            command=[sys.executable, "-m", "uvicorn", "reports_api.main:app",
                     "--host", h, "--port", str(settings.reports_api_port), "--no-access-log"],
            directory=project_root(),
        ),
        healthy=lambda: health.reports_api_healthy(settings),
        url=f"http://{h}:{settings.reports_api_port}",
    ))
    return {s.name: s for s in services}
