"""Checks that run before anything starts: programs present, ports free."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

from bionicflow.kernel.config import Settings
from bionicflow.kernel.errors import ConfigurationError, PortInUseError

MIN_JAVA = 17


def find_pg_bindir(settings: Settings) -> Path:
    """The directory holding the PostgreSQL server programs (initdb, postgres)."""
    if settings.pg_bindir is not None:
        candidates = [settings.pg_bindir]
    else:
        candidates = []
        pg_config = shutil.which("pg_config")
        if pg_config:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
            if out.returncode == 0:
                candidates.append(Path(out.stdout.strip()))
        # Debian keeps server binaries out of PATH, one folder per major version.
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "postgres").is_file():
            return folder
    raise ConfigurationError(
        "PostgreSQL server binaries (initdb, postgres) not found"
        + (f" in {settings.pg_bindir}" if settings.pg_bindir else "")
        + ": install them (Debian/Ubuntu: apt-get install postgresql) or set BIONICFLOW_PG_BINDIR"
    )


def find_psql(bindir: Path) -> Path:
    for candidate in (bindir / "psql", shutil.which("psql")):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ConfigurationError("psql not found: install the PostgreSQL client (apt-get install postgresql-client)")


def find_java(settings: Settings) -> Path:
    """A java executable of version 17 or newer."""
    home = settings.java_home or (Path(os.environ["JAVA_HOME"]) if os.environ.get("JAVA_HOME") else None)
    java = (home / "bin" / "java") if home else (Path(p) if (p := shutil.which("java")) else None)
    fix = "install a JDK 17+ (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless) or set BIONICFLOW_JAVA_HOME"
    if java is None or not java.is_file():
        raise ConfigurationError(f"java not found{f' at {java}' if java else ' on PATH'}: {fix}")
    out = subprocess.run([str(java), "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)', out.stderr + out.stdout)
    if not match or int(match.group(1)) < MIN_JAVA:
        raise ConfigurationError(f"{java} is not Java {MIN_JAVA}+ ({(out.stderr or out.stdout).strip()[:80]}): {fix}")
    return java


def find_mvn(settings: Settings) -> Path:
    mvn = shutil.which(settings.mvn)
    if not mvn:
        raise ConfigurationError(
            f"Maven ({settings.mvn}) not found; it fetches the Kafka and Debezium jars once: "
            "install it (Debian/Ubuntu: apt-get install maven) or set BIONICFLOW_MVN"
        )
    return Path(mvn)


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def check_port(settings: Settings, service: str, field: str) -> None:
    port = getattr(settings, field)
    if not port_is_free(settings.host, port):
        raise PortInUseError(service, settings.host, port, settings.port_env_name(field), port_holder(port))


def port_holder(port: int) -> str | None:
    """"pid N (command)" of the process listening on ``port``, when this user may see it."""
    import psutil

    try:
        listening = [c for c in psutil.net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    except psutil.AccessDenied:
        return None
    for conn in listening:
        if conn.laddr and conn.laddr.port == port and conn.pid:
            try:
                command = " ".join(psutil.Process(conn.pid).cmdline())[:100]
            except psutil.Error:
                command = "?"
            return f"pid {conn.pid} ({command})"
    return None


def check_reachable_by(path: Path, user: str) -> None:
    """Every folder above ``path`` must let ``user`` pass (PostgreSQL runs as that user)."""
    import pwd
    import stat

    try:
        uid = pwd.getpwnam(user).pw_uid
    except KeyError:
        return  # reported by the PostgreSQL step with its own fix
    for folder in [path, *path.parents]:
        if not folder.exists():
            continue
        st = folder.stat()
        if st.st_uid != uid and not st.st_mode & stat.S_IXOTH:
            raise ConfigurationError(
                f"{folder} is not reachable by the {user!r} OS user that runs PostgreSQL (mode "
                f"{stat.filemode(st.st_mode)}): chmod o+x {folder}, "
                "or set BIONICFLOW_STATE_DIR to a folder it can reach"
            )
