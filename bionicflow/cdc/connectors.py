"""Debezium connectors: their JSON files, and the Kafka Connect REST calls that manage them."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from bionicflow.kernel.config import Settings, project_root
from bionicflow.kernel.errors import BionicflowError

log = logging.getLogger("bionicflow.cdc.connectors")

CONNECTOR_FILES = (
    project_root() / "debezium" / "crm-connector-config.json",
    project_root() / "debezium" / "telemetry-connector-config.json",
)
TIMEOUT = 10


class ConnectError(BionicflowError):
    """Kafka Connect answered with an error (the message carries its status and body)."""


class ConnectRebalancing(ConnectError):
    """The worker group is rebalancing (409, or 500 "rebalance is expected"); the call is retried."""


REBALANCE_RETRY_SECONDS = 60


def _is_rebalancing(response: requests.Response) -> bool:
    # Connect answers 409 while a rebalance runs and 500 just after a config write, until the
    # group has re-joined; both clear on their own within seconds.
    return response.status_code == 409 or (response.status_code == 500 and "rebalance" in response.text)


@dataclass(frozen=True)
class ConnectorSpec:
    name: str
    config: dict[str, str]
    slot: str
    database_port_var: str


def load_connectors(files: tuple[Path, ...] = CONNECTOR_FILES) -> list[ConnectorSpec]:
    specs = []
    for path in files:
        doc = json.loads(path.read_text())
        config = doc["config"]
        specs.append(ConnectorSpec(
            name=doc["name"], config=config, slot=config["slot.name"],
            database_port_var=config["database.port"].removeprefix("${env:").removesuffix("}"),
        ))
    return specs


def connector_env(settings: Settings) -> dict[str, str]:
    """What the connector JSON's ${env:...} placeholders resolve to in the Connect worker."""
    return {
        "CRM_DB_HOST": settings.host,
        "CRM_DB_PORT": str(settings.crm_db_port),
        "TELEMETRY_DB_HOST": settings.host,
        "TELEMETRY_DB_PORT": str(settings.telemetry_db_port),
        "DEBEZIUM_USER": settings.debezium_user,
        "DEBEZIUM_PASSWORD": settings.debezium_password.get_secret_value(),
    }


class KafkaConnectClient:
    """The Connect REST API; every call has a timeout, errors keep the server's message."""

    def __init__(self, base_url: str, session: requests.Session | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session or requests.Session()

    @retry(retry=retry_if_exception_type(ConnectRebalancing), stop=stop_after_delay(REBALANCE_RETRY_SECONDS),
           wait=wait_exponential(multiplier=0.25, max=4), reraise=True)
    def _call(self, method: str, path: str, ok: tuple[int, ...] = (), **kw) -> requests.Response:
        response = self.session.request(method, f"{self.base_url}{path}", timeout=TIMEOUT, **kw)
        if response.status_code in ok:
            return response
        if _is_rebalancing(response):
            log.info("Kafka Connect %s %s: worker group rebalancing, retrying", method, path)
            raise ConnectRebalancing(f"Kafka Connect {method} {path} kept answering {response.status_code} "
                                     f"for {REBALANCE_RETRY_SECONDS}s: {response.text[:300]}")
        if response.status_code >= 400:
            log.error("Kafka Connect %s %s -> %s: %s", method, path, response.status_code, response.text[:2000])
            raise ConnectError(
                f"Kafka Connect {method} {path} failed with {response.status_code}: {response.text[:300]}")
        return response

    def upsert(self, spec: ConnectorSpec) -> bool:
        """Create the connector or update its config; True when something changed."""
        current = self.config(spec.name)
        wanted = {**spec.config, "name": spec.name}
        if current == wanted:
            return False
        self._call("PUT", f"/connectors/{spec.name}/config", json=spec.config)
        return True

    def create_fresh(self, spec: ConnectorSpec, timeout: float = 60) -> None:
        """Create the connector with no offsets, whatever an earlier connector of that name left.

        Kafka Connect keeps a deleted connector's offsets: one created again under its name would
        resume from a position its new replication slot no longer has, and fail. So it is created
        stopped, its offsets are removed (KIP-875), then it is started.
        """
        self._call("POST", "/connectors", json={"name": spec.name, "config": spec.config, "initial_state": "STOPPED"})
        deadline = time.monotonic() + timeout
        while (self.statuses().get(spec.name) or {}).get("state") != "STOPPED":
            if time.monotonic() > deadline:
                raise ConnectError(f"connector {spec.name} not STOPPED {timeout:.0f}s after its creation")
            time.sleep(0.5)  # polling interval; the loop condition decides
        self._call("DELETE", f"/connectors/{spec.name}/offsets")
        self.resume(spec.name)

    def delete(self, name: str) -> None:
        """Remove the connector (its replication slot stays in the source until dropped there)."""
        self._call("DELETE", f"/connectors/{name}", ok=(404,))

    def config(self, name: str) -> dict | None:
        response = self._call("GET", f"/connectors/{name}/config", ok=(404,))
        return None if response.status_code == 404 else response.json()

    def statuses(self) -> dict[str, dict]:
        """Every connector's state and its tasks' states."""
        doc = self._call("GET", "/connectors", params={"expand": "status"}).json()
        result = {}
        for name, entry in doc.items():
            status = entry.get("status", {})
            result[name] = {
                "state": status.get("connector", {}).get("state"),
                "tasks": [{"id": t.get("id"), "state": t.get("state"), "trace": trace_summary(t.get("trace") or "")}
                          for t in status.get("tasks", [])],
            }
        return result

    def restart_failed(self, name: str) -> None:
        self._call("POST", f"/connectors/{name}/restart", params={"includeTasks": "true", "onlyFailed": "true"})

    def pause(self, name: str) -> None:
        """Stop streaming (the slot keeps what the connector has not read); `resume` goes on from there."""
        self._call("PUT", f"/connectors/{name}/pause")

    def resume(self, name: str) -> None:
        self._call("PUT", f"/connectors/{name}/resume")

    def wait_running(self, names: list[str], timeout: float = 120) -> dict[str, dict]:
        """Poll until every connector and all its tasks are RUNNING; fail with their states."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                states = self.statuses()
            except (requests.RequestException, ConnectError) as exc:  # a worker still starting
                states = {"_unreachable": {"state": str(exc)[:200], "tasks": []}}
            if all(_running(states.get(n)) for n in names):
                return states
            failed = {n: s for n, s in states.items() if n in names and _failed(s)}
            if failed or time.monotonic() > deadline:
                raise ConnectError(
                    f"connectors not RUNNING after {time.monotonic() - deadline + timeout:.0f}s: "
                    + json.dumps({n: states.get(n) for n in names})[:1500]
                )
            time.sleep(1)


def trace_summary(trace: str, limit: int = 1000) -> str:
    """A Java stack trace cut to what an operator needs: the exception and each "Caused by" line."""
    lines = [line.strip() for line in trace.splitlines()]
    kept = [line for n, line in enumerate(lines) if n == 0 or line.startswith("Caused by:")]
    return "\n".join(kept)[:limit]


def _running(status: dict | None) -> bool:
    return bool(status and status["state"] == "RUNNING" and status["tasks"]
                and all(t["state"] == "RUNNING" for t in status["tasks"]))


def _failed(status: dict) -> bool:
    return status["state"] == "FAILED" or any(t["state"] == "FAILED" for t in status["tasks"])
