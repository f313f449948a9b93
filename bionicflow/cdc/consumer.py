"""Kafka -> ClickHouse consumer: the embedded stand-in for ClickHouse's Kafka table engine.

One thread per CDC table, each a Kafka consumer in that table's group (the brief's group
names). The tables are the catalogue's (`ops.tables`, kernel/table_catalogue.py), read again
every few seconds: a table `tables add` puts there gets its thread, a removed one loses it.
A batch of raw messages is inserted into ``debezium.<table>_kafka`` so the
materialized views fire; offsets are committed only after ClickHouse acknowledged the
insert (at-least-once; the replacing target tables make the final state exact).

A batch ClickHouse rejects is split in halves until the message at fault is alone; that
message goes to ``debezium.dead_letters`` with the server's error, and the stream goes on.
Connection failures are retried with backoff, never dead-lettered.

Run: ``python -m bionicflow.cdc.consumer`` (supervised as ``cdc_consumer``).
"""

from __future__ import annotations

import functools
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg2
from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError
from confluent_kafka import Consumer, KafkaError, Message

from bionicflow.cdc import evolve
from bionicflow.cdc.ddl import DATABASE, Table
from bionicflow.cdc.reshape import reshaped
from bionicflow.cdc.truncations import apply_pending, has_truncate_hint
from bionicflow.kernel.errors import BionicflowError
from bionicflow.kernel.olap import OlapClient, olap_client
from bionicflow.kernel.table_catalogue import Entry, brief_entries, list_entries
from bionicflow.kernel.config import Settings, get_settings

log = logging.getLogger("bionicflow.cdc.consumer")

RAW_COLUMNS = ["payload", "_topic", "_partition", "_offset"]
DEAD_LETTER_COLUMNS = ["topic", "partition", "offset", "raw_value", "error"]
_QUIET_ERRORS = {KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART}
CATALOGUE_EVERY_SECONDS = 3.0


@dataclass
class TableProgress:
    """What one table's consumer has done; written to the status file."""

    table: str
    group: str
    messages: int = 0
    batches: int = 0
    dead_lettered_by_consumer: int = 0
    truncations_applied: int = 0
    columns_added: int = 0
    last_poll_at: float = 0.0
    last_commit_at: float = 0.0
    waiting_for: str = ""
    last_error: str = ""


@dataclass
class ConsumerSettings:
    batch_size: int = 10_000
    max_wait_seconds: float = 0.5
    retry_max_seconds: float = 30.0


def status_path(settings: Settings) -> Path:
    return settings.state_dir / "cdc" / "consumer-status.json"


class Sink:
    """Inserts raw messages; isolates and dead-letters the ones ClickHouse rejects."""

    def __init__(self, table: Table, client_factory: Callable[[], OlapClient], progress: TableProgress):
        self.table = table
        self._client_factory = client_factory
        self._client: OlapClient | None = None
        self.progress = progress

    @property
    def client(self) -> OlapClient:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def schema_ready(self) -> bool:
        return bool(self.client.command(f"EXISTS TABLE {DATABASE}.{self.table.name}_kafka"))

    def write(self, rows: list[list]) -> None:
        """Insert ``rows``; raises OperationalError (transient) for the caller to retry."""
        try:
            self.client.insert(f"{DATABASE}.{self.table.name}_kafka", rows, column_names=RAW_COLUMNS)
        except DatabaseError as exc:
            if isinstance(exc, OperationalError) or not self.schema_ready():
                raise OperationalError(str(exc)) from exc
            if len(rows) == 1:
                self._dead_letter(rows[0], str(exc))
                return
            middle = len(rows) // 2
            self.write(rows[:middle])
            self.write(rows[middle:])

    def _dead_letter(self, row: list, error: str) -> None:
        payload, topic, partition, offset = row
        log.warning("%s: message %s/%s/%s rejected, dead-lettered: %s", self.table.name, topic, partition, offset,
                    error[:200])
        self.client.insert(
            f"{DATABASE}.dead_letters", [[topic, partition, offset, payload, f"rejected by ClickHouse: {error}"]],
            column_names=DEAD_LETTER_COLUMNS,
        )
        self.progress.dead_lettered_by_consumer += 1

    def reset(self) -> None:
        self._client = None


def to_row(msg: Message) -> list:
    value = msg.value()
    return [value if value is not None else b"", msg.topic(), msg.partition(), msg.offset()]


class TableConsumer(threading.Thread):
    def __init__(self, table: Table, settings: Settings, opts: ConsumerSettings, stop: threading.Event,
                 client_factory: Callable[[], OlapClient], entry: Entry | None = None):
        super().__init__(name=f"consumer-{table.name}", daemon=True)
        self.table = table
        # an added table's catalogue entry: its new shapes come from the source's catalogue (cdc/reshape.py)
        self.entry = entry if entry is not None and not entry.built_in else None
        self.settings = settings
        self.opts = opts
        self.stop = stop
        self.progress = TableProgress(table=table.name, group=table.consumer_group)
        self._schemas_seen: set[bytes] = set()  # row schemas already checked for new columns
        self.sink = Sink(table, client_factory, self.progress)

    def _consumer(self) -> Consumer:
        return Consumer({
            "bootstrap.servers": f"{self.settings.host}:{self.settings.kafka_port}",
            "group.id": self.table.consumer_group,
            # Static membership: after a crash the broker hands the same member its partitions as
            # soon as it rejoins, instead of waiting out the session timeout (~45 s) first.
            "group.instance.id": f"{self.table.consumer_group}-{self.settings.cdc_consumer_instance}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            # the topic appears with the table's first change (cdc/topics.py): notice it within ~2 s, not
            # librdkafka's default 5 min (one small metadata request per table every 2 s)
            "topic.metadata.refresh.interval.ms": 2000,
            "max.poll.interval.ms": 600_000,
        })

    def run(self) -> None:
        self._wait_for_schema()
        self._with_retry(self._apply_truncations)  # one recorded but not purged before a restart
        if self.entry is None:
            self._with_retry(self._load_added_columns)
        consumer = self._consumer()
        consumer.subscribe([self.table.topic])
        try:
            while not self.stop.is_set():
                batch = consumer.consume(num_messages=self.opts.batch_size, timeout=self.opts.max_wait_seconds)
                self.progress.last_poll_at = time.time()
                rows = [to_row(m) for m in batch if self._usable(m)]
                if not rows:
                    continue
                if self.entry is not None:
                    self._write_reshaping(rows)
                else:
                    self._with_retry(functools.partial(self._evolve, rows))  # a new source column: add it first
                    self._with_retry(functools.partial(self.sink.write, rows))
                if has_truncate_hint(row[0] for row in rows):  # purge before the offsets are committed
                    self._with_retry(self._apply_truncations)
                consumer.commit(asynchronous=False)
                self.progress.messages += len(rows)
                self.progress.batches += 1
                self.progress.last_commit_at = time.time()
        finally:
            consumer.close()  # a static member keeps its assignment until the session times out

    def _usable(self, msg: Message) -> bool:
        err = msg.error()
        if err is None:
            return True
        if err.code() not in _QUIET_ERRORS:
            log.warning("%s: Kafka error: %s", self.table.name, err)
            self.progress.last_error = str(err)
        return False

    def _wait_for_schema(self) -> None:
        while not self.stop.is_set():
            try:
                if self.sink.schema_ready():
                    self.progress.waiting_for = ""
                    return
                self.progress.waiting_for = f"{DATABASE}.{self.table.name}_kafka (run `bionicflow cdc bootstrap`)"
            except (OperationalError, DatabaseError) as exc:
                self.progress.waiting_for = f"OLAP server: {exc}"
                self.sink.reset()
            self.progress.last_poll_at = time.time()
            self.stop.wait(2)

    def _load_added_columns(self) -> None:
        """Know the columns added earlier; views made again by an older bootstrap get them back."""
        self.table = evolve.extended(self.sink.client, self.table)
        if evolve.views_lack(self.sink.client, self.table):
            evolve.rebuild_views(self.sink.client, self.table)

    def _evolve(self, rows: list[list]) -> None:
        parts = {part for row in rows if (part := evolve.schema_part(row[0])) is not None}
        for part in parts - self._schemas_seen:
            change = evolve.plan(self.table, evolve.after_fields(part))
            for reason in change.refused:
                log.warning("%s: source column not added to %s.%s: %s", self.table.name, DATABASE, self.table.name,
                            reason)
            if change.columns:
                self.table = evolve.evolve(self.sink.client, self.table, change.columns)
                self.progress.columns_added += len(change.columns)
            self._schemas_seen.add(part)

    def _write_reshaping(self, rows: list[list]) -> None:
        """Store an added table's batch; at a row schema not seen before, first what came before it, then reshape."""
        start = 0
        for i, row in enumerate(rows):
            part = evolve.schema_part(row[0])
            if part is None or part in self._schemas_seen:
                continue
            if i > start:
                self._with_retry(functools.partial(self.sink.write, rows[start:i]))
            # the source unreachable while the columns changed, a shape the copies cannot take (a reserved column
            # name): this table waits, holding its batch (nothing committed), the reason in `status`; the others go on
            names = {f.get("field") for f in evolve.after_fields(part)}
            self._with_retry(functools.partial(self._reshape, names), also=(BionicflowError, psycopg2.Error,
                                                                             DatabaseError))
            self._schemas_seen.add(part)
            start = i
        self._with_retry(functools.partial(self.sink.write, rows[start:]))

    def _reshape(self, names: set) -> None:
        """Remake the table if the source's columns changed; with the source unreachable, go on if the message's
        column names are the table's (a changed type is then taken up when the next new row schema comes)."""
        assert self.entry is not None
        try:
            now = reshaped(self.sink.client, self.settings, self.entry)
        except (BionicflowError, psycopg2.OperationalError) as exc:
            if names != {c.source for c in self.table.columns}:
                raise
            log.warning("%s: the source's columns not read again (%s); its messages name the same columns",
                        self.table.name, str(exc)[:200])
            return
        if now is not None:
            self.entry, self.table = now, now.table
            self.sink.table = now.table
            self.progress.columns_added += 1

    def _apply_truncations(self) -> None:
        self.progress.truncations_applied += sum(p.truncations
                                                 for p in apply_pending(self.sink.client, self.table.name))

    def _with_retry(self, action: Callable[[], None], also: tuple[type[Exception], ...] = ()) -> None:
        """Run ``action`` until it succeeds; a lost connection (or one of ``also``) waits and tries again."""
        delay = 0.5
        transient: tuple[type[BaseException], ...] = (OperationalError, OSError, *also)
        while True:
            try:
                action()
                self.progress.last_error = ""
                return
            except transient as exc:
                # Offsets stay uncommitted, so nothing is lost while we wait; keep the batch
                # even when asked to stop: an unwritten batch is simply consumed again later.
                self.progress.last_error = f"failed, retrying in {delay:.1f}s: {exc}"
                log.warning("%s: %s", self.table.name, self.progress.last_error)
                self.sink.reset()
                if self.stop.wait(delay):
                    raise SystemExit(0) from None
                delay = min(delay * 2, self.opts.retry_max_seconds)


def write_status(path: Path, threads: list[TableConsumer]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"updated_at": time.time(), "tables": [asdict(t.progress) for t in threads]}))
    tmp.replace(path)


class Consumers:
    """The running table threads, kept in step with the catalogue."""

    def __init__(self, settings: Settings, opts: ConsumerSettings, stop: threading.Event):
        self.settings, self.opts, self.stop = settings, opts, stop
        self.threads: dict[str, TableConsumer] = {}
        self._stops: dict[str, threading.Event] = {}

    def follow(self, entries: list[Entry]) -> None:
        """Start a thread for each table without one; stop those of tables no longer in ``entries``."""
        wanted = {e.name: e for e in entries}
        for name in set(self.threads) - set(wanted):
            log.info("%s left the catalogue: its consumer stops", name)
            self._stops.pop(name).set()
            self.threads.pop(name).join(timeout=60)
        for name, entry in wanted.items():
            if name not in self.threads:
                own_stop = threading.Event()
                thread = TableConsumer(entry.table, self.settings, self.opts, own_stop,
                                       lambda: olap_client(self.settings), entry)
                self.threads[name], self._stops[name] = thread, own_stop
                thread.start()
                log.info("consuming %s into %s.%s", entry.table.topic, DATABASE, name)

    def all_alive(self) -> bool:
        return all(t.is_alive() for t in self.threads.values())

    def stop_all(self) -> None:
        for own_stop in self._stops.values():
            own_stop.set()
        for thread in self.threads.values():
            thread.join(timeout=60)


def _catalogue(settings: Settings) -> list[Entry] | None:
    """The catalogue's tables, or None while the OLAP server cannot say (the threads running go on)."""
    try:
        client = olap_client(settings)
        try:
            return list_entries(client)
        finally:
            client.close()
    except (OperationalError, DatabaseError) as exc:
        log.warning("catalogue not read (%s); the tables already consumed go on", str(exc)[:200])
        return None


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = get_settings()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    opts = ConsumerSettings(batch_size=settings.cdc_batch_size, max_wait_seconds=settings.cdc_max_wait_ms / 1000)
    consumers = Consumers(settings, opts, stop)
    consumers.follow(brief_entries())  # the brief's two at once, whether or not the OLAP server is up yet
    path = status_path(settings)
    next_read = 0.0
    while not stop.is_set() and consumers.all_alive():
        if time.monotonic() >= next_read:
            entries = _catalogue(settings)
            if entries is not None:
                consumers.follow(entries)
            next_read = time.monotonic() + CATALOGUE_EVERY_SECONDS
        write_status(path, list(consumers.threads.values()))
        stop.wait(1)
    crashed = not stop.is_set()
    consumers.stop_all()
    write_status(path, list(consumers.threads.values()))
    if crashed:  # a table's thread died: exit non-zero so supervisord restarts the whole consumer
        log.error("a consumer thread died; exiting for a restart")
        raise SystemExit(1)
    log.info("stopped cleanly")


if __name__ == "__main__":
    main()
