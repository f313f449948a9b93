"""The batch road's copy of any table: identifiers quoted, each kind read through the view exactly."""

from bionicflow.etl.table_copy import copy_select, default_table_ddl
from bionicflow.kernel.source_views import olap_expression, source_expression, source_view_ddl
from bionicflow.kernel.identifiers import ch_ident, pg_ident
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable
from bionicflow.kernel.pg_types import PgType, clickhouse_type


def _column(name: str, pg: PgType, nullable: bool = True) -> SourceColumn:
    return SourceColumn(name, pg, pg.name, not nullable, clickhouse_type(pg, nullable))


def test_any_name_the_catalogue_holds_is_quoted_on_both_sides():
    assert pg_ident('odd "name"') == '"odd ""name"""'
    assert ch_ident("odd `name` \\ x") == "`odd \\`name\\` \\\\ x`"


def test_values_postgresql_would_send_inexactly_travel_as_text_or_microseconds():
    ts = _column("at", PgType("timestamptz", "b"))
    assert source_expression(ts) == '(extract(epoch FROM "at") * 1000000)::bigint'
    assert olap_expression(ts) == "CAST(fromUnixTimestamp64Micro(`at`, 'UTC') AS Nullable(DateTime64(6, 'UTC')))"
    money = _column("m", PgType("numeric", "b", ((12 << 16) | 2) + 4))
    assert (source_expression(money), olap_expression(money)) == ('"m"::text', "CAST(`m` AS Nullable(Decimal(12, 2)))")
    padded = _column("c", PgType("bpchar", "b"), nullable=False)
    assert source_expression(padded) == '"c"'  # ::text would strip char(n)'s padding


def test_arrays_travel_as_json_with_decimals_as_strings():
    ints = _column("ints", PgType("_int4", "b", element=PgType("int4", "b")), nullable=False)
    assert source_expression(ints) == 'array_to_json("ints")::text'
    assert olap_expression(ints) == "JSONExtract(assumeNotNull(`ints`), 'Array(Nullable(Int32))')"
    typmod = ((10 << 16) | 3) + 4
    decimals = _column("d", PgType("_numeric", "b", typmod, element=PgType("numeric", "b", typmod)), nullable=False)
    assert source_expression(decimals) == 'array_to_json("d"::text[])::text'


def test_text_form_columns_are_read_as_postgresqls_text_and_kept_as_is():
    addr = _column("addr", PgType("inet", "b"))  # PostgreSQL's output (::1), not ::text's (::1/128)
    assert "format('%s', \"addr\")" in source_expression(addr) and olap_expression(addr) == "`addr`"
    mac = _column("mac", PgType("macaddr", "b"))
    assert (source_expression(mac), olap_expression(mac)) == ('"mac"::text', "`mac`")
    span = _column("span", PgType("interval", "b"))  # in Debezium's ISO 8601 text, every part written
    assert "format('P%sY%sM%sDT%sH%sM%sS'" in source_expression(span) and olap_expression(span) == "`span`"


def test_the_view_and_the_table_follow_the_description():
    table = SourceTable("sales", "order lines", (_column("order", PgType("int8", "b"), nullable=False),
                                                 _column("n", PgType("int4", "b"), nullable=False)),
                        key=("order", "n"), replica_identity="d")
    create_schema, create_view, *grants = source_view_ddl(table, "lines", reader="etl_reader")
    assert create_view.endswith('FROM "sales"."order lines"') and '"bionicflow"."lines_olap"' in create_view
    assert grants == ['GRANT USAGE ON SCHEMA "bionicflow" TO "etl_reader"',
                      'GRANT SELECT ON "bionicflow"."lines_olap" TO "etl_reader"']
    ddl = default_table_ddl(table, "lines")
    assert "ReplacingMergeTree(_version, is_deleted)" in ddl and ddl.endswith("ORDER BY (`order`, `n`)")
    assert "{password:String}" in copy_select(table) and "bionicflow" not in copy_select(table)
