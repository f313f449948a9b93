import chdb
import pytest

from bionicflow.cdc import ddl as cdc_schema
from bionicflow.kernel.cluster_ddl import for_cluster
from bionicflow.etl import ddl as etl_schema


def cluster_statements() -> list[str]:
    return cdc_schema.render("kafka", cluster="bionicflow") + etl_schema.render(cluster="bionicflow")


def test_every_statement_runs_on_the_cluster_with_replicated_storage():
    for statement in cluster_statements():
        assert " ON CLUSTER 'bionicflow'" in statement.splitlines()[0], statement[:80]
        if "MergeTree" in statement:
            assert "ENGINE = Replicated" in statement and "'{replica}'" in statement, statement
    users = next(s for s in cluster_statements() if s.startswith("CREATE TABLE IF NOT EXISTS debezium.users ON"))
    assert ("ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/debezium.users', '{replica}', "
            "_version, is_deleted)") in users


def test_single_server_rendering_is_unchanged_apart_from_placement():
    single, clustered = cdc_schema.render("kafka"), cdc_schema.render("kafka", cluster="c1")
    strip = lambda s: s.replace(" ON CLUSTER 'c1'", "")  # noqa: E731
    for a, b in zip(single, clustered):
        if "MergeTree" not in a:
            assert strip(b) == a


def test_every_cluster_statement_parses_in_the_clickhouse_engine():
    conn = chdb.connect(":memory:")
    for statement in cluster_statements():
        conn.query(f"EXPLAIN AST {statement}")  # raises on a syntax error


def test_unknown_statement_is_refused():
    with pytest.raises(ValueError, match="not a statement"):
        for_cluster("DROP TABLE x", "c1")
