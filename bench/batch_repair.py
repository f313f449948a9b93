"""Repair of 1,000 wrong keys in `default` by key, against a full refresh, measured in the same run.

On a stack of its own loaded with N users + M events (1M + 5M by default), per run:
  1. `default.telemetry_events` is damaged behind the platform's back: 500 rows deleted, 500
     rows changed (a lightweight DELETE and an UPDATE mutation in ClickHouse);
  2. reconciliation's comparison finds them and records their keys (not timed: that is
     `cdc_reconcile`'s regular work, the same whatever the repair);
  3. (a) `etl_default`'s mode "repair" of the table (bionicflow.etl.repair.repair);
  4. the same damage again, then (b) a full refresh of the table (the baseline).
Each is checked: after (a) and (b), `default` must equal the source by row hash.

Run: python -m bench.batch_repair [--users N --events M --runs K] [--reuse STATE_DIR]
"""

from __future__ import annotations

import json
import statistics
import uuid

from bench.batch_etl import loaded_stack, olap, scale_run, settle
from bench.batch_incremental import pause_dags
from bench.common import timed
from bionicflow.etl import ddl as schema
from bionicflow.etl.load import full_refresh
from bionicflow.etl.repair import repair
from bionicflow.kernel.sources import reader_sources
from bionicflow.kernel.tables import TELEMETRY_EVENTS as TABLE
from bionicflow.reconcile.compare import compare_table
from bionicflow.reconcile.run import default_loads

DAMAGED = 1_000


def damage(client) -> None:
    keys = [int(k) for (k,) in client.query(
        f"SELECT id FROM default.{TABLE.name} ORDER BY cityHash64(id, rand()) LIMIT {{n:UInt32}}",
        parameters={"n": DAMAGED}).result_rows]
    half = DAMAGED // 2
    client.command(f"DELETE FROM default.{TABLE.name} WHERE id IN {{k:Array(Int64)}}", parameters={"k": keys[:half]})
    client.command(f"ALTER TABLE default.{TABLE.name} UPDATE muscle_group = 'damaged' WHERE id IN {{k:Array(Int64)}} "
                   "SETTINGS mutations_sync = 1", parameters={"k": keys[half:]})


def find_and_record(client, srcs) -> int:
    """Reconciliation's comparison of `default`, recording the wrong keys; returns how many it found."""
    load = default_loads(client, srcs)[TABLE.name]
    result = compare_table(client, TABLE, srcs[TABLE.name], load, sides=("default",), run_id=uuid.uuid4().hex)
    return next(r.stale_rows for r in result if r.side == "default")


def matches(client, srcs) -> bool:
    return all(r.match for r in compare_table(client, TABLE, srcs[TABLE.name], sides=("default",)))


def main() -> None:
    args, out = scale_run()
    with loaded_stack(args, out) as (s, _):
        pause_dags(s)
        client = olap(s)
        schema.apply(client)
        srcs = reader_sources(s)
        full_refresh(client, TABLE, srcs[TABLE.name])  # a cursor, and `default` equal to the source
        samples: dict[str, list[float]] = {"repair_by_key": [], "full_refresh": []}
        found, checks = [], []
        for _ in range(args.runs):
            settle(client)
            damage(client)
            found.append(find_and_record(client, srcs))
            samples["repair_by_key"].append(timed(lambda: repair(client, TABLE, srcs[TABLE.name])))
            checks.append(matches(client, srcs))
            damage(client)
            settle(client)
            samples["full_refresh"].append(timed(lambda: full_refresh(client, TABLE, srcs[TABLE.name])))
            checks.append(matches(client, srcs))
        med = {k: statistics.median(v) for k, v in samples.items()}
        out["table"] = TABLE.name
        out["wrong_keys_found"] = found
        out["seconds"] = {k: {"median": round(med[k], 2), "samples": [round(x, 2) for x in v]}
                          for k, v in samples.items()}
        out["repair_vs_full"] = round(med["repair_by_key"] / med["full_refresh"], 3)
        out["default_equals_source_after_each"] = checks
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
