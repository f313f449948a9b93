"""The OS layer alone: a reader past the statement checker (switched off in a test build) still
finds nothing to read, nowhere to write and no one to call (issue "guard", item 3)."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest
import requests

from bionicflow.kernel.config import Settings
from bionicflow.olap.confine import interpreter_paths, reachable_by
from tests.support.olap_private import ADMIN, READER, private_root, start_private_olap, stop_private_olap

UNGUARDED = str(Path(__file__).parents[1] / "support" / "olap_unguarded.py")


@pytest.fixture(scope="module")
def unguarded():
    server = start_private_olap(private_root("unguarded"), module=UNGUARDED)
    yield server
    stop_private_olap(server)


def test_the_checker_is_really_off_in_this_build(unguarded):
    response = unguarded.query("SELECT s FROM ops.secret", auth=READER)
    assert response.status_code == 200 and unguarded.leaked(response.text)  # the OS layer cannot guard a table


@pytest.mark.parametrize("auth", [READER, ADMIN])
@pytest.mark.parametrize("target", ["secret", "outside", "/proc/self/environ", "/proc/1/environ", "/etc/shadow",
                                    "home"])
def test_files_outside_the_olap_directory_cannot_be_read(unguarded, auth, target):
    home = Path.home() / ".bionicflow-home-canary"  # a file in the home of the user who runs the tests
    home.write_text("canary-7f3c1b\n")
    path = {"secret": unguarded.canary_file, "outside": unguarded.root / "outside.txt", "home": home}.get(target, target)
    try:
        response = unguarded.query(f"SELECT * FROM file('{path}', 'RawBLOB')", auth=auth)
    finally:
        home.unlink(missing_ok=True)
    assert response.status_code != 200 and not unguarded.leaked(response.text)
    assert "BIONICFLOW" not in response.text and "root:" not in response.text


@pytest.mark.parametrize("auth", [READER, ADMIN])
def test_no_file_can_be_written_outside_the_olap_directory(unguarded, auth):
    target = unguarded.root / f"written-{auth[0]}.txt"
    response = unguarded.query(f"SELECT 1 INTO OUTFILE '{target}'", auth=auth)
    assert response.status_code != 200 and not target.exists()


@pytest.mark.parametrize("auth", [READER, ADMIN])
def test_no_connection_leaves_the_engine(unguarded, auth):
    before = unguarded.listener.connections
    try:  # the engine retries a refused connect until the query's time runs out: the client stops waiting first
        response = unguarded.query(f"SELECT * FROM url('http://127.0.0.1:{unguarded.listener.port}/x', 'RawBLOB')",
                                   auth=auth, params={"max_execution_time": "2"}, timeout=4)
        assert response.status_code != 200
    except requests.Timeout:
        pass
    assert unguarded.listener.connections == before, "the engine connected to the canary listener"


def test_the_engine_runs_as_its_own_user_or_else_without_any_capability(unguarded):
    status = Path(f"/proc/{unguarded.proc.pid}/status").read_text()
    field = {line.split(":")[0]: line.split(":")[1].split() for line in status.splitlines() if ":" in line}
    assert field["NoNewPrivs"] == ["1"] and field["Seccomp"] is not None
    try:
        entry = pwd.getpwnam(Settings().olap_os_user)
    except KeyError:
        entry = None
    reachable = entry is not None and reachable_by(entry.pw_uid, entry.pw_gid, interpreter_paths()) is None
    if os.geteuid() == 0 and reachable:
        assert field["Uid"] == [str(entry.pw_uid)] * 4
        data = unguarded.root / "state" / "olap" / "data"
        assert data.stat().st_uid == entry.pw_uid
    else:  # the fallback the server's log names, with its fix
        assert int(field["CapEff"][0], 16) == 0 and int(field["CapPrm"][0], 16) == 0
