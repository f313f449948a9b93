"""Each service's whole process tree, owned: nothing a service starts outlives it.

supervisord does not run a service's command itself but this keeper:

    python -m bionicflow.stack.proctree --state-dir DIR --service NAME [--user U] [--grace S]
        [--sweep-grace S] [--stop-signal SIG] [--stop-after SERVICE,...] -- COMMAND...

The keeper
* tags the service's environment with ``BIONICFLOW_PROCESS_TREE=<state dir>::<service>``.
  Every process the service starts inherits it, including the ones that leave the process
  group (Airflow's task processes) or are re-parented; the tag is how a tree is found;
* is the child subreaper of the tree (orphans are re-parented to it, not to init);
* dies with supervisord (``PR_SET_PDEATHSIG``), and its service's main process dies with
  the keeper; both stop cleanly: the stop signal first, then, after the grace period,
  SIGKILL to every tagged process;
* when supervisord died, lets the services named by ``--stop-after`` stop first (as
  `bionicflow down` orders them: a store waits for its clients, Airflow's API server for
  the scheduler), for at most a minute;
* when the main process exits, however it died (kill -9 included), stops what is left of
  the tree before exiting, so supervisord's restart never meets the old tree;
* on start, first stops any process still tagged with its service (left over when the
  keeper itself was killed with -9).

It writes the main process's pid to ``<state dir>/supervisor/<service>.pid``: that is the
pid `status` reports, the one whose death means the service is down.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import pwd
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

TAG_VARIABLE = "BIONICFLOW_PROCESS_TREE"
# supervisord's stop signal and the keeper's parent-death signal: forwarded as the service's own stop signal
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
FORWARDED = (*STOP_SIGNALS, signal.SIGQUIT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)
SWEEP_GRACE = 5.0
# after supervisord died, how long a keeper waits for the trees `down` stops before its own (a client that
# loses what it talks to mid-stop hangs: Airflow's scheduler, its tasks unable to report their end to the
# API server, waited for them until it was killed 45 s later)
CLIENTS_STOP_SECONDS = 60.0

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class StackProcess:
    """A running process that belongs to one state directory's stack."""

    pid: int
    service: str | None  # from its tag; None when it is recognised by its command line only
    command: str

    def describe(self) -> str:
        return f"pid {self.pid} ({self.service or 'unknown service'}: {self.command[:100]})"


def tag(state_dir: Path, service: str) -> str:
    return f"{Path(state_dir).resolve()}::{service}"


def main_pid_file(state_dir: Path, service: str) -> Path:
    return Path(state_dir) / "supervisor" / f"{service}.pid"


def main_pid(state_dir: Path, service: str, keeper_pid: int) -> int | None:
    """The main process of a service whose keeper is ``keeper_pid``, if the keeper recorded it."""
    try:
        pid = int(main_pid_file(state_dir, service).read_text().split()[0])
        return pid if psutil.Process(pid).ppid() == keeper_pid else None
    except (OSError, ValueError, IndexError, psutil.Error):
        return None


def _previous_keeper(state_dir: Path, service: str) -> int | None:
    try:
        return int(main_pid_file(state_dir, service).read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _keeper_running(state_dir: Path, service: str) -> bool:
    """Whether the keeper that last ran ``service`` is still running (it exits once its tree is gone)."""
    pid = _previous_keeper(state_dir, service)
    try:
        proc = psutil.Process(pid) if pid else None
        command = proc.cmdline() if proc and proc.status() != psutil.STATUS_ZOMBIE else []
    except psutil.Error:
        return False
    return "bionicflow.stack.proctree" in command and service in command


def _group_members(pgid: int) -> list[int]:
    """Processes still in process group ``pgid`` (Linux never reuses a pid while a group holds it)."""
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.Error):
            continue
    return members


def stack_processes(state_dir: Path, service: str | None = None, exclude: set[int] | None = None) -> list[StackProcess]:
    """Every process of this state directory's stack (of one service, when given).

    A process belongs to the stack when it carries the tag. Some processes overwrite the
    memory the kernel shows as their environment (``setproctitle``: Airflow's workers and
    their task processes), so a process without a readable tag also belongs to the stack
    when it runs Python, Java or PostgreSQL and its command line names the state directory
    or its working directory is inside it; its service is then unknown. ``exclude``
    defaults to this process, its ancestors and its descendants.
    """
    root = Path(state_dir).resolve()
    mine = _own_lineage() if exclude is None else exclude
    found = []
    for proc in psutil.process_iter(["pid", "cmdline", "name", "cwd", "environ"]):
        if proc.pid in mine:
            continue
        belongs, owner = _owner(proc.info, root)
        if belongs and (service is None or owner == service):
            cmdline = " ".join(proc.info["cmdline"] or []).strip() or (proc.info["name"] or "")
            found.append(StackProcess(proc.pid, owner, cmdline))
    return found


def _owner(info: dict, root: Path) -> tuple[bool, str | None]:
    """(belongs to the stack of ``root``, its service when tagged)."""
    value = (info["environ"] or {}).get(TAG_VARIABLE, "")
    prefix = f"{root}::"
    if value:
        return (True, value[len(prefix):]) if value.startswith(prefix) else (False, None)
    cmdline = info["cmdline"] or []
    if not cmdline or not Path(cmdline[0]).name.startswith(("python", "java", "postgres", "airflow")):
        if not (info["name"] or "").startswith(("python", "java", "postgres", "airflow")):
            return False, None
    cwd = info["cwd"] or ""
    named = _names_path(" ".join(cmdline), root) or cwd == str(root) or cwd.startswith(f"{root}/")
    return named, None


def _names_path(text: str, root: Path) -> bool:
    """Whether ``text`` names ``root`` or a path inside it — not a sibling whose name merely starts the
    same (the stack of ``.bionicflow-test-faults`` is not a process of ``.bionicflow-test``'s)."""
    return re.search(re.escape(str(root)) + r"(?![^/\s:=,;'\"])", text) is not None


def unsupervised(state_dir: Path, supervisor_pid: int | None, exclude: set[int] | None = None) -> list[StackProcess]:
    """Stack processes that no running supervisord owns: orphans of an earlier run or a crash."""
    owned: set[int] = set()
    if supervisor_pid:
        try:
            root = psutil.Process(supervisor_pid)
            owned = {root.pid, *(p.pid for p in root.children(recursive=True))}
        except psutil.NoSuchProcess:
            pass
    return [p for p in stack_processes(state_dir, exclude=exclude) if p.pid not in owned and not _run_by_command(p.pid)]


def _run_by_command(pid: int) -> bool:
    """A helper a running `bionicflow` command started (`up` formats Kafka's storage, runs initdb ...)."""
    try:
        ancestors = psutil.Process(pid).parents()
    except psutil.Error:
        return False
    for proc in ancestors:
        try:
            args = proc.cmdline()[:3]
        except psutil.Error:
            continue
        if any(Path(a).name == "bionicflow" or a.startswith("bionicflow.cli") for a in args):
            return True
    return False


def terminate(pids: list[int], grace: float = SWEEP_GRACE) -> list[int]:
    """SIGTERM, then SIGKILL what is still alive after ``grace`` seconds; returns the pids stopped."""
    procs = []
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            proc.terminate()
            procs.append(proc)
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(procs, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=grace)
    return [p.pid for p in procs]


def _process(pid: int, service: str | None) -> StackProcess:
    """What is known of ``pid`` right now (a process that has just exited keeps only its pid)."""
    try:
        command = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        command = ""
    return StackProcess(pid, service, command)


def _own_lineage() -> set[int]:
    """This process, its ancestors and its descendants: never "orphans" of anything."""
    me = psutil.Process()
    pids = {me.pid, *(p.pid for p in me.parents())}
    try:
        pids.update(p.pid for p in me.children(recursive=True))
    except psutil.Error:
        pass
    return pids


# --- the keeper ---------------------------------------------------------------------------

def _prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(option, value, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _child_setup() -> None:
    """In the service's main process, before exec: die with the keeper, receive signals again."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class OutputRelay:
    """The tree's output, passed on to supervisord's log pipe, or to the log file once supervisord is gone.

    The service writes into the keeper's pipe, never into supervisord's: when supervisord dies
    its pipe breaks, and a service that meets the broken pipe while it stops may hang (Airflow's
    scheduler, failing to log its shutdown, skipped stopping its executor and waited on the
    executor's workers until it was killed 45 s later).
    """

    def __init__(self, log_file: Path):
        self.log_file, self.lock, self.direct = log_file, threading.Lock(), False

    def write(self, data: bytes) -> None:
        with self.lock:
            if not self.direct:
                try:
                    sys.stdout.buffer.write(data)
                    sys.stdout.buffer.flush()
                    return
                except OSError:  # supervisord, the reader of that pipe, died: the log file from now on
                    self.direct = True
            with open(self.log_file, "ab") as log:
                log.write(data)

    def relay(self, fd: int) -> None:
        while chunk := os.read(fd, 65536):
            self.write(chunk)


class Keeper:
    def __init__(self, args: argparse.Namespace):
        self.state_dir, self.service, self.grace = Path(args.state_dir), args.service, args.grace
        self.sweep_grace = args.sweep_grace
        self.command, self.user = args.command, args.user
        self.stop_after: list[str] = [name for name in (args.stop_after or "").split(",") if name]
        self.parent = os.getppid()
        self.stop_signal = signal.Signals[f"SIG{args.stop_signal}"]
        self.main: subprocess.Popen | None = None
        self.stop_deadline: float | None = None
        self.output = OutputRelay(self.state_dir / "logs" / f"{self.service}.log")

    def say(self, message: str) -> None:
        self.output.write(f"[proctree {self.service}] {message}\n".encode())

    def run(self) -> int:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # exited children must stay to be reaped here
        signal.pthread_sigmask(signal.SIG_BLOCK, {*FORWARDED, signal.SIGCHLD})
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # supervisord died: stop the service cleanly
        if os.getppid() != self.parent:
            return 1  # supervisord died before the line above: nobody would supervise this tree
        previous = _previous_keeper(self.state_dir, self.service)
        # a keeper killed with -9 leaves its tree: the old process group and the tagged processes
        self.sweep("left over from the previous run of this service",
                   _group_members(previous) if previous and previous != os.getpid() else [])
        self.main = self.spawn()
        try:
            main_pid_file(self.state_dir, self.service).parent.mkdir(parents=True, exist_ok=True)
            main_pid_file(self.state_dir, self.service).write_text(f"{self.main.pid} {os.getpid()}\n")
            return self.wait_main()
        finally:
            # every orphan of the tree was re-parented to this subreaper: its descendants are the tree
            self.sweep("left behind by the main process", [p.pid for p in psutil.Process().children(recursive=True)])

    def spawn(self) -> subprocess.Popen:
        env = {**os.environ, TAG_VARIABLE: tag(self.state_dir, self.service)}
        extra: dict = {}
        if self.user:
            pw = pwd.getpwnam(self.user)
            extra = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": os.getgrouplist(self.user, pw.pw_gid)}
        main = subprocess.Popen(self.command, env=env, preexec_fn=_child_setup, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **extra)
        assert main.stdout is not None
        threading.Thread(target=self.output.relay, args=(main.stdout.fileno(),), daemon=True).start()
        return main

    def wait_main(self) -> int:
        """Forward signals to the main process until it exits; reap every orphan meanwhile."""
        assert self.main is not None
        while True:
            timeout = None if self.stop_deadline is None else max(0.0, self.stop_deadline - time.monotonic())
            info = signal.sigtimedwait({*FORWARDED, signal.SIGCHLD}, timeout if timeout is not None else 3600)
            if info is None:
                if self.stop_deadline is not None and time.monotonic() >= self.stop_deadline:
                    self.say(f"main process still running {self.grace:.0f}s after the stop signal: killing the tree")
                    self.main.kill()
                    self.stop_deadline = None
                continue
            if info.si_signo == signal.SIGCHLD:
                status = self.reap()
                if status is not None:
                    return status
                continue
            stopping = info.si_signo in STOP_SIGNALS
            if stopping and self.stop_deadline is None and os.getppid() != self.parent:
                self.wait_for_clients()
            os.kill(self.main.pid, self.stop_signal if stopping else info.si_signo)
            if stopping and self.stop_deadline is None:
                self.stop_deadline = time.monotonic() + self.grace

    def wait_for_clients(self) -> None:
        """supervisord died and told every keeper at once: let the ``--stop-after`` services stop first."""
        deadline = time.monotonic() + CLIENTS_STOP_SECONDS
        while waiting := [name for name in self.stop_after if _keeper_running(self.state_dir, name)]:
            if time.monotonic() >= deadline:
                self.say(f"stopping although {', '.join(waiting)} still run {CLIENTS_STOP_SECONDS:.0f}s later")
                return
            time.sleep(0.2)
        if self.stop_after:
            self.say(f"supervisord died: stopping now that {', '.join(self.stop_after)} have stopped")

    def reap(self) -> int | None:
        """Reap every exited child; the main process's exit status once it has exited."""
        result = None
        while True:
            try:
                pid, raw = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return result
            if pid == 0:
                return result
            if self.main is not None and pid == self.main.pid:
                code = os.waitstatus_to_exitcode(raw)
                self.say(f"main process {pid} exited ({'signal ' + str(-code) if code < 0 else 'code ' + str(code)})")
                result = 128 - code if code < 0 else code

    def sweep(self, why: str, known: list[int]) -> None:
        """Stop ``known`` and every process tagged with this service, this keeper excepted."""
        tagged = stack_processes(self.state_dir, self.service, exclude={os.getpid()})
        pids = sorted({*known, *(p.pid for p in tagged)} - {os.getpid()})
        if pids:
            self.say(f"stopping {len(pids)} process(es) {why}: "
                     + ", ".join(_process(pid, self.service).describe() for pid in pids))
            terminate(pids, grace=self.sweep_grace)
        self.reap()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bionicflow.stack.proctree", description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--user", help="run the service as this OS user (the keeper stays the caller)")
    parser.add_argument("--grace", type=float, default=30.0, help="seconds between the stop signal and SIGKILL")
    parser.add_argument("--sweep-grace", type=float, default=SWEEP_GRACE,
                        help="seconds between SIGTERM and SIGKILL for what is left of a tree "
                             "(after its main process, or from a previous run)")
    parser.add_argument("--stop-signal", default="TERM", choices=["TERM", "INT", "QUIT"],
                        help="the signal that stops the service cleanly (sent for SIGTERM or SIGINT)")
    parser.add_argument("--stop-after", default="",
                        help="comma-separated services whose trees stop first when supervisord dies")
    parser.add_argument("command", nargs="+", help="the service's command, after --")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return Keeper(parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
