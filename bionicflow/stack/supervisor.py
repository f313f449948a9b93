"""Process supervision through supervisord (the `supervisor` package).

supervisord keeps every service of the embedded stack running (restarting one that
dies), owns their log files, and is driven over XML-RPC on a unix socket in the
state directory. Each service runs under its process-tree keeper
(`bionicflow.stack.proctree`), which owns everything the service starts.
"""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from supervisor.xmlrpc import SupervisorTransport

from bionicflow.kernel.errors import ServiceStartError, StackNotRunningError
from bionicflow.stack import proctree


# supervisord states in which a program may still have a process to stop
ACTIVE_STATES = frozenset({"RUNNING", "STARTING", "BACKOFF"})


@dataclass(frozen=True)
class Program:
    """One supervised process."""

    name: str
    command: list[str]
    directory: Path
    user: str | None = None
    stopsignal: str = "TERM"
    stopwaitsecs: int = 30
    startsecs: int = 2
    environment: dict[str, str] = field(default_factory=dict)
    # when supervisord dies every keeper is told at once: these services' trees are let stop first (down's order)
    stop_after: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProcessState:
    name: str
    state: str  # RUNNING, STARTING, STOPPED, BACKOFF, FATAL, EXITED ...
    pid: int | None  # the service's main process (its death means the service is down)
    keeper_pid: int | None = None  # the process-tree keeper supervisord runs


class Supervisor:
    """The supervisord of one state directory."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.dir = state_dir / "supervisor"
        self.socket = self.dir / "supervisor.sock"
        self.conf = self.dir / "supervisord.conf"
        self.pidfile = self.dir / "supervisord.pid"
        self.logs = state_dir / "logs"

    # --- configuration ------------------------------------------------------
    def write_config(self, programs: list[Program]) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        conf = configparser.RawConfigParser()
        conf["unix_http_server"] = {"file": str(self.socket), "chmod": "0700"}
        conf["supervisord"] = {
            "logfile": str(self.logs / "supervisord.log"),
            "pidfile": str(self.pidfile),
            "childlogdir": str(self.logs),
            "logfile_maxbytes": "10MB",
            "nodaemon": "false",
            "silent": "true",
        }
        conf["rpcinterface:supervisor"] = {
            "supervisor.rpcinterface_factory": "supervisor.rpcinterface:make_main_rpcinterface"
        }
        conf["supervisorctl"] = {"serverurl": f"unix://{self.socket}"}
        for prog in programs:
            section = {
                "command": " ".join(_quote(part) for part in self.keeper_command(prog)),
                "directory": str(prog.directory),
                "autostart": "false",
                # a service that dies is restarted: recovery is part of the product
                "autorestart": "true",
                "startsecs": str(prog.startsecs),
                "startretries": "5",
                "stopsignal": prog.stopsignal,
                # the keeper signals the service, kills its tree after stopwaitsecs and sweeps (2 x 5 s):
                # supervisord's own SIGKILL is only the backstop for a keeper that hangs
                "stopwaitsecs": str(prog.stopwaitsecs + 15),
                "stopasgroup": "false",
                "killasgroup": "true",
                "redirect_stderr": "true",
                "stdout_logfile": str(self.logs / f"{prog.name}.log"),
                "stdout_logfile_maxbytes": "50MB",
                "stdout_logfile_backups": "2",
            }
            # every service on one clock, UTC, whatever the host's zone: PostgreSQL's now() in `timestamp`
            # columns, the naive date-times Python clients send, the engine's days (docs/reports.md, "One answer")
            environment = {"TZ": "UTC", **prog.environment}
            section["environment"] = ",".join(f'{k}="{_escape_env(v)}"' for k, v in environment.items())
            conf[f"program:{prog.name}"] = section
        with open(self.conf, "w") as fh:
            conf.write(fh)
        os.chmod(self.conf, 0o600)

    def keeper_command(self, prog: Program) -> list[str]:
        """The program's command run under its process-tree keeper (bionicflow.stack.proctree)."""
        return [
            sys.executable, "-m", "bionicflow.stack.proctree", "--state-dir", str(self.state_dir),
            "--service", prog.name, "--grace", str(prog.stopwaitsecs), "--stop-signal", prog.stopsignal,
            *(["--user", prog.user] if prog.user else []),
            *(["--stop-after", ",".join(prog.stop_after)] if prog.stop_after else []), "--", *prog.command,
        ]

    # --- daemon -------------------------------------------------------------
    def is_running(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            return self.rpc().supervisor.getState()["statename"] == "RUNNING"
        except (OSError, xmlrpc.client.Fault):
            return False

    def start_daemon(self, env: dict[str, str], timeout: float = 20) -> None:
        """Start supervisord (it daemonizes); its children inherit ``env``."""
        subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)],
            env=env, check=True, cwd=self.dir,
        )
        deadline = time.monotonic() + timeout
        while not self.is_running():
            if time.monotonic() > deadline:
                raise ServiceStartError(
                    f"supervisord did not start in {timeout:.0f}s; see {self.logs / 'supervisord.log'}")
            time.sleep(0.2)

    def shutdown(self, order: Sequence[Iterable[str]] = (), timeout: float = 120) -> None:
        """Stop the programs group by group (``order``), then the rest, then supervisord itself; wait until it is gone.

        A group's programs stop together, and the next group starts stopping when they have: a
        client stops while what it talks to still answers (Kafka Connect, its broker gone, spends
        ~45 s in its shutdown hooks instead of ~2).
        """
        if not self.is_running():
            return
        pid = self.daemon_pid()
        rpc = self.rpc()
        deadline = time.monotonic() + timeout
        for group in order:
            self._stop_together(rpc, set(group), deadline)
        rpc.supervisor.stopAllProcesses(True)
        rpc.supervisor.shutdown()
        deadline = time.monotonic() + timeout
        while pid and _alive(pid):
            if time.monotonic() > deadline:
                raise ServiceStartError(f"supervisord (pid {pid}) did not exit in {timeout:.0f}s")
            time.sleep(0.2)

    def _stop_together(self, rpc, names: set[str], deadline: float) -> None:
        running = {i["name"] for i in rpc.supervisor.getAllProcessInfo()
                   if i["name"] in names and i["statename"] in ACTIVE_STATES}
        for name in running:
            try:
                rpc.supervisor.stopProcess(name, False)
            except xmlrpc.client.Fault as fault:
                if "NOT_RUNNING" not in fault.faultString:
                    raise
        while running:
            running = {i["name"] for i in rpc.supervisor.getAllProcessInfo()
                       if i["name"] in running and i["statename"] in ACTIVE_STATES | {"STOPPING"}}
            if running and time.monotonic() > deadline:
                raise ServiceStartError(f"{', '.join(sorted(running))} did not stop in time; "
                                        "`bionicflow down --force` stops what is left")
            time.sleep(0.2)

    def daemon_pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def rpc(self):
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    # --- programs -----------------------------------------------------------
    def _require(self):
        if not self.is_running():
            raise StackNotRunningError("the embedded stack is not running: start it with `bionicflow up`")
        return self.rpc()

    def start(self, name: str) -> None:
        rpc = self._require()
        info = rpc.supervisor.getProcessInfo(name)
        if info["statename"] in ("RUNNING", "STARTING"):
            return
        try:
            rpc.supervisor.startProcess(name, False)
        except xmlrpc.client.Fault as fault:
            if "ALREADY_STARTED" not in fault.faultString:
                raise ServiceStartError(f"supervisord could not start {name}: {fault.faultString}") from None

    def stop(self, name: str) -> None:
        rpc = self._require()
        try:
            rpc.supervisor.stopProcess(name, True)
        except xmlrpc.client.Fault as fault:
            if "NOT_RUNNING" not in fault.faultString:
                raise

    def states(self) -> dict[str, ProcessState]:
        if not self.is_running():
            return {}
        return {info["name"]: self._state(info) for info in self.rpc().supervisor.getAllProcessInfo()}

    def _state(self, info: dict) -> ProcessState:
        keeper = info["pid"] or None
        main = proctree.main_pid(self.state_dir, info["name"], keeper) if keeper else None
        return ProcessState(info["name"], info["statename"], main or keeper, keeper)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _quote(part: str) -> str:
    # supervisord splits commands with shlex; '%' must be doubled for its expansion.
    return shlex.quote(part).replace("%", "%%")


def _escape_env(value: str) -> str:
    return value.replace("%", "%%").replace('"', '\\"')
