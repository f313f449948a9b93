"""Project exceptions: each says what is wrong and how to fix it."""

from __future__ import annotations


class BionicflowError(Exception):
    """Base of every error the CLI reports as one line with its fix."""


class ConfigurationError(BionicflowError):
    """A setting, a program or a port is not usable; the message names the fix."""


class PortInUseError(ConfigurationError):
    def __init__(self, service: str, host: str, port: int, env_name: str, holder: str | None = None):
        super().__init__(
            f"port {port} on {host} (needed by {service}) is already in use by "
            f"{holder or 'another program'}; stop that program or set {env_name} to a free port"
        )
        self.port = port
        self.env_name = env_name


class OrphanProcessesError(ConfigurationError):
    """Processes of this stack that no supervisor owns (left by a crash or an older version)."""

    def __init__(self, processes: list):
        listed = "\n  ".join(p.describe() for p in processes)
        super().__init__(
            f"{len(processes)} process(es) of this stack's state directory are running without a supervisor "
            f"(left over from an earlier run or a crash):\n  {listed}\n"
            "stop them with `bionicflow down --force` (or kill the pids above), then start again"
        )
        self.processes = processes


class ServiceStartError(BionicflowError):
    """A service did not become healthy in time."""


class StackNotRunningError(BionicflowError):
    """The embedded stack's supervisor is not running."""


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type when it has none), for an error naming its cause."""
    return ((str(exc).strip().splitlines() or [type(exc).__name__])[0])[:limit]

