"""The `bionicflow` command line (`sources.py`: the sources and tables it copies)."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections import deque

import typer
from rich.live import Live
from rich.table import Table
from rich.text import Text

from bionicflow.cli.console import err, fail as _fail, out
from bionicflow.cli.forget_column import forget_column
from bionicflow.cli.sources import sources_app
from bionicflow.cli.tables import tables_app
from bionicflow.kernel.config import get_settings
from bionicflow.kernel.errors import BionicflowError, ConfigurationError
from bionicflow.kernel.tables import CDC_DB, DEFAULT_DB
from bionicflow.stack import launcher, proctree
from bionicflow.stack import status as stack_status

app = typer.Typer(help="bionicflow: PostgreSQL -> ClickHouse by batch and CDC, run by Airflow.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")
app.add_typer(tables_app, name="tables")


class LiveReporter:
    """A table with one row per service, redrawn in place on a terminal."""

    def __init__(self, names: list[str]):
        self.rows = {name: ("queued", "") for name in names}
        self.started = time.monotonic()
        self.live = Live(self._table(), console=err, refresh_per_second=4, transient=False)

    def _table(self) -> Table:
        table = Table(title=f"bionicflow up ({time.monotonic() - self.started:.0f}s)", show_edge=False)
        table.add_column("service")
        table.add_column("status")
        for name, (status, style) in self.rows.items():
            table.add_row(name, f"[{style}]{status}[/]" if style else status)
        return table

    def update(self, service: str, status: str, done: bool = False, failed: bool = False) -> None:
        self.rows[service] = (status, "green" if done else "red" if failed else "")
        self.live.update(self._table())


class LineReporter:
    """One line per state change, for logs and CI where nothing is redrawn."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def update(self, service: str, status: str, done: bool = False, failed: bool = False) -> None:
        mark = "ok " if done else "ERR" if failed else "..."
        err.print(f"[{time.monotonic() - self.started:6.1f}s] {mark} {service}: {status}", highlight=False)


@app.command()
def up() -> None:
    """Start every service of the embedded stack (idempotent) and print where to look."""
    settings = get_settings()
    from bionicflow.stack.services import build_services

    names = list(build_services(settings, env={}))
    reporter = LiveReporter(names) if err.is_terminal else LineReporter()
    try:
        with reporter.live if isinstance(reporter, LiveReporter) else contextlib.nullcontext():
            launcher.up(settings, reporter)
            if settings.auto_bootstrap:
                _bootstrap_once(settings, reporter)
    except BionicflowError as exc:
        _fail(exc)
    _print_urls(settings)


def _bootstrap_once(settings, reporter) -> None:
    """A fresh stack's first start: unpause the DAGs and run cdc_bootstrap (the stack itself knows no DAG)."""
    from bionicflow.platform.first_start import bootstrap_once

    try:
        bootstrap_once(settings, lambda msg: reporter.update("cdc_bootstrap", msg))
    except BionicflowError as exc:
        reporter.update("cdc_bootstrap", str(exc).splitlines()[0], failed=True)
        raise
    reporter.update("cdc_bootstrap", "done (DAGs unpaused, connectors running)", done=True)


def _print_urls(settings) -> None:
    h = settings.host
    out.print("\n[bold]where to look[/]")
    out.print(f"  Airflow UI       http://{h}:{settings.airflow_port}  (login {settings.airflow_admin_user})")
    out.print(f"  reports page     http://{h}:{settings.reports_api_port}/  (login customer1 / customer1_password, "
              "or analyst / analyst_password)")
    out.print(f"  reports_api docs http://{h}:{settings.reports_api_port}/docs  "
              "(token: bionicflow token --user analyst)")
    out.print(f"  CDC vs batch     http://{h}:{settings.airflow_port}/plugin/cdc-vs-batch  "
              "(Airflow UI page, menu Browse)")
    out.print(f"  CDC console      http://{h}:{settings.airflow_port}/plugin/cdc-console  "
              "(Airflow UI page, menu Admin: connectors, topics, messages, groups, dead letters, slots)")
    out.print(f"  ClickHouse HTTP  http://{h}:{settings.olap_port}  (user {settings.clickhouse_user})")
    out.print(f"  Kafka Connect    http://{h}:{settings.kafka_connect_port}/connectors")
    out.print(f"  Kafka            {h}:{settings.kafka_port}")
    out.print(f"  crm_db           postgresql://{settings.crm_user}@{h}:{settings.crm_db_port}/crm_db")
    out.print(f"  telemetry_db     "
              f"postgresql://{settings.telemetry_user}@{h}:{settings.telemetry_db_port}/telemetry_db")
    out.print(f"  state and logs   {settings.state_dir}  (bionicflow status | bionicflow logs SERVICE)")


@app.command()
def down(
    force: bool = typer.Option(False, "--force", help="Also stop unsupervised processes of this stack (orphans)."),
) -> None:
    """Stop every service cleanly; data stays in the state directory."""
    try:
        pids, left = launcher.down(get_settings(), force=force)
    except BionicflowError as exc:
        _fail(exc)
    err.print(f"stopped {len(pids)} processes" if pids else "the stack was not running")
    if left:
        _warn_orphans(left, "still running")
        raise typer.Exit(code=1)


def _warn_orphans(orphans: list, state: str) -> None:
    err.print(Text.assemble(("warning: ", "yellow"), f"{len(orphans)} unsupervised process(es) of this stack {state}:"))
    for p in orphans:
        err.print("  " + p.describe(), highlight=False, markup=False)
    err.print("  stop them with `bionicflow down --force`", highlight=False, markup=False)


def _cdc_line(entry: dict) -> str:
    """One table's CDC lag in words, as `status` prints it."""
    if entry.get("lag_seconds") is None:
        return "lag unknown: " + (entry.get("kafka_error") or entry.get("lag_basis") or "not measured")
    line = f"CDC lag {entry['lag_seconds']:.1f} s (since the {entry['lag_basis']})"
    if entry.get("consumer_lag_messages"):
        line += f", {entry['consumer_lag_messages']:,} messages not yet read"
    if entry.get("slot_retained_wal_bytes") is not None:
        line += f"; slot {entry['slot']} holds {entry['slot_retained_wal_bytes'] / 1024**2:.1f} MiB of WAL"
    return line


@app.command()
def status(as_json: bool = typer.Option(False, "--json", help="Print the machine-readable document.")) -> None:
    """Health, pid, port and URL of every service."""
    doc = stack_status.status(get_settings())
    # the same exit code either way: a monitoring script reads `status --json || alert`
    unwell = bool(doc["orphans"] or doc.get("warnings") or not all(s["healthy"] for s in doc["services"].values()))
    if as_json:
        out.print_json(json.dumps(doc)) if out.is_terminal else sys.stdout.write(json.dumps(doc, indent=2) + "\n")
        raise typer.Exit(code=1 if unwell else 0)
    table = Table(show_edge=False)
    for col in ("service", "healthy", "state", "pid", "port", "url"):
        table.add_column(col)
    for name, svc in doc["services"].items():
        table.add_row(
            name, "[green]yes[/]" if svc["healthy"] else "[red]no[/]", svc["state"],
            str(svc["pid"] or "-"), str(svc["port"] or "-"), svc["url"] or "-",
        )
    out.print(table)
    for name, batch in doc.get("batch", {}).items():
        age = batch.get("age_seconds")
        out.print(f"{DEFAULT_DB}.{name}: " + (f"last loaded {age / 60:.0f} min ago ({batch['mode']})" if age is not None
                                         else batch.get("error") or "never loaded (etl_default runs hourly)"))
    for name, cdc in doc.get("lag", {}).items():
        out.print(f"{CDC_DB}.{name}: " + _cdc_line(cdc), highlight=False)
    for warning in doc.get("warnings", []):
        err.print(Text.assemble(("warning: ", "yellow"), warning), highlight=False)
    for notice in doc.get("notices", []):
        err.print(Text.assemble(("on its way: ", "cyan"), notice), highlight=False)
    if doc["orphans"]:
        _warn_orphans([proctree.StackProcess(**p) for p in doc["orphans"]], "running beside it")
    if unwell:
        raise typer.Exit(code=1)


@app.command()
def stop(service: str = typer.Argument(..., help="A service name, as `bionicflow status` lists them.")) -> None:
    """Stop one service (for maintenance); `bionicflow start SERVICE` or `up` brings it back."""
    try:
        launcher.stop_service(get_settings(), service)
    except BionicflowError as exc:
        _fail(exc)
    err.print(f"stopped {service}")


@app.command()
def start(service: str = typer.Argument(..., help="A service name, as `bionicflow status` lists them.")) -> None:
    """Start one stopped service and wait until it is healthy."""
    try:
        launcher.start_service(get_settings(), service)
    except BionicflowError as exc:
        _fail(exc)
    err.print(f"{service} is healthy")


@app.command()
def logs(
    service: str = typer.Argument(..., help="A service name, as `bionicflow status` lists them."),
    lines: int = typer.Option(100, "--lines", "-n", help="How many trailing lines to print."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new lines."),
) -> None:
    """Print a service's log."""
    settings = get_settings()
    path = settings.logs_dir / f"{service}.log"
    if not path.exists():
        known = sorted(p.stem for p in settings.logs_dir.glob("*.log")) if settings.logs_dir.exists() else []
        err.print(Text.assemble(("error: ", "red"),
                                f"no log for {service!r}; known: {', '.join(known) or 'none (run bionicflow up)'}"))
        raise typer.Exit(code=2)
    with open(path, errors="replace") as fh:
        for line in deque(fh, maxlen=lines):
            sys.stdout.write(line)
        while follow:
            line = fh.readline()
            if line:
                sys.stdout.write(line)
                sys.stdout.flush()
            else:
                time.sleep(0.5)


@app.command()
def demo(
    users: int = typer.Option(1000, help="Users to generate (the brief's button: 1000)."),
    events: int = typer.Option(10000, help="Telemetry events to generate (the brief's button: 10000)."),
    updates: int = typer.Option(50, help="Random users to update afterwards."),
    deletes: int = typer.Option(100, help="Random events to delete afterwards."),
) -> None:
    """The main job on a running stack: demo data, both roads, reconciliation, a summary."""
    from bionicflow.demo.main_job import run_main_job

    settings = get_settings()
    try:
        result = run_main_job(settings, users, events, updates, deletes,
                              lambda msg: err.print(f"... {msg}", highlight=False))
    except BionicflowError as exc:
        _fail(exc)
    table = Table(title=f"source vs default (batch) vs debezium (CDC) — reconciliation: {result['verdict']}")
    for col in ("table", "source rows", "default rows", "debezium rows", "CDC lag (s)"):
        table.add_column(col)
    for t in result["tables"]:
        table.add_row(t.table, str(t.source), str(t.default), str(t.debezium),
                      "-" if t.lag_seconds is None else f"{t.lag_seconds:.1f}")
    out.print(table)
    _print_reports(result["reports"])
    _print_urls(settings)
    if result["verdict"] != "match" or not result["reports"]["identical"]:
        raise typer.Exit(code=1)


def _print_reports(comparison: dict) -> None:
    """The overview from both schemas side by side, and the comparison's verdict."""
    default, debezium = comparison["reports"][DEFAULT_DB], comparison["reports"][CDC_DB]
    table = Table(title=f"overview {default['period']['from'][:10]} .. {default['period']['to'][:10]}: "
                        "default (batch) vs debezium (CDC)")
    for col in ("", "default", "debezium"):
        table.add_column(col)
    for key in ("events", "users_with_events", "users", "avg_amplitude"):
        a, b = default["totals"][key], debezium["totals"][key]
        fmt = (lambda v: "-" if v is None else f"{v:.4f}") if key == "avg_amplitude" else str
        table.add_row(key, fmt(a), fmt(b))
    for top in (default["by_country"][:3], default["by_muscle_group"][:3]):
        for entry in top:
            label = next(iter(entry.values()))
            other: dict = next((e for e in debezium["by_country"] + debezium["by_muscle_group"]
                          if next(iter(e.values())) == label), {})
            table.add_row(f"events: {label}", str(entry["events"]), str(other.get("events", "-")))
    table.add_row("newest data (s old)", *(str((r["freshness"] or {}).get("lag_seconds")) for r in (default, debezium)))
    out.print(table)
    if comparison["identical"]:
        out.print("[green]reports: both schemas agree on every field of the overview[/]")
    else:
        out.print(f"[red]reports: {len(comparison['differences'])} field(s) differ[/], "
                  f"first: {comparison['differences'][:3]}")


@app.command()
def token(
    user: str = typer.Option(..., "--user", "-u", help="A demo account: customer1, customer2, customer3 or analyst."),
    ttl: int = typer.Option(None, help="Lifetime in seconds (default BIONICFLOW_REPORTS_TOKEN_TTL_SECONDS)."),
) -> None:
    """Print a reports_api bearer token from the embedded development issuer."""
    from bionicflow.reports.auth import issue_dev_token

    try:
        print(issue_dev_token(get_settings(), user, ttl_seconds=ttl))
    except BionicflowError as exc:
        _fail(exc)


cdc_app = typer.Typer(help="The CDC road: Debezium -> Kafka -> ClickHouse schema `debezium`.", no_args_is_help=True)
app.add_typer(cdc_app, name="cdc")
cdc_app.command("forget-column")(forget_column)


@cdc_app.command("bootstrap")
def cdc_bootstrap(
    timeout: float = typer.Option(300, help="Seconds to wait for the connectors to run."),
    initial_load: str = typer.Option(
        None, "--initial-load", metavar="debezium|olap",
        help="How existing rows reach `debezium` when a connector is created: Debezium's snapshot (default), or "
             "ClickHouse copying the tables while the connector streams (fast). Default: BIONICFLOW_CDC_INITIAL_LOAD."),
) -> None:
    """Create the ClickHouse schemas, register (or update) both connectors, wait until they run: the DAG's steps."""
    from bionicflow.platform.bootstrap import from_settings, run_all

    settings = get_settings()
    bootstrap = from_settings(settings, initial=initial_load, connector_wait=timeout)
    bootstrap.warn = lambda line: err.print(Text.assemble(("warning: ", "yellow"), line), highlight=False)
    try:
        result = run_all(bootstrap)
    except BionicflowError as exc:
        _fail(exc)
    err.print(f"schema: {result.statements} statements; "
              f"connectors changed: {', '.join(result.changed_connectors) or 'none'}")
    for name, status in result.connectors.items():
        err.print(f"  {name}: {status['state']}, tasks {[t['state'] for t in status['tasks']]}")
    for copied in result.copied:
        err.print(f"  initial load of {CDC_DB}.{copied['table']}: {copied['rows']:,} rows in {copied['seconds']:.1f}s")


@cdc_app.command("apply-truncations")
def cdc_apply_truncations() -> None:
    """Purge `debezium` of the rows a source TRUNCATE removed (compose; the embedded consumer does it itself)."""
    from bionicflow.cdc.truncations import apply_pending
    from bionicflow.kernel.olap import olap_client

    purges = apply_pending(olap_client(get_settings()))
    for purge in purges:
        err.print(f"{purge.table}: rows before topic position {purge.version - 1} deleted "
                  f"({purge.truncations} TRUNCATE message(s))")
    if not purges:
        err.print("no TRUNCATE waiting to be applied")


@cdc_app.command("dead-letters")
def cdc_dead_letters(
    replay: str = typer.Option(None, "--replay", metavar="TABLE",
                               help="Apply TABLE's dead letters that are usable changes now "
                                    "(after fixing their cause)."),
    as_json: bool = typer.Option(False, "--json", help="Print the machine-readable summary."),
) -> None:
    """Why messages were dead-lettered (one line per table and cause); optionally replay a table's."""
    from dataclasses import asdict

    from bionicflow.cdc import dead_letters
    from bionicflow.kernel.olap import olap_client
    from bionicflow.kernel.tables import TABLES

    settings = get_settings()
    olap = olap_client(settings)
    if replay is not None:
        table = next((t for t in TABLES if t.name == replay), None)
        if table is None:
            _fail(ConfigurationError(f"no CDC table {replay!r}; use one of: {', '.join(t.name for t in TABLES)}"))
        result = dead_letters.replay(olap, table)
        err.print(f"{table.name}: {result.applied} applied, {result.remaining} still dead-lettered")
    causes = dead_letters.summary(olap)
    if as_json:
        sys.stdout.write(json.dumps([asdict(c) for c in causes], indent=2) + "\n")
        return
    if not causes:
        out.print("no dead letters")
        return
    table_view = Table(show_edge=False)
    for col in ("table", "cause", "messages", "last", "example"):
        table_view.add_column(col)
    for c in causes:
        table_view.add_row(c.table, c.cause, str(c.messages), c.last_received_at, c.example[:120])
    out.print(table_view)
