"""Whether a PostgreSQL source can feed both roads: each prerequisite checked and, when missing, its fix.

`bionicflow sources check` prints the findings; `sources add` refuses a source with a failing
one, so nothing is recorded for a database that cannot be copied. `read_facts` asks the
server (one query, as the source's role); `evaluate` is pure logic over its answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from bionicflow.kernel.config import Settings
from bionicflow.kernel.identifiers import pg_ident
from bionicflow.kernel.source_registry import SourceAddress, SourceUnreachable

MIN_VERSION = 130000  # PostgreSQL 13: publish_via_partition_root, pg_replication_slots.safe_wal_size

# Every view and function here is readable by any role.
FACTS_SQL = """
SELECT current_setting('server_version_num')::int, current_setting('server_version'),
       current_setting('wal_level'), r.rolsuper, r.rolreplication,
       has_database_privilege(current_database(), 'CREATE'),
       current_setting('max_replication_slots')::int, (SELECT count(*) FROM pg_catalog.pg_replication_slots),
       current_setting('max_wal_senders')::int, (SELECT count(*) FROM pg_catalog.pg_stat_replication)
FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user
"""


@dataclass(frozen=True)
class Facts:
    version_num: int
    version: str
    wal_level: str
    superuser: bool
    replication: bool
    create_in_database: bool
    max_slots: int
    used_slots: int
    max_senders: int
    used_senders: int


@dataclass(frozen=True)
class Finding:
    what: str
    ok: bool
    detail: str
    fix: str = ""


def read_facts(conn) -> Facts:
    with conn.cursor() as cur:
        cur.execute(FACTS_SQL)
        return Facts(*cur.fetchone())


def evaluate(facts: Facts, source: SourceAddress) -> list[Finding]:
    """One finding per prerequisite, in the order a DBA would fix them; names in fixes quoted for pasting."""
    role, db = pg_ident(source.user), pg_ident(source.database)
    findings = [
        Finding("server version", facts.version_num >= MIN_VERSION, f"PostgreSQL {facts.version}",
                "upgrade to PostgreSQL 13 or newer"),
        Finding("wal_level", facts.wal_level == "logical", f"{facts.wal_level}",
                "ALTER SYSTEM SET wal_level = logical; then restart the server (Debezium decodes the WAL)"),
        Finding("replication", facts.superuser or facts.replication,
                f"role {source.user!r} " + ("may" if facts.superuser or facts.replication else "may not")
                + " replicate",
                f"ALTER ROLE {role} REPLICATION; (as a superuser; Debezium's replication slot needs it)"),
        Finding("replication slots", facts.max_slots - facts.used_slots >= 1,
                f"{facts.used_slots} of max_replication_slots = {facts.max_slots} in use",
                "raise max_replication_slots (one more per source) and restart, or drop an unused slot"),
        Finding("WAL senders", facts.max_senders - facts.used_senders >= 1,
                f"{facts.used_senders} of max_wal_senders = {facts.max_senders} in use",
                "raise max_wal_senders (one more per source) and restart"),
    ]
    if not source.built_in:  # the embedded stack's own SQL installs its two databases' objects
        findings.append(Finding(
            "create in database", facts.superuser or facts.create_in_database,
            f"role {source.user!r} " + ("may" if facts.superuser or facts.create_in_database else "may not")
            + f" create schemas and publications in {source.database!r}",
            f"GRANT CREATE ON DATABASE {db} TO {role}; (bionicflow keeps its views, journals and publication "
            "in a schema of its own)"))
    return findings


def olap_reach(settings: Settings, source: SourceAddress) -> Finding:
    """Whether the embedded OLAP engine, confined to a list of ports, may connect to the source's port."""
    allowed = [settings.crm_db_port, settings.telemetry_db_port, *settings.olap_connect_ports]
    ok = settings.olap_sandbox == "off" or source.built_in or source.port in allowed
    return Finding("OLAP server may connect", ok, f"port {source.port}; the engine may reach {allowed}",
                   f"add {source.port} to BIONICFLOW_OLAP_CONNECT_PORTS (a JSON list, e.g. [{source.port}]) and "
                   "restart the OLAP server: `bionicflow stop olap && bionicflow start olap` (docs/olap-server.md)")


def check_source(settings: Settings, source: SourceAddress) -> list[Finding]:
    """Connect as the source's role and evaluate; an unreachable source is one failing finding."""
    try:
        conn = source.connect(settings)
    except SourceUnreachable as exc:
        return [Finding("connection", False, f"{source.url}: {exc.reason}",
                        "check the host, port and database, the password, and that pg_hba.conf lets this "
                        "machine in")]
    try:
        return [Finding("connection", True, source.url), *evaluate(read_facts(conn), source),
                olap_reach(settings, source)]
    finally:
        conn.close()
