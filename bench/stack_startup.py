"""Embedded stack: cold `up` (empty state dir), warm `up` (data present), idle memory.

Cold means an empty state directory with the JVM jars and Python packages already cached
(their download is a one-time install step, not start-up). Each run is the real CLI.
Memory: the sum over supervisord and every process under it, as RSS and as PSS (PSS
splits shared pages between processes, so it does not count shared libraries twice).

Run: python -m bench.stack_startup [--runs K]   (own state dir and ports, stops the stack after)
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import psutil

from bench.common import bench_stack, bionicflow as cli, machine, median_of, timed
from bionicflow.stack.supervisor import Supervisor


def memory(state_dir: str) -> dict:
    root = psutil.Process(Supervisor(Path(state_dir)).daemon_pid())
    procs = [root, *root.children(recursive=True)]
    rss = pss = 0
    for proc in procs:
        try:
            info = proc.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        rss += info.rss
        pss += info.pss
    return {"processes": len(procs), "rss_gib": round(rss / 2**30, 2), "pss_gib": round(pss / 2**30, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--idle-seconds", type=float, default=60, help="settle time before measuring memory")
    args = parser.parse_args()
    with bench_stack() as env:
        state = env["BIONICFLOW_STATE_DIR"]

        def cold() -> float:
            cli(env, "down")
            shutil.rmtree(state, ignore_errors=True)
            return timed(lambda: cli(env, "up"))

        def warm() -> float:
            cli(env, "down")
            return timed(lambda: cli(env, "up"))

        cold_med, cold_all = median_of(args.runs, cold)
        warm_med, warm_all = median_of(args.runs, warm)
        time.sleep(args.idle_seconds)  # let the stack go idle: this is a measurement, not a synchronisation
        mem = memory(state)
    print(json.dumps({
        "machine": machine(), "runs": args.runs,
        "cold_up_s": round(cold_med, 1), "cold_samples": [round(x, 1) for x in cold_all],
        "warm_up_s": round(warm_med, 1), "warm_samples": [round(x, 1) for x in warm_all],
        "idle_memory": mem,
    }, indent=2))


if __name__ == "__main__":
    main()
