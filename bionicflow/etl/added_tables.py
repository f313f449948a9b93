"""The batch load of a table added from a source's catalogue (`bionicflow tables add`).

Every mode is a whole copy through the source-side view (`table_copy.refresh_copy`): each row a
new version, each key the source no longer has a tombstone, so `default.<name>` under FINAL is
the source as the copy read it, whatever changed in between (updates, deletes, key changes,
TRUNCATE). The brief's two tables keep their incremental loads (etl/changes.py); a key
comparison for any key type, so that an unchanged added table costs nothing, is the next step
(docs/sources.md, "Known gaps").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bionicflow.etl.load import LoadResult, record
from bionicflow.etl.table_copy import refresh_copy
from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.table_catalogue import Entry

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

WHOLE_COPY = "an added table's batch load is a whole copy (docs/sources.md)"


def load_added(olap: OlapClient, entry: Entry, source: PgSource, run_id: str, mode: str = "full") -> LoadResult:
    """Copy ``entry``'s table whole into `default` and record it in `ops.etl_runs` as ``mode``."""
    if entry.described is None:
        raise ValueError(f"{entry.name} is one of the brief's tables: its loads are etl/run.py's")
    copied = refresh_copy(olap, source, entry.described, entry.name)
    result = LoadResult(entry.name, mode, copied.rows, copied.seconds, reason="" if mode == "first copy" else
                        WHOLE_COPY)
    record(olap, run_id, result)
    return result
