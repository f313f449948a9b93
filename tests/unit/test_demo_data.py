import csv

import numpy as np
import pytest

from bionicflow.demo.data import MUSCLE_GROUPS, PROSTHESIS_TYPES, DemoDataError, Generator, check_counts

NOW = np.datetime64("2026-11-24T12:00:00", "us")


def test_users_rows_have_every_column_and_past_registration():
    rows = list(csv.reader(Generator(seed=1).users_csv(500, NOW)))
    assert len(rows) == 500 and all(len(r) == 8 for r in rows)
    assert all(16 <= int(r[2]) < 90 for r in rows)
    assert all(np.datetime64(r[7]) <= NOW for r in rows)
    assert len({r[1] for r in rows}) == 500  # unique emails


def test_events_reference_given_users_and_are_saved_after_created():
    users = ["a", "b", "c"]
    rows = list(csv.reader(Generator(seed=2).events_csv(1000, users, NOW)))
    assert {r[0] for r in rows} <= set(users)
    assert {r[1] for r in rows} <= set(PROSTHESIS_TYPES) and {r[2] for r in rows} <= set(MUSCLE_GROUPS)
    assert all(np.datetime64(r[6]) < np.datetime64(r[7]) for r in rows)


def test_events_need_users():
    with pytest.raises(DemoDataError, match="generate users first"):
        Generator(seed=3).events_csv(1, [], NOW)


@pytest.mark.parametrize("counts", [{"users": -1}, {"events": 1.5}, {"users": 10**9}])
def test_bad_counts_are_refused(counts):
    with pytest.raises(DemoDataError):
        check_counts(**counts)


def test_copy_works_with_psycopg3_style_cursors():
    import io

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
    _copy(cur, "COPY t FROM STDIN", io.StringIO("a,b\n"))
    assert cur.statement == "COPY t FROM STDIN" and cur.copy_obj.written == ["a,b\n"]
