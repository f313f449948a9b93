"""The initial load "olap": snapshot modes, which tables a connector feeds, and why a copy is exact."""

import dataclasses

import chdb
import pytest

from bionicflow.cdc import ddl, initial_load
from bionicflow.cdc.install import register
from bionicflow.cdc.connectors import load_connectors
from bionicflow.kernel import tables
from bionicflow.kernel.sources import PgSource, source_params
from tests.support.chdb_engine import engine, insert_changes

SPECS = {spec.name: spec for spec in load_connectors()}
ROW = {"id": 1, "user_uuid": "u1", "name": "copied", "email": "e", "age": 30, "gender": "f", "country": "DE",
       "address": "", "phone": None, "registered_at": 1_700_000_000_000_000}


class FakeConnect:
    """Kafka Connect's config store: `config` and `upsert` as KafkaConnectClient has them."""

    def __init__(self, existing: dict[str, dict]):
        self.configs = dict(existing)

    def config(self, name):
        return self.configs.get(name)

    def upsert(self, spec):
        changed = self.configs.get(spec.name) != spec.config
        self.configs[spec.name] = spec.config
        return changed


def test_a_new_connector_takes_the_chosen_mode():
    spec = SPECS["crm-connector"]
    assert spec.config["snapshot.mode"] == "initial"  # the brief's default in the JSON file
    assert initial_load.snapshot_mode(spec, None, "olap") == "no_data"
    assert initial_load.snapshot_mode(spec, None, "debezium") == "initial"


@pytest.mark.parametrize("existing, asked", [("no_data", "debezium"), ("initial", "olap")])
def test_an_existing_connector_keeps_its_mode(existing, asked):
    spec = SPECS["telemetry-connector"]
    current = {**spec.config, "snapshot.mode": existing}
    assert initial_load.snapshot_mode(spec, current, asked) == existing


def test_an_unknown_initial_load_names_the_choices():
    with pytest.raises(initial_load.InitialLoadError, match="'debezium'.*'olap'"):
        initial_load.snapshot_mode(SPECS["crm-connector"], None, "fast")
    with pytest.raises(initial_load.InitialLoadError):
        register(FakeConnect({}), "fast")


def test_register_creates_no_data_connectors_and_leaves_existing_ones_alone():
    crm = SPECS["crm-connector"]
    connect = FakeConnect({crm.name: {**crm.config, "snapshot.mode": "initial"}})
    changed = register(connect, "olap")
    assert changed == ["telemetry-connector"]
    assert connect.configs["telemetry-connector"]["snapshot.mode"] == "no_data"
    assert connect.configs["crm-connector"]["snapshot.mode"] == "initial"
    assert register(connect, "olap") == []  # idempotent


def test_each_connector_feeds_its_own_tables():
    assert [t.name for t in initial_load.connector_tables(SPECS["crm-connector"])] == ["users"]
    assert [t.name for t in initial_load.connector_tables(SPECS["telemetry-connector"])] == ["telemetry_events"]
    other = dataclasses.replace(SPECS["crm-connector"], config={**SPECS["crm-connector"].config, "topic.prefix": "x"})
    assert initial_load.connector_tables(other) == []


@pytest.mark.parametrize("table", tables.TABLES, ids=lambda t: t.name)
def test_the_copy_statement_parses_and_writes_every_target_column(table):
    sql = initial_load.copy_sql(table)
    params = source_params(table, PgSource("h", 1, "db", "reader", "secret"))
    chdb.connect(":memory:").query(f"EXPLAIN AST {sql}", params=params)  # raises on a syntax error
    target_columns = [c.name for c in table.columns] + [name for name, _ in ddl.META_COLUMNS if name != "_ingested_at"]
    assert sql.splitlines()[0] == f"INSERT INTO debezium.{table.name} ({', '.join(target_columns)})"
    assert "{password:String}" in sql and "password" not in sql.replace("{password:String}", "")


def test_every_streamed_change_outranks_a_copied_row(tmp_path):
    """Copied rows are version 0; a change at topic offset 0 is version 1 and wins under FINAL,
    even a delete and even when the copy already saw the change."""
    conn = engine(tmp_path)
    copied = [dict(ROW, id=i, name=f"copied {i}") for i in (1, 2, 3)]
    values = ", ".join(f"({r['id']}, '{r['user_uuid']}', '{r['name']}', 'e', 'r', 0, 0, 0)" for r in copied)
    conn.query("INSERT INTO debezium.users (user_id, user_uuid, name, email, _op, _lsn, _version, is_deleted) "
               f"VALUES {values}")
    insert_changes(conn, tables.USERS, [("u", copied[0], dict(copied[0], name="streamed")),
                                        ("d", copied[1], None),
                                        ("c", None, copied[2])])  # inserted after the slot, seen by the copy too
    final = conn.query("SELECT user_id, name, _op, _version FROM debezium.users FINAL ORDER BY user_id", "CSV")
    assert final.bytes().decode().splitlines() == ['1,"streamed","u",1', '3,"copied 3","c",3']
