"""`bionicflow up | down | stop | start`: the embedded stack's processes as one unit (`status`: status.py)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Protocol

from bionicflow.kernel.config import Settings
from bionicflow.kernel.errors import BionicflowError, ConfigurationError, OrphanProcessesError, ServiceStartError
from bionicflow.stack import airflow, proctree
from bionicflow.cdc.connectors import connector_env
from bionicflow.stack.jvm import jars_dir
from bionicflow.stack.preflight import check_port, check_reachable_by, find_java, find_mvn, find_pg_bindir
from bionicflow.stack.services import Service, build_services, stop_order, with_stop_order
from bionicflow.stack.supervisor import Supervisor

POLL_SECONDS = 0.5
# after a supervisord crash its services stop by themselves (their keepers die with it), clients first:
# at worst a client's stop grace (60 s) and sweep (2 x 5 s), then a store's, with a margin
ORPHANS_EXIT_SECONDS = 150.0


class Reporter(Protocol):
    def update(self, service: str, status: str, done: bool = False, failed: bool = False) -> None: ...


def stack_env(settings: Settings) -> dict[str, str]:
    """The environment supervisord passes to every service (secrets stay out of files)."""
    env = {**os.environ, **airflow.airflow_env(settings)}
    env["BIONICFLOW_STATE_DIR"] = str(settings.state_dir)
    env["BIONICFLOW_HOST"] = settings.host
    env.update(connector_env(settings))
    return env


def preflight(settings: Settings, services: dict[str, Service], running: set[str]) -> None:
    """Every reason the stack cannot start, reported at once before anything starts."""
    problems: list[str] = []
    checks: list[Callable[[], object]] = [lambda: find_pg_bindir(settings), lambda: find_java(settings)]
    if os.geteuid() == 0:
        checks.append(lambda: check_reachable_by(settings.state_dir, settings.pg_os_user))
    if not (jars_dir(settings) / ".complete").exists():
        checks.append(lambda: find_mvn(settings))
    for service in services.values():
        if service.name in running:
            continue
        for field in filter(None, (service.port_field, *service.extra_ports)):
            checks.append(partial(check_port, settings, service.name, field))
    for check in checks:
        try:
            check()
        except ConfigurationError as exc:
            problems.append(str(exc))
    if problems:
        raise ConfigurationError("\n".join(problems))


def up(settings: Settings, reporter: Reporter) -> dict[str, Service]:
    """Start every service in dependency order and wait until each is healthy."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    env = stack_env(settings)
    services = build_services(settings, env)
    supervisor = Supervisor(settings.state_dir)
    states = supervisor.states()
    running = {name for name, st in states.items() if st.state in ("RUNNING", "STARTING")}
    wait_orphans_gone(settings, supervisor, reporter)
    preflight(settings, services, running)
    if not supervisor.is_running():
        supervisor.write_config(with_stop_order(services))
        supervisor.start_daemon(env)
    _start_all(services, supervisor, reporter, running)
    return services


def orphans(settings: Settings, supervisor: Supervisor | None = None) -> list[proctree.StackProcess]:
    """Processes of this state directory that no running supervisord owns."""
    supervisor = supervisor or Supervisor(settings.state_dir)
    return proctree.unsupervised(settings.state_dir, supervisor.daemon_pid() if supervisor.is_running() else None)


def wait_orphans_gone(settings: Settings, supervisor: Supervisor, reporter: Reporter) -> None:
    """Refuse to start beside unsupervised processes of this stack.

    Right after a supervisord crash its services are still stopping by themselves (each
    keeper dies with supervisord and stops its tree): those are given time to finish.
    """
    deadline = time.monotonic() + (0 if supervisor.is_running() else ORPHANS_EXIT_SECONDS)
    while left := orphans(settings, supervisor):
        if time.monotonic() >= deadline:
            raise OrphanProcessesError(left)
        reporter.update("supervisor", f"waiting for {len(left)} process(es) of the crashed run to stop")
        time.sleep(1)


def _start_all(services: dict[str, Service], supervisor: Supervisor, reporter: Reporter, running: set[str]) -> None:
    ready = {name: threading.Event() for name in services}
    failures: dict[str, str] = {}

    def run(service: Service) -> None:
        try:
            for dep in service.depends_on:
                reporter.update(service.name, f"waiting for {dep}")
                ready[dep].wait()
                if dep in failures:
                    raise ServiceStartError(f"not started: {dep} failed")
            started = time.monotonic()
            if service.name in running and service.healthy():
                reporter.update(service.name, "already running", done=True)
                ready[service.name].set()
                return
            reporter.update(service.name, "preparing")
            service.prepare()
            reporter.update(service.name, "starting")
            supervisor.start(service.name)
            _wait_healthy(service, supervisor)
            service.after_start()
            reporter.update(service.name, f"healthy in {time.monotonic() - started:.1f}s", done=True)
        except BionicflowError as exc:
            failures[service.name] = str(exc)
            reporter.update(service.name, str(exc).splitlines()[0], failed=True)
        except Exception as exc:  # an unexpected failure still must not hang the services that wait on it
            failures[service.name] = f"{type(exc).__name__}: {exc}"
            reporter.update(service.name, failures[service.name], failed=True)
        finally:
            ready[service.name].set()

    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        list(pool.map(run, services.values()))
    if failures:
        lines = [f"{name}: {why}" for name, why in failures.items()]
        raise ServiceStartError(
            "some services did not start:\n  " + "\n  ".join(lines)
            + f"\nlogs: {supervisor.logs} (bionicflow logs SERVICE)"
        )


def _wait_healthy(service: Service, supervisor: Supervisor) -> None:
    """Wait until the health check passes and supervisord says RUNNING: what `status` calls healthy.

    A service may answer before supervisord's `startsecs` have passed, so both are awaited.
    """
    deadline = time.monotonic() + service.start_timeout
    while True:
        state = supervisor.states().get(service.name)
        current = state.state if state else "NOT_STARTED"
        if current in ("FATAL", "EXITED", "STOPPED"):
            raise ServiceStartError(
                f"{service.name} exited ({current}); see {supervisor.logs / (service.name + '.log')}")
        if current == "RUNNING" and service.healthy():
            return
        if time.monotonic() > deadline:
            raise ServiceStartError(
                f"{service.name} not healthy after {service.start_timeout:.0f}s (supervisord: {current}); "
                f"see {supervisor.logs / (service.name + '.log')}"
            )
        time.sleep(POLL_SECONDS)


def down(settings: Settings, force: bool = False) -> tuple[list[int], list[proctree.StackProcess]]:
    """Stop every service and supervisord (and, with ``force``, unsupervised processes of the stack).

    Returns the pids stopped and the stack processes still running (orphans left without ``force``).
    """
    supervisor = Supervisor(settings.state_dir)
    states = supervisor.states()
    pids = [st.pid for st in states.values() if st.pid]
    daemon = supervisor.daemon_pid() if states else None
    supervisor.shutdown(order=stop_order(build_services(settings, env={})))
    pids += [daemon] if daemon else []
    left = orphans(settings, supervisor)
    if force and left:
        pids += proctree.terminate([p.pid for p in left], grace=10)
        left = orphans(settings, supervisor)
    return pids, left


def _known_service(settings: Settings, name: str) -> Service:
    services = build_services(settings, env={})
    if name not in services:
        raise ConfigurationError(
            f"no service {name!r}; known: {', '.join(services)} (as `bionicflow status` lists them)")
    return services[name]


def stop_service(settings: Settings, name: str) -> None:
    """Stop one service of a running stack (it stays stopped until `start_service` or `up`)."""
    _known_service(settings, name)
    Supervisor(settings.state_dir).stop(name)


def start_service(settings: Settings, name: str) -> None:
    """Start one stopped service again and wait until its health check passes."""
    service = _known_service(settings, name)
    supervisor = Supervisor(settings.state_dir)
    supervisor.start(name)
    _wait_healthy(service, supervisor)
