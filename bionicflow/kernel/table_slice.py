"""Which rows of an added table a backfill reads again: a business-time window, a key range, or all of them.

The brief's tables have their business-time columns written in (`kernel/tables.py`); an added
table's come from its catalogue description. A window applies to the column the run names
(`time_column`), or else to the table's one timestamp, timestamptz or date column. A table with
none, or more than one and no name given, is refused with its candidates. A key range
(`key_from`, `key_to`) applies to an integer first key column: integers order the same in
PostgreSQL, Kafka and ClickHouse, where text (collations) and uuid (byte order) do not.

The slice is said twice, in the same terms: as PostgreSQL SQL for Debezium's incremental
snapshot (`pg_filter`, every value a quoted literal cast to the column's type), and as a
ClickHouse condition with bound parameters over the copy's typed columns (`ch_filter`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.identifiers import ch_ident, pg_ident, pg_literal
from bionicflow.kernel.pg_catalogue import SourceColumn, SourceTable

# ClickHouse column kinds (pg_types) a window may apply to, with the PostgreSQL type its bounds are cast to.
TIME_KINDS = {"micros": "timestamp", "millis": "timestamp", "timestamptz": "timestamptz", "date": "timestamp"}


class SliceRefused(BionicflowError):
    """The run's params do not name rows of the table; the message says which would."""


@dataclass(frozen=True)
class TableSlice:
    """Rows whose ``column`` is in [lower, upper): a window (datetimes, UTC) or a key range (integers)."""

    column: SourceColumn
    lower: datetime | int
    upper: datetime | int

    @property
    def what(self) -> str:
        kind = "window" if isinstance(self.lower, datetime) else "key range"
        return f"{kind} {self._text(self.lower)} .. {self._text(self.upper)} on {self.column.name}"

    @staticmethod
    def _text(value: datetime | int) -> str:
        return value.isoformat() if isinstance(value, datetime) else str(value)

    def pg_filter(self) -> str:
        """The slice as PostgreSQL SQL (Debezium runs it on the source): literals quoted, cast to the column's type."""
        column = pg_ident(self.column.name)
        bounds = [self._pg_value(v) for v in (self.lower, self.upper)]
        return f"{column} >= {bounds[0]} AND {column} < {bounds[1]}"

    def _pg_value(self, value: datetime | int) -> str:
        if isinstance(value, datetime):
            cast = TIME_KINDS[self.column.clickhouse.kind]
            zone = "+00" if cast == "timestamptz" else ""
            return f"CAST({pg_literal(value.isoformat(sep=' ') + zone)} AS {cast})"
        return f"CAST({pg_literal(str(int(value)))} AS {self.column.pg_type})"

    def ch_filter(self) -> tuple[str, dict]:
        """The slice as a ClickHouse condition over the copy's typed column, with its bound parameters."""
        column = ch_ident(self.column.name)
        if isinstance(self.lower, datetime):
            kind = "DateTime64(6, 'UTC')" if self.column.clickhouse.kind == "timestamptz" else "DateTime64(6)"
            condition = f"{column} >= {{slice_lower:{kind}}} AND {column} < {{slice_upper:{kind}}}"
        else:
            condition = f"{column} >= {{slice_lower:Int64}} AND {column} < {{slice_upper:Int64}}"
        return condition, {"slice_lower": self.lower, "slice_upper": self.upper}


def time_columns(described: SourceTable) -> list[SourceColumn]:
    return [c for c in described.columns if c.clickhouse.kind in TIME_KINDS and not c.clickhouse.text_form]


def choose_slice(name: str, described: SourceTable, start: datetime, end: datetime, time_column: str = "",
                 key_from: int | None = None, key_to: int | None = None) -> TableSlice:
    """The rows of table ``name`` a backfill reads again; `SliceRefused`, naming the choices, when the params name
    none."""
    if key_from is not None or key_to is not None:
        if time_column:
            raise SliceRefused(f"{name}: give a window on time_column or a key range (key_from, key_to), not both")
        return _key_range(name, described, key_from, key_to)
    candidates = time_columns(described)
    if time_column:
        chosen = [c for c in candidates if c.name == time_column]
        if not chosen:
            raise SliceRefused(f"{name} has no timestamp, timestamptz or date column {time_column!r}; "
                               f"its time columns: {_names(candidates)}")
    elif len(candidates) == 1:
        chosen = candidates
    else:
        first = next(c for c in described.columns if c.name == described.key[0])
        choices = (["name one with time_column"] if candidates else []) + (
            [f"give key_from and key_to for a range of its integer key {first.name}"]
            if first.clickhouse.kind == "int" else ["run etl_default with mode full for a whole copy"])
        raise SliceRefused(f"{name} has {len(candidates) or 'no'} time columns (timestamp, timestamptz or date: "
                           f"{_names(candidates)}): "
                           + ", or ".join(choices))
    return TableSlice(chosen[0], start, end)


def _key_range(name: str, described: SourceTable, key_from: int | None, key_to: int | None) -> TableSlice:
    first = next(c for c in described.columns if c.name == described.key[0])
    if first.clickhouse.kind != "int":
        raise SliceRefused(f"{name}'s first key column {first.name} is {first.pg_type}: a key range needs an integer "
                           "key (text and uuid order differently in PostgreSQL and ClickHouse); give a time window "
                           "with time_column instead")
    if key_from is None or key_to is None or key_to <= key_from:
        raise SliceRefused(f"a key range needs key_from and key_to with key_from < key_to (got {key_from}, {key_to})")
    return TableSlice(first, key_from, key_to)


def _names(columns: list[SourceColumn]) -> str:
    return ", ".join(c.name for c in columns) or "none"
