"""The CDC console's logic: what the brief checks in Debezium UI and Kafka UI, read from the stack itself.

Connectors (Kafka Connect's REST API), topics with their offsets, a topic's messages, consumer groups
and their lag, dead letters, replication slots. Everything here reads, except `restart_task`.

Reading messages never acts for the platform's consumers: the consumer is assigned explicit partitions
and offsets (it never joins a group), its group id is a throwaway one, it commits nothing and is closed
as soon as it has read a bounded number of messages or run out of time. The Airflow routes
(bionicflow_airflow/cdc_console.py) only call these functions and render their answers.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from bionicflow.cdc.connectors import ConnectorSpec, KafkaConnectClient, load_connectors, trace_summary
from bionicflow.cdc.ddl import DATABASE
from bionicflow.cdc.monitor import retained_wal_problems
from bionicflow.kernel.errors import BionicflowError

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient

KAFKA_TIMEOUT = 10.0  # seconds for one metadata or offsets request
READ_SECONDS = 15.0  # the most one messages page spends reading
MAX_LIMIT = 500  # messages one page shows at most
SCAN_LIMIT = 5000  # messages per partition a key filter looks through at most
MAX_SHOWN = 20_000  # characters of one key, value or header shown; longer ones are cut, their size shown
CONSOLE_GROUP_PREFIX = "bionicflow-console-"  # the throwaway group id's prefix (never committed, never listed)
TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")  # Kafka's legal topic names
SECRET_KEY = re.compile(r"password|secret|token|credential|sasl\.jaas", re.IGNORECASE)
SERDES = ("String", "JSON")  # Kafka UI's keySerde/valueSerde values this console accepts


class ConsoleError(BionicflowError):
    """A console request that cannot be answered as asked (bad input): the message says what is accepted."""


class UnknownTopic(ConsoleError):
    """The topic does not exist (yet): the brief's topics appear when their first change arrives."""


class KafkaUnavailable(BionicflowError):
    """Kafka did not answer in time."""


# ---------------------------------------------------------------- showing untrusted bytes


@dataclass(frozen=True)
class Shown:
    """A key, value or header as the page shows it: text (cut at MAX_SHOWN), pretty JSON when it is JSON."""

    text: str
    pretty: str | None  # indented JSON, None when the bytes are not (whole) JSON
    size: int  # bytes
    truncated: bool
    null: bool = False


def _payload_first(doc: Any) -> Any:
    # Debezium's JSON with the schema embedded: the row (payload) is what a reader looks for, the schema
    # after it (the text form keeps the message's own order)
    if isinstance(doc, dict) and {"schema", "payload"} <= doc.keys():
        return {"payload": doc["payload"], **{k: v for k, v in doc.items() if k != "payload"}}
    return doc


def shown(raw: bytes | str | None, cap: int = MAX_SHOWN) -> Shown:
    """Untrusted bytes as text (invalid UTF-8 replaced), cut at ``cap`` characters; JSON also pretty-printed."""
    if raw is None:
        return Shown("", None, 0, False, null=True)
    data = raw.encode() if isinstance(raw, str) else bytes(raw)
    text = data.decode("utf-8", errors="replace")
    truncated = len(text) > cap
    pretty = None
    if not truncated and text[:1] in "{[":  # a cut document is not JSON; only objects and arrays are worth indenting
        try:
            pretty = json.dumps(_payload_first(json.loads(text)), indent=2, ensure_ascii=False)[:cap]
        except ValueError:
            pretty = None
    return Shown(text[:cap], pretty, len(data), truncated)


# ---------------------------------------------------------------- connectors


@dataclass(frozen=True)
class TaskView:
    id: int
    state: str
    worker: str
    trace: str  # the whole trace of a failed task (the page folds it), "" otherwise
    cause: str  # the exception and each "Caused by" line


@dataclass(frozen=True)
class ConnectorView:
    name: str
    type: str
    state: str
    worker: str
    tasks: tuple[TaskView, ...]
    config: tuple[tuple[str, str], ...]  # sorted, secrets masked

    @property
    def healthy(self) -> bool:
        return self.state == "RUNNING" and bool(self.tasks) and all(t.state == "RUNNING" for t in self.tasks)


def masked_config(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A connector's config to show: secret-looking values masked unless they are ${...} placeholders."""
    def value(key: str, raw: Any) -> str:
        text = str(raw)
        if SECRET_KEY.search(key) and not (text.startswith("${") and text.endswith("}")):
            return "****"
        return text
    return tuple((key, value(key, raw)) for key, raw in sorted(config.items()))


def connector_views(doc: Mapping[str, Any]) -> list[ConnectorView]:
    """Kafka Connect's ``GET /connectors?expand=status&expand=info`` answer, one view per connector."""
    views = []
    for name, entry in sorted(doc.items()):
        status, info = entry.get("status") or {}, entry.get("info") or {}
        tasks = tuple(
            TaskView(int(t.get("id", -1)), str(t.get("state", "?")), str(t.get("worker_id", "")),
                     str(t.get("trace") or ""), trace_summary(str(t.get("trace") or "")))
            for t in sorted(status.get("tasks", []), key=lambda t: int(t.get("id", -1))))
        connector = status.get("connector") or {}
        views.append(ConnectorView(name, str(info.get("type") or status.get("type") or "?"),
                                   str(connector.get("state", "?")), str(connector.get("worker_id", "")),
                                   tasks, masked_config(info.get("config") or {})))
    return views


def read_connectors(client: KafkaConnectClient) -> list[ConnectorView]:
    """Every connector with its state, its tasks (state, worker, trace) and its config."""
    # the client's own call: its timeout, its retries while the worker group rebalances, its errors
    doc = client._call("GET", "/connectors", params=[("expand", "status"), ("expand", "info")]).json()
    return connector_views(doc)


def restart_task(client: KafkaConnectClient, connector: str, task: int) -> None:
    """Restart one task of a connector (the console's only write); an unknown one is a ConsoleError."""
    known = {view.name: {t.id for t in view.tasks} for view in read_connectors(client)}
    if connector not in known:
        raise ConsoleError(f"no connector {connector!r}; connectors: {', '.join(sorted(known)) or 'none'}")
    if task not in known[connector]:
        raise ConsoleError(f"connector {connector} has no task {task}; tasks: "
                           f"{', '.join(map(str, sorted(known[connector]))) or 'none'}")
    client._call("POST", f"/connectors/{quote(connector, safe='')}/tasks/{task}/restart")


# ---------------------------------------------------------------- topics


@dataclass(frozen=True)
class PartitionInfo:
    partition: int
    low: int  # the oldest offset still kept
    high: int  # the next offset to be written
    size_bytes: int | None = None  # on the broker's disk; None when the disk is not on this machine

    @property
    def messages(self) -> int:
        return max(0, self.high - self.low)


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: tuple[PartitionInfo, ...]

    @property
    def internal(self) -> bool:  # Kafka's and Kafka Connect's own topics
        return self.name.startswith("_")

    @property
    def messages(self) -> int:
        return sum(p.messages for p in self.partitions)

    @property
    def size_bytes(self) -> int | None:
        sizes = [p.size_bytes for p in self.partitions]
        return None if not sizes or None in sizes else sum(s for s in sizes if s is not None)


def check_topic_name(topic: str) -> str:
    if not TOPIC_NAME.match(topic):
        raise ConsoleError(f"{topic!r} is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)")
    return topic


def partition_size(log_dir: Path | None, topic: str, partition: int) -> int | None:
    """Bytes of a partition's log segments in the broker's log directory (the embedded broker runs here).

    The segments only: the active segment's index files are preallocated (10 MiB each) and say nothing
    about the data. librdkafka's admin API has no DescribeLogDirs: without the directory, unknown.
    """
    folder = log_dir / f"{topic}-{partition}" if log_dir else None
    if folder is None or not folder.is_dir():
        return None
    return sum(f.stat().st_size for f in folder.glob("*.log") if f.is_file())


def _admin(bootstrap: str):
    from confluent_kafka.admin import AdminClient

    return AdminClient({"bootstrap.servers": bootstrap, "log_level": 0})


def _watermarks(admin, partitions: list, timeout: float) -> dict[tuple[str, int], tuple[int, int]]:
    """(topic, partition) -> (low, high), in two batched ListOffsets requests."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import OffsetSpec

    if not partitions:
        return {}
    ends: dict[str, dict[tuple[str, int], int]] = {}
    for which, spec in (("low", OffsetSpec.earliest()), ("high", OffsetSpec.latest())):
        futures = admin.list_offsets({tp: spec for tp in partitions}, request_timeout=timeout)
        try:
            ends[which] = {(tp.topic, tp.partition): future.result().offset for tp, future in futures.items()}
        except KafkaException as exc:
            raise KafkaUnavailable(f"Kafka did not give the topics' offsets: {exc}") from None
    return {key: (ends["low"][key], ends["high"][key]) for key in ends["high"]}


def list_topics(bootstrap: str, log_dir: Path | None = None, timeout: float = KAFKA_TIMEOUT) -> list[TopicInfo]:
    """Every topic with its partitions' low and high watermarks (and sizes when the log directory is here)."""
    from confluent_kafka import KafkaException, TopicPartition

    admin = _admin(bootstrap)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise KafkaUnavailable(f"Kafka at {bootstrap} unreachable: {exc}") from None
    partitions = [TopicPartition(name, p) for name, topic in metadata.topics.items() for p in topic.partitions]
    marks = _watermarks(admin, partitions, timeout)
    return sorted((TopicInfo(name, tuple(
        PartitionInfo(p, *marks[(name, p)], size_bytes=partition_size(log_dir, name, p))
        for p in sorted(topic.partitions))) for name, topic in metadata.topics.items()), key=lambda t: t.name)


def find_topic(topics: Iterable[TopicInfo], name: str) -> TopicInfo:
    for topic in topics:
        if topic.name == name:
            return topic
    raise UnknownTopic(f"no topic {name!r} in Kafka: a table's topic appears with its first change "
                       "(the brief's check: before data there is none)")


def page_of(items: list, per_page: int, page: int) -> tuple[list, int]:
    """One page of ``items`` (pages count from 1) and how many pages there are."""
    if per_page < 1 or per_page > 1000 or page < 1:
        raise ConsoleError(f"perPage must be 1…1000 and page at least 1 (got perPage={per_page}, page={page})")
    pages = max(1, -(-len(items) // per_page))
    return items[(page - 1) * per_page: page * per_page], pages


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class MessageView:
    partition: int
    offset: int
    timestamp: datetime | None
    key: Shown
    value: Shown
    headers: tuple[tuple[str, Shown], ...]


@dataclass(frozen=True)
class Read:
    """Where one partition is read: from ``start`` (inclusive) up to ``end`` (exclusive)."""

    partition: int
    start: int
    end: int


@dataclass
class MessagesPage:
    topic: str
    messages: list[MessageView]
    reads: list[Read]
    scanned: int = 0  # messages looked at (more than shown when filtering by key)
    complete: bool = True  # False when the time ran out before every partition was read
    notes: list[str] = field(default_factory=list)


def check_serde(name: str, value: str | None) -> str:
    if value is None:
        return "String"
    if value not in SERDES:
        raise ConsoleError(f"{name}={value!r}: this console shows keys and values as {' or '.join(SERDES)} "
                           "(both forms are on the page either way)")
    return value


def plan_reads(partitions: tuple[PartitionInfo, ...], limit: int, partition: int | None = None,
               offset: int | None = None, filtering: bool = False) -> list[Read]:
    """Which offsets to read: the latest ``limit`` of each partition, or ``limit`` from ``offset`` on.

    A key filter looks further (up to SCAN_LIMIT per partition), since most messages may not match.
    """
    if not 1 <= limit <= MAX_LIMIT:
        raise ConsoleError(f"limit must be 1…{MAX_LIMIT} (got {limit})")
    if offset is not None and offset < 0:
        raise ConsoleError(f"offset must be 0 or more (got {offset})")
    chosen = [p for p in partitions if partition is None or p.partition == partition]
    if not chosen:
        raise ConsoleError(f"no partition {partition}; partitions: {', '.join(str(p.partition) for p in partitions)}")
    span = SCAN_LIMIT if filtering else limit
    reads = []
    for p in chosen:
        if offset is None:  # the newest
            start, end = max(p.low, p.high - span), p.high
        else:
            start = min(max(p.low, offset), p.high)
            end = min(p.high, start + span)
        reads.append(Read(p.partition, start, end))
    return reads


def key_matches(key: bytes | None, needle: str | None) -> bool:
    """The key filter: a case-insensitive substring of the key's text (no filter: everything)."""
    if not needle:
        return True
    return key is not None and needle.casefold() in key.decode("utf-8", errors="replace").casefold()


def message_view(msg) -> MessageView:
    """A confluent_kafka Message as the page shows it."""
    kind, millis = msg.timestamp()
    stamp = datetime.fromtimestamp(millis / 1000, UTC) if kind and millis >= 0 else None  # kind 0: none
    headers = tuple((str(name), shown(value)) for name, value in (msg.headers() or []))
    return MessageView(msg.partition(), msg.offset(), stamp, shown(msg.key()), shown(msg.value()), headers)


def console_consumer_config(bootstrap: str) -> dict[str, Any]:
    """A consumer that reads for the console only: a throwaway group it never joins, no commits."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": f"{CONSOLE_GROUP_PREFIX}{uuid.uuid4().hex}",  # assign() never joins it; nothing commits to it
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,  # tells when a partition has nothing more
        "auto.offset.reset": "earliest",  # only if an assigned offset was deleted meanwhile
        "log_level": 0,
    }


def read_messages(bootstrap: str, topic: TopicInfo, reads: list[Read], limit: int, key_contains: str | None = None,
                  newest_first: bool = True, seconds: float = READ_SECONDS,
                  consumer_factory: Callable[[dict], Any] | None = None) -> MessagesPage:
    """Read the planned offsets of ``topic`` and keep at most ``limit`` messages whose key matches."""
    from confluent_kafka import Consumer, TopicPartition

    page = MessagesPage(topic.name, [], reads)
    pending = {r.partition: r for r in reads if r.end > r.start}
    if not pending:
        return page
    consumer = (consumer_factory or Consumer)(console_consumer_config(bootstrap))
    try:
        consumer.assign([TopicPartition(topic.name, r.partition, r.start) for r in pending.values()])
        deadline = time.monotonic() + seconds
        while pending and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=500, timeout=min(1.0, max(0.05, deadline - time.monotonic()))):
                _take(msg, pending, page, key_contains)
    finally:
        consumer.close()  # leaves nothing behind: no group joined, no offset committed
    page.complete = not pending
    if pending:
        page.notes.append(f"stopped after {seconds:.0f} s with partitions {sorted(pending)} not read to their end")
    page.messages = select_messages(page.messages, limit, newest_first)
    return page


def _take(msg, pending: dict[int, Read], page: MessagesPage, key_contains: str | None) -> None:
    """One consumed message: kept when its key matches; its partition is done at the planned end or Kafka's."""
    from confluent_kafka import KafkaError

    partition, offset, error = msg.partition(), msg.offset(), msg.error()
    read = pending.get(partition)
    if read is None:
        return
    if error is not None:
        if error.code() == KafkaError._PARTITION_EOF:
            pending.pop(partition, None)
            return
        raise KafkaUnavailable(f"reading {page.topic}[{partition}]: {error}")
    if offset >= read.end:
        pending.pop(partition, None)
        return
    page.scanned += 1
    if key_matches(msg.key(), key_contains):
        page.messages.append(message_view(msg))
    if offset >= read.end - 1:
        pending.pop(partition, None)


def select_messages(messages: list[MessageView], limit: int, newest_first: bool) -> list[MessageView]:
    """The newest ``limit`` (newest first) or the first ``limit`` by (partition, offset)."""
    if newest_first:
        ordered = sorted(messages, key=lambda m: (m.timestamp or datetime.min.replace(tzinfo=UTC), m.offset),
                         reverse=True)
        return ordered[:limit]
    return sorted(messages, key=lambda m: (m.partition, m.offset))[:limit]


# ---------------------------------------------------------------- consumer groups


@dataclass(frozen=True)
class GroupPartition:
    topic: str
    partition: int
    committed: int | None  # None: the group has committed nothing for this partition
    high: int | None

    @property
    def lag(self) -> int | None:
        if self.committed is None or self.high is None:
            return None
        return max(0, self.high - self.committed)


@dataclass(frozen=True)
class GroupView:
    group: str
    state: str
    partitions: tuple[GroupPartition, ...]

    @property
    def lag(self) -> int | None:
        lags = [p.lag for p in self.partitions if p.lag is not None]
        return sum(lags) if lags else None


def group_views(groups: list[tuple[str, str]], committed: Mapping[str, list[tuple[str, int, int]]],
                highs: Mapping[tuple[str, int], int]) -> list[GroupView]:
    """Each group's committed offsets against the partitions' high watermarks: its lag in messages."""
    return [GroupView(group, state, tuple(
        GroupPartition(topic, partition, offset if offset >= 0 else None, highs.get((topic, partition)))
        for topic, partition, offset in sorted(committed.get(group, []))))
        for group, state in sorted(groups)]


def consumer_groups(bootstrap: str, timeout: float = KAFKA_TIMEOUT) -> list[GroupView]:
    """Every consumer group, its state, committed offsets and lag (this console's own reads make none)."""
    from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition

    admin = _admin(bootstrap)
    try:
        listed = admin.list_consumer_groups(request_timeout=timeout).result()
        groups = [(g.group_id, getattr(g.state, "name", str(g.state))) for g in listed.valid]
        committed: dict[str, list[tuple[str, int, int]]] = {}
        for group, _state in groups:
            futures = admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions(group)],
                                                        request_timeout=timeout)
            answer = futures[group].result()
            committed[group] = [(tp.topic, tp.partition, tp.offset) for tp in answer.topic_partitions or []]
    except KafkaException as exc:
        raise KafkaUnavailable(f"Kafka at {bootstrap} did not list its consumer groups: {exc}") from None
    wanted = {(t, p) for rows in committed.values() for t, p, _ in rows}
    marks = _watermarks(admin, [TopicPartition(t, p) for t, p in sorted(wanted)], timeout)
    return group_views(groups, committed, {key: high for key, (_low, high) in marks.items()})


# ---------------------------------------------------------------- dead letters


RECENT_DEAD_LETTERS_SQL = f"""SELECT topic, partition, offset, error, received_at, length(raw_value),
       substring(raw_value, 1, {{cap:UInt32}})
FROM {DATABASE}.dead_letters
ORDER BY received_at DESC, topic, partition, offset
LIMIT {{limit:UInt32}}"""


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    error: str
    received_at: datetime
    value: Shown


def recent_dead_letters(olap: OlapClient, limit: int = 50, cap: int = 2000) -> list[DeadLetter]:
    """The newest dead letters, each value cut at ``cap`` bytes (its whole size shown)."""
    rows = olap.query(RECENT_DEAD_LETTERS_SQL, parameters={"limit": limit, "cap": cap}).result_rows
    letters = []
    for topic, partition, offset, error, received, size, head in rows:
        text = shown(head, cap)
        letters.append(DeadLetter(topic, int(partition), int(offset), error, received,
                                  Shown(text.text, text.pretty if size <= cap else None, int(size), size > cap)))
    return letters


# ---------------------------------------------------------------- replication slots


@dataclass(frozen=True)
class SlotView:
    slot: str
    connector: str  # "" for a slot no connector of this platform names
    database: str
    retained_bytes: int | None  # None: the slot is missing
    active: bool | None
    problem: str


def slot_views(slots: Mapping[str, tuple[int, bool]], limit_bytes: int,
               specs: list[ConnectorSpec] | None = None) -> list[SlotView]:
    """Each connector's slot (missing ones too) and every other slot of the sources, with retained WAL."""
    specs = load_connectors() if specs is None else specs
    views = []
    for spec in specs:
        retained, active = slots.get(spec.slot, (None, None))
        problem = ("missing: the connector creates it when it starts; see the connectors page" if retained is None
                   else "\n".join(retained_wal_problems({spec.slot: (retained, bool(active))}, limit_bytes)))
        views.append(SlotView(spec.slot, spec.name, spec.config.get("database.dbname", "?"), retained, active, problem))
    named = {spec.slot for spec in specs}
    for name, (retained, active) in sorted(slots.items()):
        if name not in named:
            views.append(SlotView(name, "", "?", retained, active,
                                  "\n".join(retained_wal_problems({name: (retained, active)}, limit_bytes))))
    return views


# ---------------------------------------------------------------- the requests' safety


def same_origin(headers: Mapping[str, str], host: str) -> bool:
    """A state-changing request from a page of this site: its Origin (or, lacking one, Referer) names ``host``.

    Browsers send Origin with every form POST, so a page elsewhere cannot make a logged-in admin's browser
    restart a task (the session is a cookie the browser would attach). API clients authenticate with a
    bearer token, which no other site can attach: they need no Origin.
    """
    if headers.get("authorization", "").lower().startswith("bearer "):
        return True
    source = headers.get("origin") or headers.get("referer")
    if not source or source == "null":
        return False
    return urlsplit(source).netloc.lower() == host.lower()


# ---------------------------------------------------------------- the brief's check, mapped


@dataclass(frozen=True)
class BriefStep:
    step: str
    brief_url: str  # as the brief (compose deployment) writes it
    console_path: str  # where the console shows it, under its URL prefix


BRIEF_STEPS = (
    BriefStep("the connectors exist from the start (Debezium UI)", "http://localhost:8088", "/connectors"),
    BriefStep("before data, no topic for users or telemetry_events (Kafka UI)",
              "http://localhost:8084/ui/clusters/debezium-cluster/all-topics?perPage=25", "/topics?perPage=25"),
    BriefStep("after “generate”, the topic of users", "http://localhost:8084/ui/clusters/debezium-cluster/"
              "all-topics/crm.public.users", "/topics/crm.public.users"),
    BriefStep("after “generate”, the topic of telemetry events", "http://localhost:8084/ui/clusters/"
              "debezium-cluster/all-topics/telemetry.public.telemetry_events",
              "/topics/telemetry.public.telemetry_events"),
    BriefStep("the topic's messages", "http://localhost:8084/ui/clusters/debezium-cluster/all-topics/"
              "telemetry.public.telemetry_events/messages?keySerde=String&valueSerde=String&limit=100",
              "/topics/telemetry.public.telemetry_events/messages?keySerde=String&valueSerde=String&limit=100"),
)


def kafka_ui_path(path: str) -> str:
    """A Kafka UI path (``/ui/clusters/<cluster>/all-topics[/<topic>[/messages]]``) as the console's path."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] != ["ui", "clusters"] or len(parts) < 4 or parts[3] != "all-topics" or len(parts) > 6:
        raise ConsoleError(f"{path!r} is not a Kafka UI topics path (/ui/clusters/CLUSTER/all-topics[/TOPIC"
                           "[/messages]])")
    rest = parts[4:]
    if rest:
        check_topic_name(rest[0])
    if len(rest) == 2 and rest[1] != "messages":
        raise ConsoleError(f"Kafka UI's topic page {rest[1]!r} has no place here: use the topic or its messages")
    return "/topics" + "".join(f"/{p}" for p in rest)
