"""The OLAP server's process confined by the operating system, not only by our statement checker.

chdb has no users or grants of its own: `file()` reads any path the process may read and
`url()` reaches any host. Whatever a read-only user slips past the checker (access.py) must
then find nothing to read, nowhere to write and no one to call. Two layers, both applied
before the engine is imported (chdb starts its threads at import, and Landlock binds only the
thread that applies it and the threads it starts afterwards):

* **its own unprivileged OS user** (``olap_os_user``), owning the OLAP data directory only —
  as the stack runs PostgreSQL. The process becomes non-dumpable, so not even its own
  ``/proc/self/environ`` is readable. Where that user cannot reach the Python installation
  (a pyenv under /root), the server stays uid 0 with every capability dropped and says so.
* **Landlock** (Linux 5.13+; network rules 6.7+): reads only of the interpreter, the package,
  system libraries and a few files of /etc, writes only under the OLAP directory; TCP
  ``bind`` to its own port only and ``connect`` only to the PostgreSQL sources (the batch
  road's ``postgresql()``); no signals to other processes.

Landlock is called through ctypes here: the one Python package for it (``landlock`` 1.0.0.dev5)
has no network rules. Settings: ``olap_sandbox`` (auto | required | off), ``olap_os_user``,
``olap_connect_ports`` (docs/olap-server.md, "Threat model").
"""

from __future__ import annotations

import ctypes
import logging
import os
import pwd
import sys
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("bionicflow.olap.confine")

_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446  # x86_64 and aarch64 alike
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH, _RULE_NET_PORT = 1, 2
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAPBSET_DROP = 24
# Filesystem rights by the ABI version that brought them.
_FS_V1 = (1 << 13) - 1  # execute … make_sym
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1, 2, 4, 8
_READ = _EXECUTE | _READ_FILE | _READ_DIR
_NET_BIND_TCP, _NET_CONNECT_TCP = 1, 2
_SCOPE_ABSTRACT_UNIX, _SCOPE_SIGNAL = 1, 2
# /proc/self file by file: not environ, not mem. /etc file by file: /etc/shadow and friends are not among these.
_ETC_FILES = ("localtime", "timezone", "hosts", "resolv.conf", "nsswitch.conf", "ld.so.cache", "ssl",
              "ca-certificates", "gai.conf", "host.conf", "mime.types")
_SYSTEM_READ = ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/sys/devices/system/cpu", "/sys/fs/cgroup",
                *(f"/proc/self/{name}" for name in ("stat", "statm", "status", "cgroup", "mountinfo", "limits",
                                                    "task", "fd", "maps", "smaps_rollup", "io")),
                "/proc/meminfo", "/proc/cpuinfo", "/proc/stat", "/proc/loadavg", "/proc/sys/kernel",
                "/proc/sys/vm", "/proc/pressure")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/urandom", "/dev/random")


class SandboxError(RuntimeError):
    """The confinement asked for (olap_sandbox=required) cannot be applied here."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPort(ctypes.Structure):
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is not available."""
    version = _libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


@dataclass
class Policy:
    """What the confined process may read, write, bind and connect to."""

    read: list[Path] = field(default_factory=list)
    write: list[Path] = field(default_factory=list)
    bind_ports: list[int] = field(default_factory=list)
    connect_ports: list[int] = field(default_factory=list)


@dataclass
class Report:
    """Which layers hold, for the log and the tests."""

    user: str
    landlock_abi: int
    filesystem: bool = False
    network: bool = False
    notes: list[str] = field(default_factory=list)


def apply_landlock(policy: Policy, abi: int) -> tuple[bool, bool]:
    """Restrict this thread and every thread it starts to ``policy``; returns (filesystem, network) applied."""
    if abi < 1:
        return False, False
    fs = _FS_V1 | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0) | (_IOCTL_DEV if abi >= 5 else 0)
    net = _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0
    scoped = _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if abi >= 6 else 0
    attr = _RulesetAttr(fs, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24  # the struct as this kernel knows it
    ruleset = _check(_libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0)),
                     "landlock_create_ruleset")
    try:
        file_rights = _EXECUTE | _WRITE_FILE | _READ_FILE | (_TRUNCATE if abi >= 3 else 0)
        for path in policy.read:
            _add_path(ruleset, path, _READ & (_READ if path.is_dir() else file_rights))
        for path in policy.write:
            _add_path(ruleset, path, fs if path.is_dir() else fs & (file_rights | _IOCTL_DEV))
        if net:
            for port in policy.bind_ports:
                _add_port(ruleset, port, _NET_BIND_TCP)
            for port in policy.connect_ports:
                _add_port(ruleset, port, _NET_CONNECT_TCP)
        _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(_libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return True, bool(net)


def _add_path(ruleset: int, path: Path, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return  # /lib32 and the like: absent here, nothing to allow
    try:
        rule = _PathBeneath(rights, fd)
        _check(_libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                             ctypes.byref(rule), ctypes.c_uint32(0)), f"landlock_add_rule({path})")
    finally:
        os.close(fd)


def _add_port(ruleset: int, port: int, rights: int) -> None:
    rule = _NetPort(rights, port)
    _check(_libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_NET_PORT), ctypes.byref(rule),
                         ctypes.c_uint32(0)), f"landlock_add_rule(port {port})")


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return int(result)


def interpreter_paths() -> list[Path]:
    """Where this interpreter, its libraries and the bionicflow package are read from."""
    import bionicflow

    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(bionicflow.__file__).parent,
             Path(sys.executable).resolve().parent.parent}
    paths |= {Path(p) for p in sys.path if p and Path(p).is_dir() and not Path(p).samefile(Path.cwd())}
    return sorted(paths)


def reachable_by(uid: int, gid: int, paths: list[Path]) -> Path | None:
    """The first of ``paths`` (or a folder above one) that ``uid`` cannot pass through; None: all reachable."""
    import stat

    for path in paths:
        for folder in [path, *path.parents]:
            st = folder.stat()
            if st.st_uid == uid:
                allowed = st.st_mode & stat.S_IXUSR
            elif st.st_gid == gid:
                allowed = st.st_mode & stat.S_IXGRP
            else:
                allowed = st.st_mode & stat.S_IXOTH
            if not allowed:
                return folder
    return None


def policy_for(olap_dir: Path, port: int, connect_ports: list[int]) -> Policy:
    read = [*interpreter_paths(), *map(Path, _SYSTEM_READ), *(Path("/etc") / name for name in _ETC_FILES)]
    return Policy(read=read, write=[olap_dir, *map(Path, _DEVICES)], bind_ports=[port], connect_ports=connect_ports)


def drop_to(user: str, olap_dir: Path, required: bool, report: Report) -> None:
    """Become ``user`` (owner of the OLAP directory), or stay uid 0 without capabilities when it cannot run Python."""
    try:
        entry = pwd.getpwnam(user)
        blocked: Path | str | None = reachable_by(entry.pw_uid, entry.pw_gid, [*interpreter_paths(), olap_dir])
        message = (f"the OS user {user!r} cannot pass through {blocked} to run Python or reach the OLAP data: "
                   f"chmod o+x {blocked}, or install Python where other users can read it")
    except KeyError:
        entry, blocked = None, user
        message = (f"the OS user {user!r} that runs the OLAP server does not exist: create it "
                   f"(useradd --system --no-create-home --shell /usr/sbin/nologin {user}) or set "
                   "BIONICFLOW_OLAP_OS_USER")
    if blocked is not None:
        if required:
            raise SandboxError(message)
        report.notes.append(message + "; running as uid 0 without capabilities instead")
        drop_capabilities()
        return
    assert entry is not None  # nothing blocked: the user exists
    for folder, _, files in os.walk(olap_dir):
        os.chown(folder, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid, follow_symlinks=False)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)  # glibc applies it to every thread; the process becomes non-dumpable
    os.environ["HOME"] = str(olap_dir)
    report.user = user


def drop_capabilities() -> None:
    """uid 0 without any capability: file modes bind it as they bind an owner; it cannot regain them."""
    for cap in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            break  # past the last capability this kernel knows

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    data = (Data * 2)()
    _check(_libc.syscall(126, ctypes.byref(Header(0x20080522, 0)), data), "capset")  # 126: capset on x86_64


def confine(olap_dir: Path, port: int, connect_ports: list[int], user: str, mode: str) -> Report:
    """Apply every layer this machine allows (mode ``auto``), all of them or fail (``required``), or none (``off``)."""
    report = Report(user=pwd.getpwuid(os.geteuid()).pw_name, landlock_abi=landlock_abi())
    if mode == "off":
        report.notes.append("olap_sandbox=off: the engine runs unconfined")
        return report
    required = mode == "required"
    olap_dir.mkdir(parents=True, exist_ok=True)
    (olap_dir / "tmp").mkdir(exist_ok=True)
    os.environ["TMPDIR"] = str(olap_dir / "tmp")
    if os.geteuid() == 0:
        drop_to(user, olap_dir, required, report)
    report.filesystem, report.network = apply_landlock(policy_for(olap_dir, port, connect_ports), report.landlock_abi)
    if not (report.filesystem and report.network):
        message = f"Landlock ABI {report.landlock_abi} here: filesystem rules {report.filesystem}, network rules " \
                  f"{report.network} (Linux 6.7+ has both)"
        if required:
            raise SandboxError(message)
        report.notes.append(message)
    return report


def confine_from_settings() -> Report:
    """Confine the OLAP server as its settings say (read them first: the secrets become unreadable)."""
    from bionicflow.kernel.config import get_settings

    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    ports = [settings.crm_db_port, settings.telemetry_db_port, *settings.olap_connect_ports]
    try:
        report = confine(settings.state_dir / "olap", settings.olap_port, ports, settings.olap_os_user,
                         settings.olap_sandbox)
    except SandboxError as exc:
        log.error("cannot confine the OLAP server: %s", exc)
        raise SystemExit(2) from None
    log.info("OLAP server confined: user %s, Landlock ABI %s (filesystem %s, network %s)", report.user,
             report.landlock_abi, report.filesystem, report.network)
    for note in report.notes:
        log.warning("%s", note)
    return report
