"""Project exceptions: each says what is wrong and how to fix it."""

from __future__ import annotations


class BionicflowError(Exception):
    """Base of every error the CLI reports as one line with its fix."""


class ConfigurationError(BionicflowError):
    """A setting, a program or a port is not usable; the message names the fix."""


class PortInUseError(ConfigurationError):
    def __init__(self, service: str, host: str, port: int, env_name: str):
        super().__init__(
            f"port {port} on {host} (needed by {service}) is already in use by another program; "
            f"stop that program or set {env_name} to a free port"
        )
        self.port = port
        self.env_name = env_name


class ServiceStartError(BionicflowError):
    """A service did not become healthy in time."""


class StackNotRunningError(BionicflowError):
    """The embedded stack's supervisor is not running."""
