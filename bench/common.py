"""Shared helpers for benchmarks: medians, the machine, isolated settings."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import time
from typing import Callable


def machine() -> str:
    cpu = "unknown cpu"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}"


def scale_arguments(parser, reuse_help: str, load_only: bool = False) -> None:
    """The options of the benchmarks that load N users + M events: sizes, runs, a kept stack."""
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reuse", metavar="STATE_DIR", help=reuse_help)
    if load_only:
        parser.add_argument("--load-only", action="store_true",
                            help="load the data and stop (with BIONICFLOW_BENCH_KEEP=1)")


def variant_arguments() -> argparse.Namespace:
    """--reuse STATE_DIR (required) and --runs: the options of the experiments on a kept stack."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", metavar="STATE_DIR", required=True, help="a kept, loaded benchmark stack")
    parser.add_argument("--runs", type=int, default=3)
    return parser.parse_args()


def print_variants(table: str, runs: int, samples: dict[str, list[float]]) -> None:
    """An experiment's result: the median and samples (s) of every variant."""
    print(json.dumps({"machine": machine(), "table": table, "runs": runs,
                      "median_s": {k: statistics.median(v) for k, v in samples.items()}, "samples_s": samples},
                     indent=2))


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median_of(runs: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    samples = [fn() for _ in range(runs)]
    return statistics.median(samples), samples


# A benchmark's own stack: other ports and state dir than `make run` and the tests.
BENCH_PORTS = {
    "CRM_DB_PORT": 35444, "TELEMETRY_DB_PORT": 35445, "AIRFLOW_DB_PORT": 35446, "KAFKA_PORT": 39092,
    "KAFKA_CONTROLLER_PORT": 39093, "KAFKA_CONNECT_PORT": 38083, "OLAP_PORT": 38123,
    "AIRFLOW_PORT": 38080, "REPORTS_API_PORT": 38000,
}


def bench_env(state_dir: str) -> dict[str, str]:
    """Environment for a benchmark stack; also applied to this process so Settings() agrees."""
    env = {"BIONICFLOW_STATE_DIR": state_dir, **{f"BIONICFLOW_{k}": str(v) for k, v in BENCH_PORTS.items()}}
    os.environ.update(env)
    return {**os.environ, **env}


def bionicflow(env: dict[str, str], *args: str) -> None:
    """Run the real CLI; raise with its output when it fails."""
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "bionicflow.cli", *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"bionicflow {' '.join(args)} failed:\n{result.stderr[-3000:]}")


def fresh_stack(env: dict[str, str]) -> None:
    """Stop the benchmark stack, wipe its state and start it again from empty."""
    import shutil

    bionicflow(env, "down")
    shutil.rmtree(env["BIONICFLOW_STATE_DIR"], ignore_errors=True)  # `up` recreates it reachable by PostgreSQL's user
    bionicflow(env, "up")


@contextlib.contextmanager
def bench_stack(reuse: str | None = None):
    """The environment of a benchmark stack in a temporary state dir; stopped and removed afterwards.

    `reuse`: the state dir of a stack an earlier run kept (BIONICFLOW_BENCH_KEEP=1); it stays running.
    """
    import shutil
    import tempfile

    if reuse:
        yield bench_env(reuse)
        return
    env = bench_env(tempfile.mkdtemp(prefix="bionicflow-bench-"))
    try:
        yield env
    finally:
        if os.environ.get("BIONICFLOW_BENCH_KEEP") == "1":  # to look at a failed run's logs and data
            print(f"benchmark stack kept running in {env['BIONICFLOW_STATE_DIR']}", flush=True)
        else:
            bionicflow(env, "down")
            shutil.rmtree(env["BIONICFLOW_STATE_DIR"], ignore_errors=True)
