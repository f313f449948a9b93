"""The process-tree keeper with real processes: whatever dies, nothing the service started stays."""

from __future__ import annotations

import json
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from bionicflow.stack import proctree

# A service that starts a grandchild which leaves the process group (as Airflow's task
# processes do) and writes its pid; "ignore-term" makes the service deaf to its stop signal.
# "stop-after-S" stops S seconds after its stop signal, says so on stdout and records when in <marker>.stopped.
SERVICE = textwrap.dedent("""
    import os, signal, sys, time
    if sys.argv[2] == "ignore-term":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    def stop(*_):
        time.sleep(float(sys.argv[2].removeprefix("stop-after-")))
        print("stopping cleanly", flush=True)
        with open(sys.argv[1] + ".stopped", "w") as fh:
            fh.write(repr(time.time()))
        os._exit(0)
    if sys.argv[2].startswith("stop-after-"):
        signal.signal(signal.SIGTERM, stop)
    if os.fork() == 0:
        os.setsid()
        if sys.argv[2].startswith("stop-after-"):
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with open(sys.argv[1] + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    while True:
        time.sleep(1)
""")


def wait_for(predicate, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (result := predicate()):
        assert time.monotonic() < deadline, f"{what} within {timeout}s"
        time.sleep(0.05)
    return result


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


class Tree:
    """A keeper running SERVICE for service "svc" in a state directory of its own."""

    def __init__(self, state_dir: Path, mode: str = "normal", parent: list[str] | None = None,
                 grace: float = 2, sweep_grace: float | None = None, service: str = "svc",
                 stop_after: str | None = None, stdout=subprocess.DEVNULL):
        self.state_dir, self.service = state_dir, service
        self.marker = state_dir / f"grandchild-{time.monotonic_ns()}"
        script = state_dir / "service.py"
        script.write_text(SERVICE)
        command = [*(parent or []), sys.executable, "-m", "bionicflow.stack.proctree", "--state-dir", str(state_dir),
                   "--service", service, "--grace", str(grace),
                   *(["--sweep-grace", str(sweep_grace)] if sweep_grace is not None else []),
                   *(["--stop-after", stop_after] if stop_after else []),
                   "--", sys.executable, str(script), str(self.marker), mode]
        self.process = subprocess.Popen(command, stdout=stdout)
        self.grandchild = int(wait_for(lambda: self.marker.exists() and self.marker.read_text(), "grandchild started"))
        self.main = int(wait_for(lambda: _pidfile(state_dir, service), "main pid recorded"))

    def keeper_pid(self) -> int:
        return int(proctree.main_pid_file(self.state_dir, self.service).read_text().split()[1])

    def stopped_at(self) -> float:
        return float(wait_for(lambda: _read(Path(f"{self.marker}.stopped")), f"{self.service} stopped cleanly"))


def _read(path: Path) -> str | None:
    return path.exists() and path.read_text() or None


def _pidfile(state_dir: Path, service: str = "svc") -> str | None:
    path = proctree.main_pid_file(state_dir, service)
    return path.exists() and path.read_text().split()[0]


@pytest.fixture
def state_dir(tmp_path):
    yield tmp_path
    for p in proctree.stack_processes(tmp_path, exclude={os.getpid()}):  # a failed test must not leave its processes either
        with contextlib.suppress(ProcessLookupError):  # it may end between the listing and the kill
            os.kill(p.pid, signal.SIGKILL)


def test_the_recorded_main_pid_is_the_service_and_its_processes_carry_the_tag(state_dir):
    tree = Tree(state_dir)
    assert proctree.main_pid(state_dir, "svc", tree.process.pid) == tree.main
    found = {p.pid: p.service for p in proctree.stack_processes(state_dir, exclude=set())}
    assert found.get(tree.main) == "svc" and found.get(tree.grandchild) == "svc"


def test_main_process_killed_9_takes_the_grandchild_with_it(state_dir):
    tree = Tree(state_dir)
    os.kill(tree.main, signal.SIGKILL)
    assert tree.process.wait(timeout=30) == 128 + signal.SIGKILL
    wait_for(lambda: gone(tree.grandchild), "the grandchild stopped with its service")


def test_stop_signal_is_forwarded_and_a_deaf_service_is_killed_after_its_grace(state_dir):
    # the grandchild is deaf too: the keeper's sweep kills it after its own grace (5 s unless told)
    tree = Tree(state_dir, mode="ignore-term", grace=0.5, sweep_grace=0.5)
    tree.process.send_signal(signal.SIGTERM)
    tree.process.wait(timeout=30)
    assert gone(tree.main) and gone(tree.grandchild)


def test_keeper_dies_with_its_parent_and_stops_the_tree(state_dir):
    # stands in for supervisord: the keeper's parent, killed with -9
    parent = ["python3", "-c", "import subprocess, sys, time; subprocess.Popen(sys.argv[1:]); time.sleep(600)"]
    tree = Tree(state_dir, parent=parent)
    keeper = tree.keeper_pid()
    tree.process.kill()
    tree.process.wait(timeout=10)
    wait_for(lambda: gone(keeper) and gone(tree.main) and gone(tree.grandchild), "the whole tree stopped")


# stands in for supervisord: starts the keepers given as JSON lists of arguments, then sleeps
SUPERVISOR = ["python3", "-c", "import json, subprocess, sys, time\n"
              "for argv in sys.argv[1:]: subprocess.Popen(json.loads(argv))\ntime.sleep(600)"]


def _keeper_argv(state_dir: Path, service: str, mode: str, *extra: str) -> str:
    return json.dumps([sys.executable, "-m", "bionicflow.stack.proctree", "--state-dir", str(state_dir),
                       "--service", service, "--grace", "10", *extra, "--",
                       sys.executable, str(state_dir / "service.py"), str(state_dir / service), mode])


def test_when_supervisord_dies_a_store_stops_only_after_its_clients(state_dir):
    # both keepers are told at once (their parent died); the store waits for the client's keeper to finish
    (state_dir / "logs").mkdir()
    (state_dir / "service.py").write_text(SERVICE)
    parent = subprocess.Popen([*SUPERVISOR, _keeper_argv(state_dir, "client", "stop-after-1.5"),
                               _keeper_argv(state_dir, "store", "stop-after-0", "--stop-after", "client")],
                              stdout=subprocess.PIPE)
    # each service's grandchild writes its marker once the service's stop handler is in place
    wait_for(lambda: (state_dir / "client").exists() and (state_dir / "store").exists(), "both services started")
    parent.kill()
    parent.wait(timeout=10)
    parent.stdout.close()  # as supervisord's log pipes close with it
    store_stopped = float(wait_for(lambda: _read(state_dir / "store.stopped"), "the store stopped"))
    client_stopped = float(_read(state_dir / "client.stopped") or "inf")
    assert store_stopped >= client_stopped, "the store stopped before its client"
    assert "stopping now that client have stopped" in (state_dir / "logs" / "store.log").read_text()


def test_output_after_supervisords_pipe_broke_goes_to_the_log_file(state_dir):
    (state_dir / "logs").mkdir()
    read, write = os.pipe()
    tree = Tree(state_dir, mode="stop-after-0", stdout=write)
    os.close(write)
    os.close(read)  # supervisord died: nobody reads its pipe any more
    tree.process.send_signal(signal.SIGTERM)
    assert tree.process.wait(timeout=30) == 0
    tree.stopped_at()
    log = (state_dir / "logs" / "svc.log").read_text()
    assert "stopping cleanly" in log and "main process" in log, log


def test_keeper_killed_9_leaves_an_orphan_that_is_named_and_swept_by_the_next_keeper(state_dir):
    first = Tree(state_dir)
    keeper = first.keeper_pid()
    os.kill(keeper, signal.SIGKILL)
    first.process.wait(timeout=10)
    wait_for(lambda: gone(first.main), "the main process died with its keeper")
    orphans = {p.pid: p.service for p in proctree.unsupervised(state_dir, supervisor_pid=None, exclude=set())}
    assert orphans == {first.grandchild: "svc"}, orphans
    second = Tree(state_dir)  # what supervisord does next: start the service again
    wait_for(lambda: gone(first.grandchild), "the next keeper stopped the leftover")
    assert not gone(second.grandchild)
    assert {p.pid for p in proctree.unsupervised(state_dir, supervisor_pid=None, exclude=set())} == {
        second.process.pid, second.main, second.grandchild}  # here no supervisord owns the keeper


def test_untagged_processes_are_recognised_by_their_working_directory(state_dir, tmp_path_factory):
    inside, outside = state_dir / "airflow", tmp_path_factory.mktemp("elsewhere")
    inside.mkdir()
    env = {k: v for k, v in os.environ.items() if k != proctree.TAG_VARIABLE}
    sleepers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], cwd=cwd, env=env)
                for cwd in (inside, outside)]
    try:
        found = {p.pid: p.service for p in proctree.stack_processes(state_dir, exclude=set())}
        assert found == {sleepers[0].pid: None}
    finally:
        for s in sleepers:
            s.kill()
            s.wait()


def test_a_sibling_state_directory_whose_name_starts_the_same_is_another_stack(state_dir, tmp_path_factory):
    # a second stack in `<state dir>-faults`: its untagged processes name their paths on the command line
    sibling = state_dir.parent / f"{state_dir.name}-faults"
    sibling.mkdir()
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    env = {k: v for k, v in os.environ.items() if k != proctree.TAG_VARIABLE}
    sleepers = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", str(path / "pg" / "data")],
                                 cwd=elsewhere, env=env)
                for path in (state_dir, sibling)]
    try:
        wait_for(lambda: all((psutil.Process(s.pid).cmdline() or [""])[-1].endswith("data") for s in sleepers),
                 "sleepers started")  # an empty command line until the new program runs
        found = {p.pid for p in proctree.stack_processes(state_dir, exclude=set())}
        assert found == {sleepers[0].pid}, "the sibling stack's process was taken for this stack's"
        assert {p.pid for p in proctree.stack_processes(sibling, exclude=set())} == {sleepers[1].pid}
    finally:
        for s in sleepers:
            s.kill()
            s.wait()
