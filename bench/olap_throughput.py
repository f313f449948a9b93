"""OLAP server throughput through clickhouse-connect vs chdb called in-process, same run.

Both sides take the same pandas DataFrame of N rows and produce the same table/DataFrame:
  insert:  client.insert_df(table, df)            vs  conn.query("INSERT INTO t SELECT * FROM Python(df)")
  select:  client.query_df("SELECT * FROM t")     vs  conn.query("SELECT * FROM t", "DataFrame")
Ratio = in-process time / server time (1.0 = the HTTP server costs nothing; target >= 0.7).
The server side is also measured with clickhouse-connect's other ways to the same DataFrame:
Arrow format (`insert_arrow` of the DataFrame converted by pyarrow, `query_arrow(...).to_pandas()`)
and no compression (`compress=False`, sensible on loopback), each against the same baseline.
Also the floor of any server on chdb: the time chdb itself, in-process, takes to serialise
the table into each wire format, next to the baseline's DataFrame.

Run: python -m bench.olap_throughput [--rows N] [--runs K]   (starts its own OLAP server on a free port)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import chdb
import numpy as np
import pandas as pd
import pyarrow as pa

from bench.common import machine, timed
from bionicflow.kernel.olap import connect
from bionicflow.kernel.config import Settings

DDL = "CREATE TABLE {t} (id UInt64, name String, amplitude Float64, ts DateTime64(6)) ENGINE = MergeTree ORDER BY id"


def make_frame(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame({
        "id": np.arange(rows, dtype=np.uint64),
        "name": [f"user-{i % 10_000}" for i in range(rows)],
        "amplitude": rng.random(rows),
        "ts": pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(rows), unit="ms"),
    })


FORMATS = ("Native", "ArrowStream", "Arrow", "RowBinary", "Parquet")


def serialisation_floor(local, runs: int) -> dict[str, float]:
    """ms for chdb in-process to turn the whole table into a DataFrame, and into each wire format's bytes."""
    def med(fn) -> float:
        return round(statistics.median(timed(fn) for _ in range(runs)) * 1000, 1)
    floor = {"DataFrame": med(lambda: local.query("SELECT * FROM sel", "DataFrame"))}
    floor |= {fmt: med(lambda f=fmt: local.query("SELECT * FROM sel", f).bytes()) for fmt in FORMATS}
    return floor


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(state: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "BIONICFLOW_STATE_DIR": state, "BIONICFLOW_OLAP_PORT": str(port)}
    proc = subprocess.Popen([sys.executable, "-m", "bionicflow.olap"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("OLAP server did not start in 60s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    df = make_frame(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_server(os.path.join(tmp, "server"), port)
        try:
            settings = Settings()  # the server subprocess reads the same settings
            login = ("127.0.0.1", port, settings.clickhouse_user, settings.clickhouse_password.get_secret_value())
            client = connect(*login)
            plain = connect(*login, compress=False)
            local = chdb.connect(os.path.join(tmp, "inprocess"))
            counter = iter(range(10_000))

            def fresh(run) -> str:
                name = f"t{next(counter)}"
                run(DDL.format(t=name))
                return name

            def server_insert(how):
                def run() -> float:
                    t = fresh(client.command)
                    return timed(lambda: how(t))
                return run

            def local_insert() -> float:
                t = fresh(local.query)
                return timed(lambda: local.query(f"INSERT INTO {t} SELECT * FROM Python(df)"))

            client.command(DDL.format(t="sel"))
            client.insert_df("sel", df)
            local.query(DDL.format(t="sel"))
            local.query("INSERT INTO sel SELECT * FROM Python(df)")
            assert client.command("SELECT count() FROM sel") == args.rows

            def server_select(how):
                return lambda: timed(how)

            local_select = lambda: timed(lambda: local.query("SELECT * FROM sel", "DataFrame"))  # noqa: E731

            as_arrow = lambda: pa.Table.from_pandas(df, preserve_index=False)  # noqa: E731
            paths = (
                ("insert", server_insert(lambda t: client.insert_df(t, df)), local_insert),
                ("insert, no compression", server_insert(lambda t: plain.insert_df(t, df)), local_insert),
                ("insert, Arrow", server_insert(lambda t: client.insert_arrow(t, as_arrow())), local_insert),
                ("insert, Arrow, no compression", server_insert(lambda t: plain.insert_arrow(t, as_arrow())),
                 local_insert),
                ("select", server_select(lambda: client.query_df("SELECT * FROM sel")), local_select),
                ("select, no compression", server_select(lambda: plain.query_df("SELECT * FROM sel")), local_select),
                ("select, Arrow", server_select(lambda: client.query_arrow("SELECT * FROM sel").to_pandas()),
                 local_select),
                ("select, Arrow, no compression",
                 server_select(lambda: plain.query_arrow("SELECT * FROM sel").to_pandas()), local_select),
            )
            results = {}
            for label, srv, loc in paths:
                loc()  # warm-up of each path
                srv()
                s_all, l_all = [], []
                for _ in range(args.runs):  # alternating, so both sides see the same machine state
                    s_all.append(srv())
                    l_all.append(loc())
                s_med, l_med = statistics.median(s_all), statistics.median(l_all)
                results[label] = {
                    "server_s": round(s_med, 3), "inprocess_s": round(l_med, 3),
                    "server_rows_per_s": round(args.rows / s_med), "inprocess_rows_per_s": round(args.rows / l_med),
                    "ratio": round(l_med / s_med, 2),
                    "server_samples": [round(x, 3) for x in s_all], "inprocess_samples": [round(x, 3) for x in l_all],
                }
            floor = serialisation_floor(local, args.runs)
        finally:
            server.terminate()
            server.wait(60)
    print(json.dumps({"machine": machine(), "rows": args.rows, "runs": args.runs, "results": results,
                      "inprocess_serialisation_ms": floor}, indent=2))


if __name__ == "__main__":
    main()
