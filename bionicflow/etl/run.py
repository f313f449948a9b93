"""One table's load in the mode a run asked for, with the source's new columns followed first."""

from __future__ import annotations

from typing import TYPE_CHECKING

import logging
from datetime import datetime

from bionicflow.etl.changes import load_changes
from bionicflow.etl.evolve import evolve
from bionicflow.etl.load import LoadResult, full_refresh, load_window
from bionicflow.etl.repair import repair
from bionicflow.kernel.sources import PgSource
from bionicflow.kernel.tables import Table

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.etl")


def run_load(olap: OlapClient, table: Table, source: PgSource, run_id: str, mode: str,
             start: datetime | None = None, end: datetime | None = None) -> LoadResult:
    """Load ``table`` by ``mode`` (incremental, full, repair, window).

    A source column added or dropped: a full refresh.
    """
    evolution = evolve(olap, table, source)
    for line in evolution.refused:
        log.warning(line)
    table = evolution.table
    if evolution.reshaped or mode == "full":
        return full_refresh(olap, table, source, run_id, reason=evolution.reason)
    if mode == "incremental":
        return load_changes(olap, table, source, run_id)
    if mode == "repair":
        return repair(olap, table, source, run_id)
    if start is None or end is None:
        raise ValueError(f"mode {mode!r} needs a window start and end")
    return load_window(olap, table, source, start, end)
