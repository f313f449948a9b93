"""An added source's connector: every type sent exactly, its tables only, and no password in its configuration."""

from pathlib import Path

import pytest

from bionicflow.cdc.source_connectors import EXACT_TYPE_OPTIONS, publication_ddl, source_connector, topic
from bionicflow.kernel.source_registry import SourceAddress
from bionicflow.kernel.tables import Column, Table

SHOP = SourceAddress("shop", "db.internal", 6432, "shop", "bionicflow")


def _table(name: str, schema: str = "public", database: str = "shop") -> Table:
    return Table(name=f"shop_{name}", source_database=database, source_table=name, source_schema=schema, key="id",
                 business_time="", columns=(Column("id", "Int64", "id", "int"),), topic="", consumer_group="",
                 sort_prefix=())


def test_the_connector_streams_the_copied_tables_with_the_exact_type_options():
    spec = source_connector(SHOP, [_table("orders"), _table("Lines", schema="sales")], Path("/s/shop.properties"))
    assert spec.name == "shop-connector" and spec.slot == "bionicflow_shop"
    # and Debezium's signal table, through which backfills ask for incremental snapshots
    assert spec.config["table.include.list"] == "public.orders,sales.Lines,bionicflow.debezium_signal"
    assert spec.config["signal.data.collection"] == "bionicflow.debezium_signal"
    assert {k: spec.config[k] for k in EXACT_TYPE_OPTIONS} == EXACT_TYPE_OPTIONS
    assert spec.config["database.password"] == "${file:/s/shop.properties:password}"
    # where Connect has the source's variable in its environment instead (connect_secrets=env: compose)
    from_env = source_connector(SHOP, [_table("orders")], None)
    assert from_env.config["database.password"] == "${env:BIONICFLOW_SOURCE_SHOP_PASSWORD}"
    assert spec.config["publication.autocreate.mode"] == "disabled"
    assert topic(SHOP, _table("orders")) == "shop.public.orders"
    assert topic(SHOP, _table("Order Lines", schema="Sales")) == "shop.Sales.Order_Lines", "as Debezium names it"
    assert spec.config["skipped.operations"] == "none", "TRUNCATE would not reach the CDC road"
    assert int(spec.config["producer.override.max.request.size"]) >= 2 * 20 * 1024 * 1024, "a 20 MB row, twice"


def test_a_table_of_another_database_is_refused():
    with pytest.raises(ValueError, match="must come from shop"):
        source_connector(SHOP, [_table("orders", database="crm_db")], Path("/s/p"))


def test_the_publication_names_exactly_the_copied_tables_quoted():
    ddl = publication_ddl(SHOP, [_table("orders"), _table('odd "name"', schema="sales")])
    assert ddl == ('CREATE PUBLICATION "bionicflow_shop" FOR TABLE "public"."orders", "sales"."odd ""name""", '
                   'bionicflow.debezium_signal')
