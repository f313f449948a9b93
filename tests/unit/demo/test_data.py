import csv
import struct
import uuid

import numpy as np
import pytest

from bionicflow.demo import data, pgbinary
from bionicflow.demo.data import MUSCLE_GROUPS, PROSTHESIS_TYPES, DemoDataError, Generator, check_counts

NOW = np.datetime64("2026-11-24T12:00:00", "us")


def test_users_rows_have_every_column_in_registration_order():
    gen = Generator(seed=1)
    rows = list(csv.reader(gen.users_csv(*gen.new_users(500, NOW))))
    assert len(rows) == 500 and all(len(r) == 9 for r in rows)
    assert all(16 <= int(r[3]) < 90 for r in rows)
    registered = [np.datetime64(r[8]) for r in rows]
    assert registered == sorted(registered) and registered[-1] <= NOW
    assert len({r[2] for r in rows}) == 500  # unique emails


def test_user_uuids_are_version_7_of_the_registration_time_and_ordered():
    gen = Generator(seed=1)
    registered, returned = gen.new_users(500, NOW)
    rows = list(csv.reader(gen.users_csv(registered, returned)))
    assert returned == [r[0] for r in rows]
    uuids = [uuid.UUID(r[0]) for r in rows]
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in uuids)
    assert len(set(uuids)) == 500
    for u, r in zip(uuids, rows):  # the first 48 bits are the Unix time in milliseconds
        assert u.int >> 80 == np.datetime64(r[8], "ms").astype(np.int64)


def _decode_binary_copy(data: bytes) -> list[tuple]:
    """PostgreSQL's binary COPY format, read as its manual specifies ("COPY — Binary Format")."""
    assert data[:11] == b"PGCOPY\n\xff\r\n\x00"
    pos = 11 + 4 + 4 + int.from_bytes(data[15:19], "big")
    rows = []
    while (count := int.from_bytes(data[pos:pos + 2], "big", signed=True)) != -1:
        pos += 2
        fields = []
        for _ in range(count):
            size = int.from_bytes(data[pos:pos + 4], "big", signed=True)
            fields.append(data[pos + 4:pos + 4 + size])
            pos += 4 + size
        rows.append(tuple(fields))
    assert pos + 2 == len(data), "bytes after the trailer"
    return rows


def _event(fields: tuple) -> dict:
    micros = lambda b: np.datetime64("2000-01-01", "us") + np.timedelta64(int.from_bytes(b, "big", signed=True), "us")  # noqa: E731
    return {"event_uuid": uuid.UUID(bytes=fields[0]), "user_uuid": str(uuid.UUID(bytes=fields[1])),
            "frequency": int.from_bytes(fields[2], "big", signed=True),
            "duration": int.from_bytes(fields[3], "big", signed=True),
            "amplitude": struct.unpack(">d", fields[4])[0], "created": micros(fields[5]), "saved": micros(fields[6]),
            "prosthesis_type": fields[7].decode(), "muscle_group": fields[8].decode()}


def test_events_are_binary_copy_rows_of_given_users_in_time_order(monkeypatch):
    monkeypatch.setattr(data, "CHUNK_ROWS", 300)  # several chunks
    users = [str(uuid.uuid4()) for _ in range(3)]
    events = [_event(f) for f in _decode_binary_copy(b"".join(Generator(seed=2).events_copy(1000, users, NOW)))]
    assert len(events) == 1000 and all(len(e) == 9 for e in events)
    assert {e["user_uuid"] for e in events} == set(users)
    assert {e["prosthesis_type"] for e in events} == set(PROSTHESIS_TYPES)
    assert {e["muscle_group"] for e in events} == set(MUSCLE_GROUPS)
    created = [e["created"] for e in events]
    assert created == sorted(created) and NOW - np.timedelta64(30, "D") <= created[0] and created[-1] <= NOW
    assert all(e["created"] < e["saved"] for e in events)
    assert all(20 <= e["frequency"] < 500 and 10 <= e["duration"] < 5000 and e["amplitude"] >= 0 for e in events)
    assert all(e["event_uuid"].version == 7 for e in events) and len({e["event_uuid"] for e in events}) == 1000


def test_events_need_users():
    with pytest.raises(DemoDataError, match="generate users first"):
        next(Generator(seed=3).events_copy(1, [], NOW))


def test_chunk_reader_gives_the_chunks_bytes_in_order_for_any_read_size():
    chunks = [b"abc", b"", b"defgh", b"i"]
    assert pgbinary.ChunkReader(iter(chunks)).read() == b"abcdefghi"
    reader, out = pgbinary.ChunkReader(iter(chunks)), b""
    while piece := reader.read(2):
        assert len(piece) <= 2
        out += piece
    assert out == b"abcdefghi"


def test_chunks_made_ahead_keep_their_order_and_errors():
    assert list(data.made_ahead(iter([b"a", b"b", b"c"]))) == [b"a", b"b", b"c"]

    def failing():
        yield b"a"
        raise ValueError("generation failed")

    made = data.made_ahead(failing())
    assert next(made) == b"a"
    with pytest.raises(ValueError, match="generation failed"):
        next(made)


def test_uuid_texts_round_trip_through_bytes():
    texts = [str(uuid.uuid4()) for _ in range(50)]
    assert list(pgbinary.uuid_text(pgbinary.uuid_bytes(texts))) == texts


@pytest.mark.parametrize("counts", [{"users": -1}, {"events": 1.5}, {"users": 10**9}])
def test_bad_counts_are_refused(counts):
    with pytest.raises(DemoDataError):
        check_counts(**counts)


def test_copy_works_with_psycopg3_style_cursors():
    from bionicflow.demo.data import _copy

    class Copy:
        def __init__(self):
            self.written = []

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def write(self, data):
            self.written.append(data)

    class Psycopg3Cursor:
        def __init__(self):
            self.copy_obj = Copy()

        def copy(self, statement):
            self.statement = statement
            return self.copy_obj

    cur = Psycopg3Cursor()
    _copy(cur, "COPY t FROM STDIN", iter([b"a,b\n", b"c,d\n"]))
    assert cur.statement == "COPY t FROM STDIN" and cur.copy_obj.written == [b"a,b\n", b"c,d\n"]


class FakeConnection:
    """A DB-API connection that takes COPY and statements, and records how the transaction ended."""

    def __init__(self, fail_copy: bool = False):
        self.fail_copy, self.copied, self.ended = fail_copy, b"", []

    def cursor(self):
        conn = self

        class Cursor:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

            def copy_expert(self, statement, file, size=8192):
                while chunk := file.read(size):
                    conn.copied += chunk
                    if conn.fail_copy:
                        raise RuntimeError("COPY failed")

            def execute(self, sql, params=None):
                pass

            def fetchall(self):
                return [("00000000-0000-4000-8000-000000000001",)]

        return Cursor()

    def commit(self):
        self.ended.append("commit")

    def rollback(self):
        self.ended.append("rollback")


def test_both_databases_commit_after_both_writes():
    crm, telemetry = FakeConnection(), FakeConnection()
    data.generate(crm, telemetry, users=100, events=1000, seed=1)
    assert (crm.ended, telemetry.ended) == (["commit"], ["commit"])
    assert crm.copied and telemetry.copied.startswith(pgbinary.HEADER)


@pytest.mark.parametrize("failing", ["crm", "telemetry"])
def test_a_failed_write_rolls_back_both_databases(failing):
    conns = {"crm": FakeConnection(fail_copy=failing == "crm"), "telemetry": FakeConnection(fail_copy=failing == "telemetry")}
    with pytest.raises(RuntimeError, match="COPY failed"):
        data.generate(conns["crm"], conns["telemetry"], users=100, events=1000, seed=1)
    assert (conns["crm"].ended, conns["telemetry"].ended) == (["rollback"], ["rollback"])
