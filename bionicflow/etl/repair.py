"""Mode "repair" of `etl_default`: reload the rows reconciliation found wrong in `default`, by key.

`cdc_reconcile` records in `ops.default_repair_keys` the keys whose rows `default` lacks or
holds differently although they were written before its last load. A repair run loads the
changes since the cursor and compares the key sets (deleting keys the source no longer
has, loading the ones `default` lacks), then reloads every recorded key from the source
and removes the keys it has handled. Too many keys for a reload by key: the table is
refreshed whole instead, and the run says why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import time
from dataclasses import replace

from bionicflow.etl.changes import load_changes, load_keys
from bionicflow.etl.load import drop_moved_versions
from bionicflow.etl.load import LoadResult, full_refresh
from bionicflow.kernel.cursors import RELOAD_BY_KEY_LIMIT
from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.tables import OPS_DB, Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

REPAIR_KEYS_SQL = (f"SELECT DISTINCT key FROM {OPS_DB}.default_repair_keys WHERE table = {{table:String}} "
                   "AND found_at <= {read_at:DateTime64(6)} ORDER BY key")
FORGET_KEYS_SQL = (f"DELETE FROM {OPS_DB}.default_repair_keys WHERE table = {{table:String}} "
                   "AND found_at <= {read_at:DateTime64(6)}")


def repair(olap: OlapClient, table: Table, source: PgSource, run_id: str = "") -> LoadResult:
    """Bring `default.<table>` back to the source: changes, key sets, then the recorded keys by key."""
    started = time.perf_counter()
    read_at = olap.query("SELECT now64(6)").result_rows[0][0]
    keys = [int(k) for (k,) in olap.query(REPAIR_KEYS_SQL, parameters={"table": table.name, "read_at": read_at}
                                          ).result_rows]
    if len(keys) > RELOAD_BY_KEY_LIMIT:
        result = full_refresh(olap, table, source, run_id, reason=(
            f"{len(keys)} keys to repair: one full read is cheaper than reading them by key"))
    else:
        result = load_changes(olap, table, source, run_id, verify_keys=True)
        if result.mode == "incremental":
            reloaded = load_keys(olap, table, source, keys)
            drop_moved_versions(olap, table)
            result = replace(result, mode="repair", rows=result.rows + reloaded, seconds=time.perf_counter() - started)
    olap.command(FORGET_KEYS_SQL, parameters={"table": table.name, "read_at": read_at})
    return result
