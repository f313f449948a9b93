"""An added table's catalogue entry, as `tables add` would write it, for tests without a source."""

from bionicflow.kernel import table_catalogue as catalogue
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable, roads_table
from bionicflow.kernel.pg_types import PgType, clickhouse_type


def _column(name: str, pg: PgType, nullable: bool = True) -> SourceColumn:
    return SourceColumn(name, pg, pg.name, not nullable, clickhouse_type(pg, nullable))


DESCRIBED = SourceTable("sales", "order lines", (
    _column("order_id", PgType("uuid", "b"), nullable=False), _column("line_no", PgType("int4", "b"), nullable=False),
    _column("price", PgType("numeric", "b", (12 << 16 | 2) + 4)),
    _column("tags", PgType("_text", "b", element=PgType("text", "b"))),
    _column("span", PgType("interval", "b"))), key=("order_id", "line_no"), replica_identity="d")
ADDED = catalogue.Entry(roads_table(DESCRIBED, "lines", "shop_db", "shop.sales.order lines"), "shop", DESCRIBED,
                        catalogue.ADDING)
