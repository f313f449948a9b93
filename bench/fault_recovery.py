"""Recovery time per fault scenario, as the median of several runs of the fault suite.

Each run is the real fault suite (tests/faults/test_faults.py, its own embedded stack on
the test ports, ~1,000 changes/s of load) writing its measurements to its own file; this
script runs it --runs times and prints, per scenario, the median and every run of each
measured duration. Do not run it while the test suite runs: they share the test ports.

Run: python -m bench.fault_recovery [--runs 3] [-k EXPRESSION] [--outage 180]
     (-k as pytest's, default: every kill -9; -k connect_down with --outage for the long Connect outage)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import machine
from bionicflow.kernel.config import project_root

# The durations each scenario records (seconds), in the order they are shown.
DURATIONS = ("restart_s", "recovery_to_lag_under_5s", "stall_visible_after_s", "recovery_after_release_s",
             "task_failed_after_s", "recovery_after_raising_the_limit_s", "catch_up_to_lag_under_5s")


def run_suite(results: Path, selection: str, outage: float) -> dict:
    # the stall counts as shown at a lag of 30 s, under 1,000 changes/s, as docs/reliability.md's numbers were measured
    env = {**os.environ, "BIONICFLOW_FAULT_RESULTS": str(results), "BIONICFLOW_FAULT_OUTAGE_SECONDS": str(outage),
           "BIONICFLOW_FAULT_STALL_SECONDS": "30", "BIONICFLOW_FAULT_CHANGES_PER_SECOND": "1000"}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/faults/test_faults.py",
               "-k", selection]
    done = subprocess.run(command, cwd=project_root(), env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"fault suite failed:\n{done.stdout[-4000:]}")
    return json.loads(results.read_text())


def summarise(runs: list[dict]) -> list[str]:
    """A markdown table: one row per scenario, each duration as median (every run)."""
    lines = ["| scenario | durations: median (each run), s | reconciliation after each run |", "|---|---|---|"]
    for scenario in runs[0]:
        recorded = [run[scenario] for run in runs if scenario in run]
        durations = "; ".join(
            f"{measure} {statistics.median(values):.1f} ({' / '.join(f'{v:.1f}' for v in values)})"
            for measure in DURATIONS if measure in recorded[0]
            for values in [[r[measure] for r in recorded if measure in r]])
        verdicts = [_verdict(r.get("reconciliation")) for r in recorded]
        said = "; ".join(f"{v} (×{verdicts.count(v)})" for v in dict.fromkeys(verdicts))
        lines.append(f"| {scenario} | {durations} | {said} |")
    return lines


def _verdict(reconciliation: dict | None) -> str:
    """One run's reconciliation in words: its verdict, `debezium` against the source, and `default`."""
    if not reconciliation:
        return "—"
    debezium = "=" if all(t["match"] for t in reconciliation["debezium"].values()) else "≠"
    default = reconciliation.get("default", {})
    behind = sum(t["missing"] + t["extra"] + t["differing"] for t in default.values())
    batch = f"; default {behind:,} rows behind (batch road)" if behind else "; default = source" if default else ""
    return f"{reconciliation['verdict']}: debezium {debezium} source{batch}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("-k", dest="selection", default="kill_9")
    parser.add_argument("--outage", type=float, default=180,
                        help="seconds Kafka Connect stays down in the outage scenario (the test suite's own: 30)")
    args = parser.parse_args()
    print(f"machine: {machine()}; fault suite -k {args.selection!r}, {args.runs} runs", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-faults-") as tmp:
        for n in range(args.runs):
            runs.append(run_suite(Path(tmp) / f"run-{n}.json", args.selection, args.outage))
            print(f"run {n + 1}/{args.runs} done", flush=True)
    print("\n".join(summarise(runs)))


if __name__ == "__main__":
    main()
