from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
import pytest

from bionicflow.cdc.consumer import Sink, TableProgress
from bionicflow.kernel.tables import USERS


class FakeClient:
    """Rejects any insert into the raw table that contains a poisoned payload."""

    def __init__(self, poisoned=(), down=False, table_exists=True):
        self.poisoned = set(poisoned)
        self.down = down
        self.table_exists = table_exists
        self.raw, self.dead = [], []

    def insert(self, table, rows, column_names):
        if self.down:
            raise OperationalError("connection refused")
        if table.endswith("dead_letters"):
            self.dead.extend(rows)
            return
        if any(r[0] in self.poisoned for r in rows):
            raise DatabaseError("Code: 27. DB::Exception: Cannot parse input")
        self.raw.extend(rows)

    def command(self, sql):
        return 1 if self.table_exists else 0


def rows(n):
    return [[f"m{i}".encode(), USERS.topic, 0, i] for i in range(n)]


def test_a_rejected_message_is_isolated_and_dead_lettered():
    fake = FakeClient(poisoned={b"m5", b"m11"})
    progress = TableProgress(USERS.name, USERS.consumer_group)
    Sink(USERS, lambda: fake, progress).write(rows(16))
    assert sorted(r[3] for r in fake.raw) == [i for i in range(16) if i not in (5, 11)]
    assert [(d[2], d[4].startswith("rejected by ClickHouse")) for d in fake.dead] == [(5, True), (11, True)]
    assert progress.dead_lettered_by_consumer == 2


def test_connection_failures_are_transient_not_dead_letters():
    fake = FakeClient(down=True)
    with pytest.raises(OperationalError):
        Sink(USERS, lambda: fake, TableProgress("users", "g")).write(rows(4))
    assert fake.dead == []


def test_a_missing_schema_is_waited_for_not_dead_lettered():
    fake = FakeClient(poisoned={b"m0"}, table_exists=False)
    with pytest.raises(OperationalError):
        Sink(USERS, lambda: fake, TableProgress("users", "g")).write(rows(2))
    assert fake.dead == []
