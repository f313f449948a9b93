"""Clients stop before what they talk to (on `down`, and when supervisord dies): none waits for a store already gone."""

from __future__ import annotations

from bionicflow.kernel.config import Settings
from bionicflow.stack.services import DATA_STORES, build_services, stop_order, with_stop_order
from bionicflow.stack.supervisor import Supervisor


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


def test_when_supervisord_dies_each_service_lets_what_down_stops_before_it_stop_first(tmp_path):
    services = build_services(Settings(state_dir=tmp_path), env={})
    programs = {p.name: p for p in with_stop_order(services)}
    assert sorted(programs) == sorted(services)
    groups = stop_order(services)
    for i, group in enumerate(groups):
        for name in group:
            assert set(programs[name].stop_after) == {n for earlier in groups[:i] for n in earlier}, name
    # the Airflow API server outlives the scheduler (its tasks report their end through it), the stores every client
    assert "airflow_scheduler" in programs["airflow_api_server"].stop_after
    assert set(services) - DATA_STORES <= set(programs["airflow_db"].stop_after)
    # the keeper is told whom to wait for on its command line
    command = Supervisor(tmp_path).keeper_command(programs["airflow_db"])
    assert "airflow_scheduler" in command[command.index("--stop-after") + 1].split(",")
