"""Demo data for the sources: realistic users and telemetry, written with COPY.

Faker makes realistic values, but at a few thousand per second; so it fills small pools
once and rows are drawn from them with numpy, which keeps generation well above
100,000 rows/s. Telemetry rows reference existing users.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from faker import Faker

from bionicflow.demo.accounts import CUSTOMERS
from bionicflow.errors import BionicflowError

PROSTHESIS_TYPES = ("hand", "forearm", "arm", "foot", "leg", "knee")
MUSCLE_GROUPS = ("biceps", "triceps", "forearm_flexors", "forearm_extensors", "quadriceps", "hamstrings", "calf")
POOL = 2_000


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

    def users_csv(self, n: int, now: np.datetime64) -> io.StringIO:
        rng = self.rng
        idx = rng.integers(0, POOL, size=(3, n))
        frame = pd.DataFrame({
            "name": self.names[idx[0]],
            "email": [f"user.{k}@example.org" for k in rng.integers(0, 2**62, size=n)],
            "age": rng.integers(16, 90, size=n),
            "gender": rng.choice(np.array(["female", "male", "other"], dtype=object), size=n, p=[0.48, 0.48, 0.04]),
            "country": self.countries[rng.integers(0, len(self.countries), size=n)],
            "address": self.addresses[idx[1]],
            "phone": self.phones[idx[2]],
            "registered_at": _timestamps(now - rng.integers(0, 3 * 365 * 86400 * 10**6, size=n).astype("timedelta64[us]")),
        })
        return _csv(frame)

    def events_csv(self, n: int, user_uuids: list[str], now: np.datetime64) -> io.StringIO:
        if not user_uuids:
            raise DemoDataError("no users to attach telemetry to: generate users first")
        rng = self.rng
        created = now - rng.integers(0, 30 * 86400 * 10**6, size=n).astype("timedelta64[us]")
        frame = pd.DataFrame({
            "user_uuid": np.asarray(user_uuids, dtype=object)[rng.integers(0, len(user_uuids), size=n)],
            "prosthesis_type": np.asarray(PROSTHESIS_TYPES, dtype=object)[rng.integers(0, len(PROSTHESIS_TYPES), size=n)],
            "muscle_group": np.asarray(MUSCLE_GROUPS, dtype=object)[rng.integers(0, len(MUSCLE_GROUPS), size=n)],
            "signal_frequency": rng.integers(20, 500, size=n),
            "signal_duration": rng.integers(10, 5000, size=n),
            "signal_amplitude": np.round(rng.gamma(2.0, 0.4, size=n), 6),
            "created_ts": _timestamps(created),
            "saved_ts": _timestamps(created + rng.integers(1_000, 5 * 10**6, size=n).astype("timedelta64[us]")),
        })
        return _csv(frame)


def _csv(frame: pd.DataFrame) -> io.StringIO:
    out = io.StringIO()
    frame.to_csv(out, header=False, index=False)
    out.seek(0)
    return out


def _timestamps(values: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(values, unit="us")


# user_uuid and event_uuid are left to the tables' gen_random_uuid() defaults.
USERS_COPY = ("COPY users (name, email, age, gender, country, address, phone, registered_at) "
              "FROM STDIN WITH (FORMAT csv)")
EVENTS_COPY = ("COPY telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, "
               "signal_duration, signal_amplitude, created_ts, saved_ts) FROM STDIN WITH (FORMAT csv)")
USER_UUIDS_SQL = "SELECT user_uuid::text FROM users"
PRESENT_CUSTOMERS_SQL = "SELECT user_uuid::text FROM users WHERE user_uuid = ANY(%s::uuid[])"
INSERT_CUSTOMER_SQL = """INSERT INTO users (user_uuid, name, email, age, gender, country, address, phone)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_uuid) DO NOTHING"""
UPDATE_USERS_SQL = """UPDATE users SET age = age + 1, phone = phone || ' ext. 1', address = address || ' (moved)'
WHERE id IN (SELECT id FROM users ORDER BY random() LIMIT %s)"""
DELETE_EVENTS_SQL = "DELETE FROM telemetry_events WHERE id IN (SELECT id FROM telemetry_events ORDER BY random() LIMIT %s)"


def _copy(cur, statement: str, data: io.StringIO) -> None:
    """COPY FROM STDIN with either driver: psycopg2 (copy_expert) or psycopg 3 (copy)."""
    if hasattr(cur, "copy_expert"):
        cur.copy_expert(statement, data)
        return
    with cur.copy(statement) as copy:
        copy.write(data.getvalue())


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


def generate(crm_conn, telemetry_conn, users: int, events: int, updates: int = 0, deletes: int = 0,
             now: np.datetime64 | None = None, seed: int | None = None) -> DemoResult:
    """Write `users` users and `events` events (linked to existing users); then update and delete some.

    The demo login accounts' users (customer1..3) are among the first users written.

    ``updates`` change that many random users; ``deletes`` remove that many random events.
    """
    check_counts(users=users, events=events, updates=updates, deletes=deletes)
    now = now if now is not None else np.datetime64("now", "us")
    gen = Generator(seed)
    with crm_conn.cursor() as cur:
        if users:
            added = _add_demo_customers(cur, gen, users)
            if users > added:
                _copy(cur, USERS_COPY, gen.users_csv(users - added, now))
        if updates:
            cur.execute(UPDATE_USERS_SQL, (updates,))
        cur.execute(USER_UUIDS_SQL)
        user_uuids = [row[0] for row in cur.fetchall()]
    crm_conn.commit()
    with telemetry_conn.cursor() as cur:
        if events:
            _copy(cur, EVENTS_COPY, gen.events_csv(events, user_uuids, now))
        if deletes:
            cur.execute(DELETE_EVENTS_SQL, (deletes,))
    telemetry_conn.commit()
    return DemoResult(users, events, updates, deletes)
