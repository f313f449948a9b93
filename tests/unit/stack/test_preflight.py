import os
import socket
import stat
from pathlib import Path

import pytest

from bionicflow.kernel.config import Settings
from bionicflow.kernel.errors import ConfigurationError, PortInUseError
from bionicflow.stack.preflight import check_port, check_reachable_by, find_java, find_pg_bindir, port_is_free


def _fake_program(path, body="#!/bin/sh\nexit 0\n"):
    path.write_text(body)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_configured_pg_bindir_is_used_when_it_holds_the_server(tmp_path):
    _fake_program(tmp_path / "initdb")
    _fake_program(tmp_path / "postgres")
    assert find_pg_bindir(Settings(pg_bindir=tmp_path)) == tmp_path


def test_missing_pg_binaries_name_the_package_and_the_variable(tmp_path):
    with pytest.raises(ConfigurationError) as info:
        find_pg_bindir(Settings(pg_bindir=tmp_path))
    assert "apt-get install postgresql" in str(info.value)
    assert "BIONICFLOW_PG_BINDIR" in str(info.value)


def test_missing_java_names_the_fix(tmp_path):
    with pytest.raises(ConfigurationError) as info:
        find_java(Settings(java_home=tmp_path))
    assert "BIONICFLOW_JAVA_HOME" in str(info.value) and "openjdk-17" in str(info.value)


def test_old_java_is_refused(tmp_path):
    (tmp_path / "bin").mkdir()
    _fake_program(tmp_path / "bin" / "java", '#!/bin/sh\necho \'openjdk version "11.0.2"\' >&2\n')
    with pytest.raises(ConfigurationError, match="not Java 17"):
        find_java(Settings(java_home=tmp_path))


def test_taken_port_names_the_port_and_the_variable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        with pytest.raises(PortInUseError) as info:
            check_port(Settings(olap_port=port), "olap", "olap_port")
    assert str(port) in str(info.value) and "BIONICFLOW_OLAP_PORT" in str(info.value)
    assert port_is_free("127.0.0.1", port)


@pytest.mark.skipif(os.geteuid() != 0, reason="the check applies when the launcher runs as root")
def test_state_dir_under_a_private_folder_is_reported_with_the_fix():
    import tempfile

    with tempfile.TemporaryDirectory() as base:  # in /tmp: every folder above it is traversable
        os.chmod(base, 0o755)
        private = Path(base) / "private"
        (private / "state").mkdir(parents=True)
        private.chmod(0o700)
        with pytest.raises(ConfigurationError) as info:
            check_reachable_by(private / "state" / "pg", "postgres")
        assert f"chmod o+x {private}" in str(info.value) and "BIONICFLOW_STATE_DIR" in str(info.value)
        private.chmod(0o755)
        check_reachable_by(private / "state" / "pg", "postgres")
