"""What the change journal's triggers cost the source's writers, against the same writes without them.

On a benchmark stack (its telemetry_db), per run and in alternating order, with the journal's
three triggers enabled and then disabled (`ALTER TABLE ... DISABLE TRIGGER`): single-row
INSERTs and UPDATEs each in its own transaction (an application's writes), one multi-row
INSERT, and a COPY. Rows per second, median of the runs; the journal is trimmed between
runs as a load would. The triggers are left enabled (ALWAYS) at the end.

Run: python -m bench.journal_writes --reuse STATE_DIR [--runs K]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time

from bench.batch_etl import pg, sources
from bench.common import bench_stack, machine
from bionicflow.kernel.config import Settings
from bionicflow.kernel.tables import TELEMETRY_EVENTS

TRIGGERS = ("bionicflow_journal_insert", "bionicflow_journal_update", "bionicflow_journal_delete")
COLUMNS = "user_uuid, prosthesis_type, muscle_group, signal_frequency, signal_duration, signal_amplitude, created_ts"
ROW = "(gen_random_uuid(), 'arm', 'journal-bench', 1, 2, 0.5, now() - interval '1 year')"
SINGLE = 2_000  # single-row statements per sample
BULK = 100_000  # rows per multi-row INSERT and per COPY


def _switch(cur, on: bool) -> None:
    for trigger in TRIGGERS:
        cur.execute(f"ALTER TABLE telemetry_events {'ENABLE ALWAYS' if on else 'DISABLE'} TRIGGER {trigger}")


def _rate(rows: int, fn) -> float:
    started = time.perf_counter()
    fn()
    return rows / (time.perf_counter() - started)


def _workloads(cur, ids: list[int]) -> dict[str, float]:
    def single_inserts():
        for _ in range(SINGLE):
            cur.execute(f"INSERT INTO telemetry_events ({COLUMNS}) VALUES {ROW}")

    def single_updates():
        for key in ids:
            cur.execute("UPDATE telemetry_events SET signal_frequency = signal_frequency + 1 WHERE id = %s", (key,))

    def bulk_insert():
        cur.execute(f"INSERT INTO telemetry_events ({COLUMNS}) SELECT gen_random_uuid(), 'arm', 'journal-bench', "
                    f"g % 500, g % 900, g / 7.0, now() - interval '1 year' FROM generate_series(1, {BULK}) g")

    def copy():
        data = "".join(f"{'7d0c1a52-3b8e-4f00-9c6e-%012d' % i}\tarm\tjournal-bench\t1\t2\t0.5\t2025-01-01 00:00:00\n"
                       for i in range(BULK))
        cur.copy_expert(f"COPY telemetry_events ({COLUMNS}) FROM STDIN", io.StringIO(data))

    return {"single-row INSERT (autocommit)": _rate(SINGLE, single_inserts),
            "single-row UPDATE by key (autocommit)": _rate(len(ids), single_updates),
            f"INSERT ... SELECT of {BULK:,} rows": _rate(BULK, bulk_insert),
            f"COPY of {BULK:,} rows": _rate(BULK, copy)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", required=True, help="a kept benchmark stack's state directory")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    samples: dict[bool, list[dict[str, float]]] = {True: [], False: []}
    with bench_stack(args.reuse):
        src = sources(Settings())[TELEMETRY_EVENTS.name]
        conn = pg(src)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT id FROM telemetry_events ORDER BY random() LIMIT %s", (SINGLE,))
            ids = [k for (k,) in cur.fetchall()]
            try:
                for run in range(args.runs):
                    for on in ((True, False) if run % 2 == 0 else (False, True)):
                        _switch(cur, on)
                        samples[on].append(_workloads(cur, ids))
                        cur.execute("SELECT public.bionicflow_forget_changes('telemetry_events', "
                                    "pg_current_xact_id()::text::bigint)")
                cur.execute("DELETE FROM telemetry_events WHERE muscle_group = 'journal-bench'")
            finally:
                _switch(cur, True)
        conn.close()
    result = {"machine": machine(), "runs": args.runs, "rows_per_second": {}}
    for name in samples[True][0]:
        on = statistics.median(s[name] for s in samples[True])
        off = statistics.median(s[name] for s in samples[False])
        result["rows_per_second"][name] = {"journal": round(on), "no journal": round(off),
                                           "journal / none": round(on / off, 3)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
