"""The README's exit codes, as a user meets them without a running stack: errors exit 2 and say what to do."""

import socket
import subprocess
import sys

import pytest

from bionicflow.kernel.config import project_root


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # free once the socket closes: nothing listens there


def _cli(*args: str, tmp_path) -> subprocess.CompletedProcess:
    port = str(_closed_port())
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "BIONICFLOW_STATE_DIR": str(tmp_path / "state"),
           "BIONICFLOW_OLAP_PORT": port, "BIONICFLOW_SOURCE_SHOP_PASSWORD": "pw"}
    return subprocess.run([sys.executable, "-m", "bionicflow.cli", *args], cwd=project_root(), env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "says"), [
    (("sources", "list"), "does not answer"),
    (("sources", "add", "Shop", "--url", "postgresql://u@h/db"), "lower-case letters"),
    (("sources", "add", "shop", "--url", "postgresql://u:secret@h/db"), "carries a password"),
    (("tables", "describe", "shop"), "SOURCE.SCHEMA.TABLE"),
    (("logs", "nope"), "no log for 'nope'"),
])
def test_what_cannot_run_exits_2_with_what_to_do(tmp_path, args, says):
    result = _cli(*args, tmp_path=tmp_path)
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    assert says in result.stderr and "Traceback" not in result.stderr
