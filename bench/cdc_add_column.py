"""ADD COLUMN on a 1M-row source table under a steady stream: how long until each road has the column.

On a kept, loaded benchmark stack whose CDC streams (`users` in `debezium`, e.g. after
`bench.cdc streaming`, or any stack where `debezium.users` follows the source). A writer
inserts users at --rate rows/s (bench/cdc_under_load.py) stamping `registered_at` with the
commit's clock; freshness per phase `before` / `during` / `after`. The change:
`ALTER TABLE users ADD COLUMN <c> text DEFAULT 'bench'` (PostgreSQL adds a column with a
constant default without rewriting the table). Measured: seconds from its commit until
`debezium.users` has the column (the CDC consumer adds it at the first change that carries it,
here a writer row) and until `debezium.users FINAL` shows a writer row's value in it; then the
batch road's next load (`run_load`, what etl_default runs), which copies the table whole once
because the source gained a column: its duration, and `default.users` with the column and the
default on every old row. The column is dropped again in both schemas and the source at the end.

Run: python -m bench.cdc_add_column --reuse STATE_DIR [--rate 2500 --seconds 60]
"""

from __future__ import annotations

import json
import time

from bench.batch_etl import olap, pg
from bench.cdc_under_load import Stream, setup, under_load, wait_for
from bench.common import bionicflow, machine
from bionicflow.cdc import evolve as cdc_evolve
from bionicflow.etl.run import run_load
from bionicflow.kernel.tables import USERS

COLUMN = "bench_added"
STREAM = Stream(
    insert_sql="INSERT INTO users (name, email, registered_at) SELECT %(mark)s, 'bench' || g || '@example.org', "
               "clock_timestamp() FROM generate_series(1, %(n)s) g",
    newest_sql="SELECT max(registered_at) FROM debezium.users WHERE name = {m:String}",
    mark="add-column-bench",
)
HAS_COLUMN_SQL = "SELECT count() FROM system.columns WHERE database = {d:String} AND table = 'users' AND name = {c:String}"


def main() -> None:
    args, env, s, src, rows = setup("users")
    checker = olap(s)
    run_load(olap(s), USERS, src, "bench-add-column-baseline", "incremental")  # `default` current before the change

    def has_column(database: str) -> bool:
        return bool(checker.query(HAS_COLUMN_SQL, parameters={"d": database, "c": COLUMN}).result_rows[0][0])

    def add_column() -> dict:
        conn = pg(src)
        conn.autocommit = True
        with conn.cursor() as cur:
            started = time.monotonic()
            cur.execute(f"ALTER TABLE users ADD COLUMN {COLUMN} text DEFAULT 'bench'")
            altered = time.monotonic() - started
        conn.close()
        visible = wait_for(lambda: has_column("debezium"), "the column in debezium.users")
        valued = wait_for(lambda: checker.query(
            f"SELECT count() FROM debezium.users FINAL WHERE {COLUMN} = 'bench' AND name = {{m:String}}",
            parameters={"m": STREAM.mark}).result_rows[0][0] > 0, "a writer row's value in the column")
        return {"alter_table_seconds": round(altered, 3),
                "seconds_until_debezium_has_the_column": round(altered + visible, 2),
                "seconds_until_debezium_shows_a_value_in_it": round(altered + visible + valued, 2)}

    try:
        out = {"machine": machine(), "rows_in_users": rows, "writer_rows_per_s": args.rate,
               **under_load(src, olap(s), STREAM, args.rate, args.seconds, add_column)}
        result = run_load(olap(s), USERS, src, "bench-add-column", "incremental")
        defaults = checker.query(f"SELECT countIf({COLUMN} = 'bench'), count() FROM default.users FINAL").result_rows[0]
        out["batch_load_after_the_change"] = {"mode": result.mode, "seconds": round(result.seconds, 2),
                                              "rows": result.rows, "reason": result.reason,
                                              "default_rows_with_the_default_value": defaults[0],
                                              "default_rows": defaults[1]}
    finally:
        with pg(src) as conn, conn.cursor() as cur:
            cur.execute(f"ALTER TABLE users DROP COLUMN IF EXISTS {COLUMN}")
            cur.execute("DELETE FROM users WHERE name = %s", (STREAM.mark,))
        bionicflow(env, "stop", "cdc_consumer")  # it remembers the column: it must not write while it goes
        try:
            for database in ("default", "debezium"):
                checker.command(f"ALTER TABLE {database}.users DROP COLUMN IF EXISTS {COLUMN}")
            checker.command("DELETE FROM debezium.added_columns WHERE table_name = 'users' AND name = {c:String}",
                            parameters={"c": COLUMN})
            cdc_evolve.rebuild_views(checker, USERS)
        finally:
            bionicflow(env, "start", "cdc_consumer")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
