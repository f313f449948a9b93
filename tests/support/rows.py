"""Rows of the sources and of both ClickHouse schemas, compared row for row; waits until the roads converge."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import psycopg2
import pytest

from bionicflow.kernel.olap import olap_client

CONVERGE_SECONDS = 120


def pg(settings, db: str):
    user, password = {
        "crm_db": (settings.crm_user, settings.crm_password),
        "telemetry_db": (settings.telemetry_user, settings.telemetry_password),
    }[db]
    port = settings.crm_db_port if db == "crm_db" else settings.telemetry_db_port
    conn = psycopg2.connect(host=settings.host, port=port, dbname=db, user=user, password=password.get_secret_value())
    conn.autocommit = True
    return conn


def superuser(settings, db: str, cluster: str = "crm_db"):
    """An autocommit connection to ``db`` as the PostgreSQL superuser of the ``cluster`` (crm_db or telemetry_db)."""
    password = (settings.secrets_dir / f"{cluster}_superuser_password").read_text().strip()
    port = settings.crm_db_port if cluster == "crm_db" else settings.telemetry_db_port
    conn = psycopg2.connect(host=settings.host, port=port, dbname=db, user="postgres", password=password)
    conn.autocommit = True
    return conn


def olap_admin(settings):
    """A client as the administrative user, made by the kernel's factory like every client of the product."""
    return olap_client(settings)


def norm(value):
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).replace(tzinfo=None)
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


SOURCE_SQL = {
    "users": "SELECT id, user_uuid, name, email, age, gender, country, address, phone, registered_at FROM users",
    "telemetry_events": (
        "SELECT id, event_uuid, user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration,"
        " signal_amplitude, created_ts, saved_ts FROM telemetry_events"
    ),
}


def source_rows(settings, table) -> dict:
    conn = pg(settings, table.source_database)
    try:
        with conn.cursor() as cur:
            cur.execute(SOURCE_SQL[table.name])
            return {row[0]: tuple(norm(v) for v in row) for row in cur.fetchall()}
    finally:
        conn.close()


def clickhouse_rows(settings, table) -> dict:
    cols = ", ".join(table.business_columns)
    result = olap_admin(settings).query(f"SELECT {cols} FROM debezium.{table.name} FINAL")
    return {row[0]: tuple(norm(v) for v in row) for row in result.result_rows}


# The source columns whose text is the same in PostgreSQL and ClickHouse (no floats, no timestamps): each side sums the
# first 60 bits of the MD5 of each row's text, so a poll moves two numbers, not two whole tables.
FINGERPRINT_COLUMNS = {
    "users": ("id", "user_uuid", "name", "email", "age", "gender", "country", "address", "phone"),
    "telemetry_events": ("id", "event_uuid", "user_uuid", "prosthesis_type", "muscle_group", "signal_frequency",
                         "signal_duration"),
}
# polls (~10 s): the row-for-row comparison also runs while the fingerprints disagree, a safety net should
# some value's text ever differ between the two databases (then the fingerprints never agree)
FULL_COMPARE_EVERY = 20


def _source_fingerprint(settings, table) -> tuple[int, int]:
    text = ", ".join(f"coalesce({c}::text, '~')" for c in FINGERPRINT_COLUMNS[table.name])
    conn = pg(settings, table.source_database)
    try:
        with conn.cursor() as cur:
            cur.execute(f"SELECT count(*), coalesce(sum(('x' || substr(md5(concat_ws('|', {text})), 1, 15))"
                        f"::bit(60)::bigint), 0) FROM {table.source_table}")
            count, total = cur.fetchone()
            return int(count), int(total) % 2**64  # ClickHouse's UInt64 sum wraps
    finally:
        conn.close()


def _debezium_fingerprint(settings, table) -> tuple[int, int]:
    named = {c.source: c.name for c in table.columns}  # user_id in ClickHouse is id in PostgreSQL
    text = ", ".join(f"ifNull(toString({named[c]}), '~')" for c in FINGERPRINT_COLUMNS[table.name])
    count, total = olap_admin(settings).query(
        f"SELECT count(), sum(reinterpretAsUInt64(reverse(unhex(concat('0', substring(hex(MD5(concat_ws('|', {text}))),"
        f" 1, 15)))))) FROM debezium.{table.name} FINAL").result_rows[0]
    return int(count), int(total)


def fingerprints_agree(settings, table) -> bool:
    return _source_fingerprint(settings, table) == _debezium_fingerprint(settings, table)


def wait_converged(settings, table, timeout: float = CONVERGE_SECONDS) -> dict:
    """Poll until ClickHouse FINAL equals the source, row for row; fail with the differences.

    Polls compare the two sides' fingerprints (a count and a checksum computed by each database);
    the whole tables are read and compared when they agree, every ~10 s in any case, and at the deadline.
    """
    deadline, polls = time.monotonic() + timeout, 0
    while True:
        polls += 1
        if polls % FULL_COMPARE_EVERY == 0 or fingerprints_agree(settings, table) or time.monotonic() > deadline:
            src, dst = source_rows(settings, table), clickhouse_rows(settings, table)
            if src == dst:
                return src
            if time.monotonic() > deadline:
                missing = sorted(set(src) - set(dst))[:5]
                extra = sorted(set(dst) - set(src))[:5]
                differ = [(k, src[k], dst[k]) for k in sorted(set(src) & set(dst)) if src[k] != dst[k]][:3]
                pytest.fail(
                    f"debezium.{table.name} FINAL != source after {timeout}s: {len(src)} vs {len(dst)} rows; "
                    f"missing {missing}, extra {extra}, different {differ}"
                )
        time.sleep(0.5)


def no_duplicate_keys(settings, table) -> None:
    dupes = olap_admin(settings).command(f"SELECT count() - uniqExact({table.key}) FROM debezium.{table.name} FINAL")
    assert dupes == 0, f"{dupes} duplicate keys in debezium.{table.name} FINAL"


def default_rows(settings, table) -> dict:
    cols = ", ".join(table.business_columns)
    result = olap_admin(settings).query(f"SELECT {cols} FROM default.{table.name} FINAL")
    return {row[0]: tuple(norm(v) for v in row) for row in result.result_rows}


def apply_sql(settings, db: str, statements: list[str]) -> None:
    """Run statements in a source database as its owner, each committed on its own."""
    conn = pg(settings, db)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()
