"""What was dead-lettered, and applying it once its cause is fixed.

A message lands in `debezium.dead_letters` when it is not a usable change (docs/cdc.md). Some
causes go away: ClickHouse refused a batch for a passing reason, or a new bionicflow version
reads a column it could not read before. `replay` runs every dead letter of a table through
the same SELECT the views use; the ones that are usable now become rows and leave the dead
letters, the rest stay. Each keeps its original topic position as its version, so a replayed
change never overrides a newer change of the same key, and a replay interrupted between its
two steps can simply run again (the same version of the same row replaces itself).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass

from bionicflow.cdc.ddl import DATABASE, META_COLUMNS, Table, change_rows_select, usable_messages_select
from bionicflow.kernel.tables import TABLES_BY_TOPIC

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

DEAD_LETTERS = f"{DATABASE}.dead_letters"
# The dead letters of one topic, shaped as the views' input.
AS_MESSAGES = (f"(SELECT raw_value AS payload, topic AS _topic, partition AS _partition, offset AS _offset "
               f"FROM {DEAD_LETTERS} WHERE topic = {{topic:String}})")
# The reason without the value it quotes, so one cause is one line of the summary.
SUMMARY_SQL = f"""SELECT topic, splitByString(': ', error)[1] AS cause, count(), max(received_at), any(error)
FROM {DEAD_LETTERS}
GROUP BY topic, cause
ORDER BY topic, count() DESC"""
COUNT_SQL = f"SELECT count() FROM {DEAD_LETTERS} WHERE topic = {{topic:String}}"
DELETE_SQL = (f"DELETE FROM {DEAD_LETTERS} WHERE topic = {{topic:String}} "
              "AND has({positions:Array(Tuple(UInt64, UInt64))}, (partition, offset))")


@dataclass(frozen=True)
class Cause:
    topic: str
    table: str
    cause: str
    messages: int
    last_received_at: str
    example: str


@dataclass(frozen=True)
class Replay:
    table: str
    applied: int  # messages that are usable changes now: rows written, dead letters removed
    remaining: int  # still not usable: left in the dead letters


def summary(olap: OlapClient) -> list[Cause]:
    """One entry per topic and cause, the most frequent first."""
    return [
        Cause(topic, TABLES_BY_TOPIC[topic].name if topic in TABLES_BY_TOPIC else "?", cause, int(n),
              last.isoformat(), example[:300])
        for topic, cause, n, last, example in olap.query(SUMMARY_SQL).result_rows
    ]


def replay(olap: OlapClient, table: Table) -> Replay:
    """Apply the dead letters of `table` that are usable changes now; leave the others."""
    params = {"topic": table.topic}
    positions = [tuple(row)
                 for row in olap.query(usable_messages_select(table, AS_MESSAGES), parameters=params).result_rows]
    if positions:
        columns = ", ".join([*table.business_columns, *(name for name, _type in META_COLUMNS)])
        olap.command(f"INSERT INTO {DATABASE}.{table.name} ({columns})\n{change_rows_select(table, AS_MESSAGES)}",
                     parameters=params)
        olap.command(DELETE_SQL, parameters={**params, "positions": positions})
    remaining = int(olap.query(COUNT_SQL, parameters=params).result_rows[0][0])
    return Replay(table.name, len(positions), remaining)
