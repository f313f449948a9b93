"""Demo data for the sources: realistic users and telemetry, written with COPY.

Faker makes realistic values, but at a few thousand per second; so it fills small pools
once and rows are drawn from them with numpy, which keeps generation well above
100,000 rows/s. Telemetry rows reference existing users.

What PostgreSQL spends on a COPY is mostly index upkeep, and a B-tree insert at a random
place costs several times one at the end (docs/benchmarks.md). So rows are written the way
a live system writes them: in time order, with time-ordered UUIDs (version 7) made here
instead of the tables' random `gen_random_uuid()` defaults. Telemetry, the big table, goes
in PostgreSQL's binary COPY format, streamed chunk by chunk.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker

from bionicflow.demo import pgbinary
from bionicflow.reports.accounts import CUSTOMERS
from bionicflow.kernel.errors import BionicflowError

PROSTHESIS_TYPES = ("hand", "forearm", "arm", "foot", "leg", "knee")
MUSCLE_GROUPS = ("biceps", "triceps", "forearm_flexors", "forearm_extensors", "quadriceps", "hamstrings", "calf")
POOL = 2_000
CHUNK_ROWS = 100_000
# One binary tail per (prosthesis type, muscle group): the two text fields, drawn independently.
EVENT_TAILS = np.array([pgbinary.text_field(p) + pgbinary.text_field(m) for p in PROSTHESIS_TYPES
                        for m in MUSCLE_GROUPS], dtype=object)
# The fixed-width part of a telemetry row in binary COPY: field count, then (length, value) pairs.
EVENT_HEAD = np.dtype([
    ("fields", ">i2"), ("n_event_uuid", ">i4"), ("event_uuid", "u1", 16),
    ("n_user_uuid", ">i4"), ("user_uuid", "u1", 16),
    ("n_frequency", ">i4"), ("frequency", ">i4"), ("n_duration", ">i4"), ("duration", ">i4"),
    ("n_amplitude", ">i4"), ("amplitude", ">f8"), ("n_created", ">i4"), ("created", ">i8"),
    ("n_saved", ">i4"), ("saved", ">i8"),
])


class DemoDataError(BionicflowError):
    """Invalid demo-data request."""


@dataclass(frozen=True)
class DemoResult:
    users: int
    events: int
    updates: int
    deletes: int


def check_counts(**counts: int) -> None:
    bad = {k: v for k, v in counts.items() if not isinstance(v, int) or v < 0}
    if bad:
        raise DemoDataError(f"counts must be whole numbers >= 0, got {bad}")
    if counts.get("users", 0) > 10_000_000 or counts.get("events", 0) > 100_000_000:
        raise DemoDataError("at most 10,000,000 users and 100,000,000 events per run")


class Generator:
    def __init__(self, seed: int | None = None):
        self.rng = np.random.default_rng(seed)
        fake = Faker(["en_US", "de_DE", "fr_FR", "ru_RU", "pt_BR"])
        if seed is not None:
            Faker.seed(seed)
        self.names = np.array([fake.name() for _ in range(POOL)], dtype=object)
        self.addresses = np.array([fake.address().replace("\n", ", ") for _ in range(POOL)], dtype=object)
        self.countries = np.array([fake.country_code() for _ in range(200)], dtype=object)
        self.phones = np.array([fake.phone_number() for _ in range(POOL)], dtype=object)

    def new_users(self, n: int, now: np.datetime64) -> tuple[np.ndarray, list[str]]:
        """Registration times (in order) and `user_uuid`s (version 7, of the registration time) of `n` users."""
        registered = np.sort(now - self.rng.integers(0, 3 * 365 * 86400 * 10**6, size=n).astype("timedelta64[us]"))
        unix_ms = registered.astype("datetime64[ms]").astype(np.int64)
        return registered, pgbinary.uuid_text(pgbinary.uuid7(self.rng, unix_ms)).tolist()

    def users_csv(self, registered: np.ndarray, uuids: list[str],
                  rng: np.random.Generator | None = None) -> io.StringIO:
        """The new users' rows as CSV; ``rng``: one of their own, to build them beside `events_copy`."""
        rng = rng or self.rng
        n = len(uuids)
        idx = rng.integers(0, POOL, size=(3, n))
        frame = pd.DataFrame({
            "user_uuid": uuids,
            "name": self.names[idx[0]],
            "email": [f"user.{k}@example.org" for k in rng.integers(0, 2**62, size=n)],
            "age": rng.integers(16, 90, size=n),
            "gender": rng.choice(np.array(["female", "male", "other"], dtype=object), size=n, p=[0.48, 0.48, 0.04]),
            "country": self.countries[rng.integers(0, len(self.countries), size=n)],
            "address": self.addresses[idx[1]],
            "phone": self.phones[idx[2]],
            "registered_at": _timestamps(registered),
        })
        return _csv(frame)

    def events_copy(self, n: int, user_uuids: list[str], now: np.datetime64) -> Iterator[bytes]:
        """`n` telemetry rows in binary COPY format, in `created_ts` order over the last 30 days."""
        if not user_uuids:
            raise DemoDataError("no users to attach telemetry to: generate users first")
        users = pgbinary.uuid_bytes(user_uuids)
        end = int(now.astype("datetime64[us]").astype(np.int64))
        span = 30 * 86400 * 10**6
        chunks = max(1, -(-n // CHUNK_ROWS))
        yield pgbinary.HEADER
        for k in range(chunks):
            rows = n // chunks + (1 if k < n % chunks else 0)
            # Chunk k covers the k-th slice of the 30 days, so the whole stream is in time order.
            low = end - span + span * k // chunks
            created = np.sort(self.rng.integers(low, end - span + span * (k + 1) // chunks, size=rows))
            yield self._event_rows(created, users)
        yield pgbinary.TRAILER

    def _event_rows(self, created: np.ndarray, users: np.ndarray) -> bytes:
        rng, n = self.rng, len(created)
        head = np.empty(n, dtype=EVENT_HEAD)
        head["fields"] = 9
        for name in (EVENT_HEAD.names or ())[2::2]:  # each value's length field precedes it
            head[f"n_{name}"] = EVENT_HEAD[name].itemsize
        head["event_uuid"] = pgbinary.uuid7(rng, created // 1000)
        head["user_uuid"] = users[rng.integers(0, len(users), size=n)]
        head["frequency"] = rng.integers(20, 500, size=n)
        head["duration"] = rng.integers(10, 5000, size=n)
        head["amplitude"] = np.round(rng.gamma(2.0, 0.4, size=n), 6)
        head["created"] = created - pgbinary.PG_EPOCH_MICROS
        head["saved"] = head["created"] + rng.integers(1_000, 5 * 10**6, size=n)
        return pgbinary.rows(head, EVENT_TAILS[rng.integers(0, len(EVENT_TAILS), size=n)])


def _csv(frame: pd.DataFrame) -> io.StringIO:
    out = io.StringIO()
    frame.to_csv(out, header=False, index=False)
    out.seek(0)
    return out


def _timestamps(values: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(values, unit="us")


USERS_COPY = ("COPY users (user_uuid, name, email, age, gender, country, address, phone, registered_at) "
              "FROM STDIN WITH (FORMAT csv)")
# The column order of EVENT_HEAD, then the two text fields of EVENT_TAILS.
EVENTS_COPY = ("COPY telemetry_events (event_uuid, user_uuid, signal_frequency, signal_duration, signal_amplitude, "
               "created_ts, saved_ts, prosthesis_type, muscle_group) FROM STDIN WITH (FORMAT binary)")
USER_UUIDS_SQL = "SELECT user_uuid::text FROM users"
PRESENT_CUSTOMERS_SQL = "SELECT user_uuid::text FROM users WHERE user_uuid = ANY(%s::uuid[])"
INSERT_CUSTOMER_SQL = """INSERT INTO users (user_uuid, name, email, age, gender, country, address, phone)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_uuid) DO NOTHING"""
UPDATE_USERS_SQL = """UPDATE users SET age = age + 1, phone = phone || ' ext. 1', address = address || ' (moved)'
WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT %s)"""
DELETE_EVENTS_SQL = ("DELETE FROM telemetry_events "
                     "WHERE id IN (SELECT id FROM telemetry_events ORDER BY random() LIMIT %s)")


def _copy(cur, statement: str, chunks: Iterable[bytes]) -> None:
    """COPY FROM STDIN, streamed chunk by chunk, with either driver: psycopg2 or psycopg 3."""
    if hasattr(cur, "copy_expert"):
        cur.copy_expert(statement, pgbinary.ChunkReader(iter(chunks)), size=1 << 20)
        return
    with cur.copy(statement) as copy:
        for chunk in chunks:
            copy.write(chunk)


def _add_demo_customers(cur, gen: Generator, limit: int) -> int:
    """The demo login accounts' CRM users (fixed user_uuids), when missing; they count as generated users."""
    cur.execute(PRESENT_CUSTOMERS_SQL, ([a.user_uuid for a in CUSTOMERS],))
    present = {row[0] for row in cur.fetchall()}
    missing = [a for a in CUSTOMERS if a.user_uuid not in present][:limit]
    for account in missing:
        cur.execute(INSERT_CUSTOMER_SQL, (account.user_uuid, str(gen.rng.choice(gen.names)),
                                          f"{account.username}@example.org", int(gen.rng.integers(18, 80)),
                                          "other", "DE", str(gen.rng.choice(gen.addresses)), None))
    return len(missing)


def _write_users(crm_conn, users: Callable[[], io.StringIO] | None, updates: int) -> None:
    with crm_conn.cursor() as cur:
        if users is not None:
            _copy(cur, USERS_COPY, [users().getvalue().encode()])
        if updates:
            cur.execute(UPDATE_USERS_SQL, (updates,))


def made_ahead(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The same chunks, each next one made in a worker thread while the current one is sent."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(next, chunks, None)
        while (chunk := pending.result()) is not None:
            pending = pool.submit(next, chunks, None)
            yield chunk


def _write_events(telemetry_conn, gen: Generator, events: int, user_uuids: list[str], now: np.datetime64,
                  deletes: int) -> None:
    with telemetry_conn.cursor() as cur:
        if events:
            _copy(cur, EVENTS_COPY, made_ahead(gen.events_copy(events, user_uuids, now)))
        if deletes:
            cur.execute(DELETE_EVENTS_SQL, (deletes,))


def generate(crm_conn, telemetry_conn, users: int, events: int, updates: int = 0, deletes: int = 0,
             now: np.datetime64 | None = None, seed: int | None = None) -> DemoResult:
    """Write `users` users and `events` events (linked to existing users); then update and delete some.

    The demo login accounts' users (customer1..3) are among the first users written.
    ``updates`` change that many random users; ``deletes`` remove that many random events.
    Both databases commit only when both writes succeeded.
    """
    check_counts(users=users, events=events, updates=updates, deletes=deletes)
    now = now if now is not None else np.datetime64("now", "us")
    gen = Generator(seed)
    with crm_conn.cursor() as cur:
        added = _add_demo_customers(cur, gen, users) if users else 0
        cur.execute(USER_UUIDS_SQL)
        user_uuids = [row[0] for row in cur.fetchall()]
    registered, new_uuids = gen.new_users(max(users - added, 0), now)
    users_rng = gen.rng.spawn(1)[0]
    new_users = (lambda: gen.users_csv(registered, new_uuids, users_rng)) if new_uuids else None
    # The new users' uuids are made here, so telemetry need not wait for the users: the two
    # databases are written at the same time, each by its own thread and connection (users
    # built and copied beside the events: two backends, two cores).
    with ThreadPoolExecutor(max_workers=1) as pool:
        users_written = pool.submit(_write_users, crm_conn, new_users, updates)
        try:
            _write_events(telemetry_conn, gen, events, user_uuids + new_uuids, now, deletes)
            users_written.result()
        except BaseException:
            wait([users_written])  # the CRM connection is free again before it is rolled back
            crm_conn.rollback()
            telemetry_conn.rollback()
            raise
    crm_conn.commit()
    telemetry_conn.commit()
    return DemoResult(users, events, updates, deletes)
