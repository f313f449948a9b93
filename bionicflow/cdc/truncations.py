"""TRUNCATE on the CDC road: purge what a source's TRUNCATE removed from `debezium`.

Debezium sends a TRUNCATE as one message (op `t`) in the table's topic, in order with the
changes around it. The views record it in `debezium.truncations` with its topic position as
`_version`; purging deletes every row of the table with a lower version (a lightweight
DELETE), so the rows written before the TRUNCATE go and the ones after it stay, whatever
order the views ran in. Purging twice deletes nothing more; a redelivered TRUNCATE (the
consumer died before committing) is recorded again as not applied and purged again, after
the rows redelivered with it.

Who purges: the embedded consumer right after inserting a batch that holds a TRUNCATE
(before it commits the offsets); on compose, where ClickHouse's Kafka engine feeds the
views, `cdc_reconcile` every 10 minutes (and `bionicflow cdc apply-truncations`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import logging
import re
from contextlib import nullcontext
from dataclasses import dataclass

from bionicflow.kernel import snapshot_marks
from bionicflow.kernel.table_catalogue import NAME_PATTERN
from bionicflow.kernel.tables import CDC_DB

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

log = logging.getLogger("bionicflow.cdc.truncations")

# The newest TRUNCATE of each table not yet purged (FINAL: a redelivery's row replaces the applied one).
PENDING_SQL = f"""
SELECT table_name, max(_version), count()
FROM {CDC_DB}.truncations FINAL
WHERE applied_at IS NULL
GROUP BY table_name ORDER BY table_name
"""
MARK_APPLIED_SQL = f"""
INSERT INTO {CDC_DB}.truncations
SELECT table_name, _version, topic, partition, offset, _lsn, _source_ts, received_at, now64(6)
FROM {CDC_DB}.truncations FINAL
WHERE table_name = {{table:String}} AND _version <= {{version:UInt64}} AND applied_at IS NULL
"""
# A hint that a raw message may be a TRUNCATE: Kafka's JSON converter writes the op as
# `"op":"t"`; inside a string value the quotes would be escaped, so a row's text cannot match.
# Only decides whether to look for pending truncations; the views decide what is one.
TRUNCATE_HINT = re.compile(rb'"op"\s*:\s*"t"')


@dataclass(frozen=True)
class Purge:
    table: str
    version: int  # rows below this topic position were removed
    truncations: int  # TRUNCATE messages this purge applied (more than one if several were pending)


PURGED_ROWS = "_version < {version:UInt64}"


def purge_sql(table_name: str) -> str:
    if not NAME_PATTERN.fullmatch(table_name):  # the views record catalogue names only
        raise ValueError(f"{table_name!r} is not a catalogue table's name")
    return f"DELETE FROM {CDC_DB}.{table_name} WHERE {PURGED_ROWS}"


def apply_pending(olap: OlapClient, table_name: str | None = None) -> list[Purge]:
    """Purge every recorded TRUNCATE not yet applied (of one table, or all); returns what was purged."""
    purges: list[Purge] = []
    if not int(olap.command(f"EXISTS TABLE {CDC_DB}.truncations")):  # made by a version before 2026-12-02
        return purges
    for name, version, count in olap.query(PENDING_SQL).result_rows:
        if not NAME_PATTERN.fullmatch(name) or (table_name and name != table_name):
            continue
        # a DELETE fires no view: the purged rows' users are marked stale around it (the tables reports read)
        marks = snapshot_marks.marking(olap, CDC_DB, name, PURGED_ROWS, {"version": int(version)}) \
            if name in snapshot_marks.MARKED_TABLES else nullcontext()
        with marks:
            olap.command(purge_sql(name), parameters={"version": int(version)})
        olap.command(MARK_APPLIED_SQL, parameters={"table": name, "version": int(version)})
        purge = Purge(name, int(version), int(count))
        log.info("%s: TRUNCATE at topic position %s applied: every older row of %s.%s deleted",
                 name, version - 1, CDC_DB, name)
        purges.append(purge)
    return purges


def has_truncate_hint(payloads) -> bool:
    """True when a raw message of this batch may be a TRUNCATE."""
    return any(p and TRUNCATE_HINT.search(p) for p in payloads)
