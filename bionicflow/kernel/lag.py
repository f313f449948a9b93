"""How far a copy is behind its source, in seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def lag_seconds(last_source_commit: datetime, newest_in_clickhouse: datetime) -> float:
    """How far ClickHouse is behind the source's newest commit (0 when caught up); naive times are UTC."""
    def utc(value: datetime) -> datetime:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    return round(max(0.0, (utc(last_source_commit) - utc(newest_in_clickhouse)).total_seconds()), 3)
