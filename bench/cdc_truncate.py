"""TRUNCATE on the CDC road at scale: how long until `debezium` holds none of the old rows, and what it costs the stream.

On a kept, loaded benchmark stack whose CDC streams (run it after the other benchmarks: it
empties `telemetry_events`). A writer inserts into `telemetry_events` at --rate rows/s
(bench/cdc_under_load.py); freshness per phase: `before` (--seconds), then `TRUNCATE
telemetry_events` and `during` (until `debezium.telemetry_events FINAL` holds no row older
than the TRUNCATE), then `after` (--seconds). One run: a second would need the 5M rows
streamed in again.

Run: python -m bench.cdc_truncate --reuse STATE_DIR [--rate 2500 --seconds 60]
"""

from __future__ import annotations

import json

from bench.batch_etl import olap, pg
from bench.cdc_under_load import Stream, setup, under_load, wait_for
from bench.common import machine

STREAM = Stream(
    insert_sql="INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency, "
               "signal_duration, signal_amplitude, created_ts, saved_ts) SELECT gen_random_uuid(), 'arm', %(mark)s, "
               "g, g, g / 3.0, clock_timestamp(), clock_timestamp() FROM generate_series(1, %(n)s) g",
    newest_sql="SELECT max(saved_ts) FROM debezium.telemetry_events WHERE muscle_group = {m:String}",
    mark="truncate-bench",
)
OLDER_SQL = "SELECT count() FROM debezium.telemetry_events FINAL WHERE saved_ts < {t:DateTime64(6)}"


def main() -> None:
    args, _, s, src, rows = setup("telemetry_events")
    client = olap(s)

    def truncate() -> dict:
        conn = pg(src)
        conn.autocommit = True
        with conn.cursor() as cur:
            # taken before: a writer row stamped earlier was inserted before the TRUNCATE took its lock, so
            # it is gone; one stamped after the TRUNCATE's commit (but before a later clock read) is not
            cur.execute("SELECT clock_timestamp() AT TIME ZONE 'UTC'")
            truncated_at = cur.fetchone()[0]
            cur.execute("TRUNCATE telemetry_events")
        conn.close()
        checker = olap(s)
        emptied = wait_for(lambda: not checker.query(OLDER_SQL, parameters={"t": truncated_at}).result_rows[0][0],
                           "debezium emptied of the rows before the TRUNCATE")
        return {"seconds_until_debezium_empty_of_old_rows": round(emptied, 1)}

    out = {"machine": machine(), "rows_truncated": rows, "writer_rows_per_s": args.rate,
           **under_load(src, client, STREAM, args.rate, args.seconds, truncate)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
