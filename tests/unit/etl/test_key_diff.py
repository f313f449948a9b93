"""The key sync's bitmap comparison on the real engine (chdb in-process).

The source's bitmaps are a local table shaped as `postgresql()` returns the source's
`<table>_key_masks` view: Nullable signed 64-bit values, computed here the way PostgreSQL does
(`bit_or(1::bigint << (id & 63))`, so bit 63 makes a mask negative).
"""

import pytest

from bionicflow.etl import changes, load
from bionicflow.kernel.tables import USERS
from tests.support.chdb_engine import ChdbClient, engine_with_sources

SOURCE = "src.users_key_masks"


def _signed(mask: int) -> int:
    return mask - 2**64 if mask >= 2**63 else mask


def source_masks(keys: set[int]) -> list[tuple[int, int]]:
    masks: dict[int, int] = {}
    for key in keys:
        masks[key >> 6] = masks.get(key >> 6, 0) | (1 << (key & 63))
    return [(bucket, _signed(mask)) for bucket, mask in masks.items()]


@pytest.fixture
def client(tmp_path):
    conn = engine_with_sources(tmp_path)
    conn.query(f"CREATE TABLE {SOURCE} (bucket Nullable(Int64), key_mask Nullable(Int64)) ENGINE = Memory")
    return ChdbClient(conn)


def diff(client, source_keys: set[int], default_keys: list[int]) -> tuple[changes.KeyDiff, set[int], set[int]]:
    if source_keys:
        values = ", ".join(f"({b}, {m})" for b, m in source_masks(source_keys))
        client.command(f"INSERT INTO {SOURCE} VALUES {values}")
    if default_keys:
        rows = ", ".join(f"({k}, generateUUIDv4(), 'n', 'e', now64(6), 1)" for k in default_keys)
        client.command(f"INSERT INTO default.users (user_id, user_uuid, name, email, registered_at, _version) "
                       f"VALUES {rows}")
    client.command(changes.key_diff_sql(USERS, source=SOURCE))
    found = changes.count_key_diff(client, USERS)
    extra = {int(k) for (k,) in client.query(changes._keys(USERS, changes.EXTRA_BITS)).result_rows}
    missing = {int(k) for (k,) in client.query(changes.missing_keys_sql(USERS)).result_rows}
    return found, extra, missing


def test_equal_key_sets_differ_nowhere_even_with_every_bit_of_a_bucket_set(client):
    keys = set(range(0, 128)) | {200, 4_000_000_063}  # two full buckets: masks with bit 63 set (negative in PG)
    assert diff(client, keys, sorted(keys) + [5, 200])[0] == changes.KeyDiff(0, 0)  # versions: same keys


def test_deleted_missing_and_phantom_keys_are_found_exactly(client):
    source = set(range(1, 300)) - {7, 64, 127}  # 7, 64 and 127 deleted in the source
    default = sorted((source | {7, 64, 127, 987_654_321}) - {250, 299})  # a phantom; 250 and 299 never loaded
    found, extra, missing = diff(client, source, default)
    assert (found, extra, missing) == (changes.KeyDiff(4, 2), {7, 64, 127, 987_654_321}, {250, 299})


def test_a_side_with_no_keys_differs_in_every_key(client):
    found, _, missing = diff(client, {1, 2, 3, 100}, [])
    assert (found, missing) == (changes.KeyDiff(0, 4), {1, 2, 3, 100})


def test_no_keys_on_either_side_is_no_difference(client):
    assert diff(client, set(), [])[0] == changes.KeyDiff(0, 0)


def test_a_row_whose_sorting_key_changed_keeps_only_its_newest_position(client):
    """An update of `user_uuid` puts the new version at another sorting key: FINAL alone would keep both."""
    rows = [(1, "00000000-0000-4000-8000-00000000000a", 1), (1, "00000000-0000-4000-8000-00000000000b", 2),
            (2, "00000000-0000-4000-8000-00000000000a", 1), (3, "00000000-0000-4000-8000-00000000000c", 1),
            (3, "00000000-0000-4000-8000-00000000000c", 5)]  # 3: versions at one position (FINAL collapses them)
    values = ", ".join(f"({k}, '{u}', 'n', 'e', now64(6), {v})" for k, u, v in rows)
    client.command(f"INSERT INTO default.users (user_id, user_uuid, name, email, registered_at, _version) VALUES {values}")
    final = "SELECT user_id, toString(user_uuid) FROM default.users FINAL ORDER BY user_id"
    assert len(client.query(final).result_rows) == 4  # key 1 twice
    assert load.drop_moved_versions(client, USERS) == 1
    assert client.query(final).result_rows == [(1, rows[1][1]), (2, rows[2][1]), (3, rows[3][1])]
    assert load.drop_moved_versions(client, USERS) == 0  # nothing left to move


def test_a_load_looks_for_moved_rows_only_among_the_keys_it_wrote(client):
    """A journal load passes its version: a key it did not write is not its to fix (nor worth the scan)."""
    rows = [(1, "00000000-0000-4000-8000-00000000000a", 1), (1, "00000000-0000-4000-8000-00000000000b", 7),
            (2, "00000000-0000-4000-8000-00000000000a", 1), (2, "00000000-0000-4000-8000-00000000000c", 3)]
    values = ", ".join(f"({k}, '{u}', 'n', 'e', now64(6), {v})" for k, u, v in rows)
    client.command(f"INSERT INTO default.users (user_id, user_uuid, name, email, registered_at, _version) VALUES {values}")
    assert load.drop_moved_versions(client, USERS, version=7) == 1  # key 1 only: version 7 wrote it
    final = "SELECT user_id, toString(user_uuid) FROM default.users FINAL ORDER BY user_id, user_uuid"
    assert client.query(final).result_rows == [(1, rows[1][1]), (2, rows[2][1]), (2, rows[3][1])]
    assert load.drop_moved_versions(client, USERS, version=3) == 1
    assert client.query(final).result_rows == [(1, rows[1][1]), (2, rows[3][1])]


def test_a_loads_rows_are_its_own_not_the_report_marks_its_views_wrote(client):
    # an insert into default.telemetry_events also writes a report-snapshot mark per user (a view): the engine's
    # written_rows counts both; the load reports its own rows only
    from bionicflow.kernel.tables import TELEMETRY_EVENTS

    client.command("INSERT INTO default.telemetry_events (id, event_uuid, user_uuid, prosthesis_type, muscle_group, "
                   "signal_frequency, signal_duration, signal_amplitude, created_ts, saved_ts, _version) "
                   "SELECT number, toString(number), toString(number % 4), 'arm', 'biceps', 1, 1, 1.0, now64(6), "
                   "now64(6), 77 FROM numbers(10)")
    marks = client.command("SELECT count() FROM default.user_report_snapshots")
    assert marks == 4, "the view wrote one mark per user"
    assert load.loaded_rows(client, TELEMETRY_EVENTS, 77, {"written_rows": "14"}) == 10
    assert load.loaded_rows(client, TELEMETRY_EVENTS, 77, {"written_rows": "0"}) == 0
