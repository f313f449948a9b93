"""A TRUNCATE of a source table: the batch road notices the rewritten table and refreshes it whole.

In a module of its own that runs after tests/integration/test_cdc.py: the test truncates and
puts the rows back in one transaction, which CDC carries as a TRUNCATE followed by every row
inserted again, which changes what test_cdc's snapshot test looks at.
"""

from __future__ import annotations

from bionicflow.kernel.tables import USERS
from tests.support.dags import etl_loads
from tests.support.rows import apply_sql, default_rows, source_rows
from tests.support.stack import run_ok


def test_a_truncated_table_is_refreshed_whole_and_the_run_says_why(stack, airflow, bootstrapped):
    settings = stack
    run_ok(airflow, "etl_default", {"mode": "full", "tables": ["users"]})  # a cursor the TRUNCATE makes void
    # TRUNCATE, then the rows back in the same transaction, then a few deleted: the table has a
    # new file, the cursor is void
    apply_sql(settings, "crm_db", [
        "BEGIN; CREATE TEMP TABLE kept ON COMMIT DROP AS SELECT * FROM users; TRUNCATE users; "
        "INSERT INTO users SELECT * FROM kept; COMMIT",
        "DELETE FROM users WHERE id IN (SELECT id FROM users ORDER BY id DESC LIMIT 5)",
    ])
    run = run_ok(airflow, "etl_default", {"tables": ["users"]})
    mode, rows, _, reason, _ = etl_loads(settings, run["dag_run_id"])["users"]
    assert mode == "full" and "TRUNCATE" in reason, (mode, reason)
    assert default_rows(settings, USERS) == source_rows(settings, USERS)
    log = airflow.task_log("etl_default", run["dag_run_id"], "load", map_index=0)
    assert "refreshed whole instead of incrementally" in log and "TRUNCATE" in log, log[-2000:]
