"""A source's prerequisites: each missing one is a failing finding with its fix."""

from dataclasses import replace

import pytest

from bionicflow.kernel.source_registry import SourceAddress
from bionicflow.platform.source_checks import Facts, evaluate

READY = Facts(version_num=150004, version="15.4", wal_level="logical", superuser=False, replication=True,
              create_in_database=True, max_slots=10, used_slots=2, max_senders=10, used_senders=2)
SHOP = SourceAddress("shop", "db", 5432, "shop", "app")


def test_a_ready_source_passes_every_check():
    findings = evaluate(READY, SHOP)
    assert [f.what for f in findings] == ["server version", "wal_level", "replication", "replication slots",
                                          "WAL senders", "create in database"]
    assert all(f.ok for f in findings)


@pytest.mark.parametrize(("change", "what", "fix"), [
    ({"version_num": 120010, "version": "12.10"}, "server version", "PostgreSQL 13"),
    ({"wal_level": "replica"}, "wal_level", "wal_level = logical"),
    ({"replication": False}, "replication", 'ALTER ROLE "app" REPLICATION'),
    ({"used_slots": 10}, "replication slots", "max_replication_slots"),
    ({"used_senders": 10}, "WAL senders", "max_wal_senders"),
    ({"create_in_database": False}, "create in database", 'GRANT CREATE ON DATABASE "shop" TO "app"'),
])
def test_each_missing_prerequisite_fails_alone_and_names_its_fix(change, what, fix):
    findings = evaluate(replace(READY, **change), SHOP)
    failed = [f for f in findings if not f.ok]
    assert [f.what for f in failed] == [what]
    assert fix in failed[0].fix


def test_a_superuser_needs_no_grants():
    findings = evaluate(replace(READY, superuser=True, replication=False, create_in_database=False), SHOP)
    assert all(f.ok for f in findings)


def test_the_embedded_stacks_databases_are_not_asked_for_create():
    built_in = replace(SHOP, built_in=True)
    assert "create in database" not in {f.what for f in evaluate(replace(READY, create_in_database=False), built_in)}


def test_names_in_a_fix_are_quoted_so_pasting_it_runs_nothing_else():
    odd = SourceAddress("ev", "db", 5432, "evil; DROP ROLE x; --", "Upper")
    fix = next(f.fix for f in evaluate(replace(READY, create_in_database=False), odd) if not f.ok)
    assert fix.startswith('GRANT CREATE ON DATABASE "evil; DROP ROLE x; --" TO "Upper";')


def test_a_port_the_confined_engine_may_not_reach_fails_with_the_setting_to_change(tmp_path):
    from bionicflow.kernel.config import Settings
    from bionicflow.platform.source_checks import olap_reach

    settings = Settings(state_dir=tmp_path, olap_connect_ports=[6432])
    assert olap_reach(settings, SHOP).ok is False and "BIONICFLOW_OLAP_CONNECT_PORTS" in olap_reach(settings, SHOP).fix
    assert olap_reach(settings, replace(SHOP, port=6432)).ok
    assert olap_reach(Settings(state_dir=tmp_path, olap_sandbox="off"), SHOP).ok
