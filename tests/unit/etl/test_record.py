"""A load's record in ops.etl_runs: its window as the instants it covered, whatever the process's zone."""

from datetime import UTC, datetime

from bionicflow.etl.load import LoadResult, record


class _Inserts:
    def __init__(self):
        self.rows = []

    def insert(self, table, data, column_names):
        self.rows += [dict(zip(column_names, row, strict=True)) for row in data]


def test_a_naive_utc_window_is_recorded_as_utc_instants():
    olap = _Inserts()
    record(olap, "run", LoadResult("users", "window", 10, 0.5, datetime(2026, 12, 7, 14, 26), datetime(2026, 12, 7, 15)))
    row = olap.rows[0]
    # clickhouse-connect reads a naive date-time in the process's zone: the window goes out zone-aware, in UTC
    assert (row["window_start"], row["window_end"]) == (datetime(2026, 12, 7, 14, 26, tzinfo=UTC),
                                                        datetime(2026, 12, 7, 15, tzinfo=UTC))
    record(olap, "run", LoadResult("users", "incremental", 0, 0.1))
    assert olap.rows[1]["window_start"] is None
