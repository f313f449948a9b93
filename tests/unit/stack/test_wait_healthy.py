"""`up` and `start` wait for what `status` calls healthy: the health check and supervisord's RUNNING."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from bionicflow.kernel.errors import ServiceStartError
from bionicflow.stack import launcher
from bionicflow.stack.services import Service


class FakeSupervisor:
    """Reports the given supervisord states in turn, then the last one for ever."""

    def __init__(self, *states: str):
        self.sequence, self.asked, self.logs = list(states), 0, Path("/state/logs")

    def states(self) -> dict:
        self.asked += 1
        state = self.sequence.pop(0) if len(self.sequence) > 1 else self.sequence[0]
        return {"olap": SimpleNamespace(state=state, pid=1)}


def service(healthy: bool = True, timeout: float = 5.0) -> Service:
    return Service(name="olap", port_field=None, depends_on=(), program=lambda: None, healthy=lambda: healthy,
                   start_timeout=timeout)


@pytest.fixture(autouse=True)
def _no_pause(monkeypatch):
    monkeypatch.setattr(launcher, "POLL_SECONDS", 0.0)


def test_an_answering_service_is_awaited_until_supervisord_says_running():
    supervisor = FakeSupervisor("STARTING", "STARTING", "RUNNING")
    launcher._wait_healthy(service(), supervisor)
    assert supervisor.asked == 3


def test_a_service_that_exits_fails_at_once_naming_its_log():
    with pytest.raises(ServiceStartError, match=r"olap exited \(FATAL\); see /state/logs/olap.log"):
        launcher._wait_healthy(service(healthy=False), FakeSupervisor("STARTING", "FATAL"))


def test_running_but_never_healthy_times_out_with_the_state():
    with pytest.raises(ServiceStartError, match=r"not healthy after 0s \(supervisord: RUNNING\)"):
        launcher._wait_healthy(service(healthy=False, timeout=0.05), FakeSupervisor("RUNNING"))
