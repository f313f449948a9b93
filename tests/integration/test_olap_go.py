"""clickhouse-go v2, ClickHouse's official Go client, against the OLAP server over HTTP with its default settings.

tests/integration/go_client/main.go does what a Go program does with the client (`Protocol:
clickhouse.HTTP`): open and ping, DDL, batch inserts of every common type read back equal by Scan,
ScanStruct and Select, bound parameters (`{x:T}`, `?`, `@x`), settings, query ids, external tables,
each compression the client offers, database/sql (OpenDB and an http:// DSN), typed errors, async
inserts, a million-row result streamed, a cancelled query, a session, and the read-only user. It
prints one line a check, `ok NAME detail` or `fail NAME reason`; go.mod and go.sum pin the client.

Every check must pass. (Three did not when the program was written: `revision()` was off the
read-only user's list, chdb's streamed INSERT hid a violated constraint, queryID() was the engine's.)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.olap_private import ADMIN, READER, private_root, start_private_olap, stop_private_olap

GO_CLIENT = Path(__file__).parent / "go_client"
CHECKS = [
    "open.ping", "server.version", "select.scalar", "exec.ddl", "batch.append", "batch.append_struct", "query.scan",
    "query.scan_struct", "select.structs", "types.json_variant_dynamic", "types.time_zones", "types.nested_and_wide",
    "query_row", "params.named_server_side", "params.with_parameters", "params.client_side", "settings.context",
    "settings.options", "query_id", "progress.callbacks", "external_table", "compression.lz4", "compression.zstd",
    "compression.gzip", "compression.deflate", "compression.br", "errors.syntax", "errors.unknown_table",
    "errors.insert", "errors.mid_stream", "insert.async", "format.query_and_insert", "big_result.stream", "batch.big",
    "pool.concurrent", "context.cancel", "session.state", "std.open_db", "std.dsn", "reader.read",
    "reader.write_refused", "exec.drop",
]
def _go() -> str:
    go = shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if os.access(p, os.X_OK)), None)
    assert go, "no Go toolchain (`go` on PATH or /usr/local/go/bin/go): go_client/go.mod needs Go >= 1.26"
    return go


@pytest.fixture(scope="module")
def go_check(tmp_path_factory) -> Path:
    """The check program, built from go_client/ with the modules go.sum pins (from the Go module proxy)."""
    binary = tmp_path_factory.mktemp("go-client") / "go_client_check"
    go = _go()
    # GOTOOLCHAIN=local: an older Go says so instead of fetching a toolchain; -mod=readonly: go.sum as committed
    env = {**os.environ, "GOTOOLCHAIN": "local", "GOFLAGS": "-mod=readonly", "CGO_ENABLED": "0"}
    built = subprocess.run([go, "build", "-o", str(binary), "."], cwd=GO_CLIENT, env=env,
                           capture_output=True, text=True, timeout=600)
    version = subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip()
    assert built.returncode == 0, (
        f"`go build` of {GO_CLIENT} failed with {version} (Go >= 1.26 and the Go module proxy needed):\n"
        f"{built.stderr[-3000:]}")
    return binary


@pytest.fixture(scope="module")
def olap():
    server = start_private_olap(private_root("go-client"))
    yield server
    stop_private_olap(server)


@pytest.fixture(scope="module")
def checks(go_check, olap) -> dict[str, tuple[str, str]]:
    """check name → (ok|fail, detail), from one run of the program against the private server."""
    run = subprocess.run([str(go_check), "-addr", f"127.0.0.1:{olap.port}", "-user", ADMIN[0], "-password", ADMIN[1],
                          "-reader-user", READER[0], "-reader-password", READER[1]],
                         capture_output=True, text=True, timeout=300)
    results = {}
    for line in run.stdout.splitlines():
        state, _, rest = line.partition(" ")
        name, _, detail = rest.partition(" ")
        assert state in ("ok", "fail") and name not in results, f"unexpected line {line!r}"
        results[name] = (state, detail)
    failed = sum(state == "fail" for state, _ in results.values())
    assert run.returncode == failed, f"exit status {run.returncode}, {failed} checks failed:\n{run.stderr[-3000:]}"
    assert list(results) == CHECKS, f"the checks that ran: {list(results)}\n{run.stderr[-3000:]}"
    return results


@pytest.mark.parametrize("name", CHECKS)
def test_a_go_program_does_it_over_http(checks, name):
    state, detail = checks[name]
    assert state == "ok", f"{name}: {detail}"
