"""The ClickHouse JDBC driver (what DataGrip and DBeaver use) against the OLAP server, with its default settings.

The driver comes from Maven Central (tests/integration/jdbc/pom.xml); JdbcClientCheck.java does
what a database tool does: connect, browse the metadata tree, create, batch insert, read back, err.
0.9.9 and 0.10.0 are the newest versions Maven Central serves here whole (0.11.x lacks a file).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

JDBC = Path(__file__).parent / "jdbc"
VERSIONS = ["0.9.9", "0.10.0"]


@pytest.fixture(scope="module", params=VERSIONS)
def driver(request, tmp_path_factory) -> tuple[str, str]:
    """(classpath of the driver and the compiled check, version)."""
    out = tmp_path_factory.mktemp(f"jdbc-{request.param}")
    fetched = subprocess.run(["mvn", "-q", "-f", str(JDBC / "pom.xml"), f"-Djdbc.version={request.param}",
                              "dependency:build-classpath", f"-Dmdep.outputFile={out / 'cp.txt'}"],
                             capture_output=True, text=True, timeout=600)
    assert fetched.returncode == 0, f"mvn could not fetch clickhouse-jdbc {request.param}:\n{fetched.stdout[-3000:]}"
    classpath = (out / "cp.txt").read_text().strip()
    compiled = subprocess.run(["javac", "-d", str(out), "-cp", classpath, str(JDBC / "JdbcClientCheck.java")],
                              capture_output=True, text=True, timeout=300)
    assert compiled.returncode == 0, compiled.stderr
    return f"{classpath}:{out}", request.param


def _check(stack, driver, user: str, password: str, database: str) -> dict[str, str]:
    classpath, _ = driver
    url = f"jdbc:clickhouse://{stack.host}:{stack.olap_port}/{database}"
    run = subprocess.run(["java", "-cp", classpath, "JdbcClientCheck", url, user, password, database],
                         capture_output=True, text=True, timeout=300)
    steps = {}
    for line in run.stdout.splitlines():
        state, _, rest = line.partition(" ")
        name, _, detail = rest.partition(" ")
        steps[name] = f"{state} {detail}"
    assert steps, f"the check printed nothing:\n{run.stderr[-3000:]}"
    return steps


def test_every_step_of_a_database_tool_works_as_the_admin(stack, driver):
    steps = _check(stack, driver, stack.clickhouse_user, stack.clickhouse_password.get_secret_value(), "default")
    failed = {name: result for name, result in steps.items() if not result.startswith("ok")}
    assert not failed, f"clickhouse-jdbc {driver[1]}: {failed}"
    assert {"connect", "metadata.tables", "metadata.columns", "insert.batch", "select.back", "error.code"} <= set(steps)
    assert "ops" in steps["metadata.schemas"]


def test_the_read_only_user_browses_its_databases_and_cannot_write(stack, driver):
    steps = _check(stack, driver, stack.clickhouse_reader_user, stack.clickhouse_reader_password.get_secret_value(),
                   "default")
    assert steps["connect"].startswith("ok") and steps["select"].startswith("ok"), steps
    schemas = steps["metadata.schemas"]
    assert schemas.startswith("ok") and "debezium" in schemas and "ops" not in schemas, schemas
    assert steps["create"].startswith("FAIL") and "Code: 164" in steps["create"], steps["create"]
    assert steps["error.code"].startswith("ok"), steps["error.code"]
