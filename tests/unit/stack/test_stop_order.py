"""`down` stops clients before what they talk to: no service waits for a broker or a database already gone."""

from __future__ import annotations

from bionicflow.kernel.config import Settings
from bionicflow.stack.services import DATA_STORES, build_services, stop_order


def test_every_service_stops_once_and_clients_before_what_they_need(tmp_path):
    services = build_services(Settings(state_dir=tmp_path), env={})
    groups = stop_order(services)
    flat = [name for group in groups for name in group]
    assert sorted(flat) == sorted(services), "every service in exactly one group"
    position = {name: i for i, group in enumerate(groups) for name in group}
    for name, service in services.items():
        for needed in service.depends_on:
            assert position[name] < position[needed], f"{name} must stop before {needed}, which it needs"
    assert position["kafka_connect"] < position["kafka"] and position["cdc_consumer"] < position["olap"]
    assert all(position[store] == len(groups) - 1 for store in DATA_STORES), "the stores stop last"
