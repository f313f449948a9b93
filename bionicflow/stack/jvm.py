"""The JVM services: jars from Maven Central, the Kafka broker and the Connect worker."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import subprocess
import uuid
from pathlib import Path

from bionicflow.kernel.config import Settings, project_root
from bionicflow.kernel.errors import ServiceStartError
from bionicflow.stack.preflight import find_java, find_mvn
from bionicflow.stack.supervisor import Program

POM = project_root() / "jvm" / "pom.xml"

LOG4J2 = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = org.apache.kafka
logger.kafka.level = WARN
logger.connect.name = org.apache.kafka.connect
logger.connect.level = INFO
logger.debezium.name = io.debezium
logger.debezium.level = INFO
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


# The largest change message (a row's before + after image, JSON with schema) Kafka and Connect
# accept: 16 MiB, so a text value of several MB still flows (docs/cdc.md, "Known limits").
MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def jars_dir(settings: Settings) -> Path:
    """Cache folder for this exact pom: editing a version fetches a fresh set."""
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:12]
    return settings.jars_dir / digest


def ensure_jars(settings: Settings) -> Path:
    """Fetch the jars with Maven on first use; later calls find them cached."""
    target = jars_dir(settings)
    done = target / ".complete"
    if done.exists():
        return target
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two stacks started at once (make test) fetch the jars once
        if not done.exists():
            _fetch_jars(settings, target)
            done.write_text("ok\n")
    return target


def _fetch_jars(settings: Settings, target: Path) -> None:
    out = subprocess.run(
        [str(find_mvn(settings)), "-q", "-B", "-f", str(POM), f"-Dbionicflow.jars={target}", "generate-resources"],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise ServiceStartError(
            "fetching the Kafka/Debezium jars with Maven failed (is Maven Central reachable?):\n"
            + (out.stdout + out.stderr).strip()[-1500:]
        )


def _classpath(settings: Settings) -> str:
    return str(jars_dir(settings) / "kafka-libs" / "*")


def _write_props(path: Path, props: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))


def _log4j(settings: Settings) -> Path:
    path = settings.state_dir / "kafka" / "log4j2.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOG4J2)
    return path


def _jvm_program(settings: Settings, name: str, heap: str, main_class: str, config: Path, directory: Path,
                 preallocate: bool = False) -> Program:
    """A supervised JVM on the Kafka classpath with our log4j2 configuration.

    ``preallocate`` commits the whole heap at start (the broker, as Kafka's scripts do);
    otherwise the heap grows on demand, which keeps the idle stack small.
    """
    return Program(
        name=name,
        command=[
            str(find_java(settings)), f"-Xmx{heap}", *([f"-Xms{heap}"] if preallocate else []),
            "-XX:+UseG1GC", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={_log4j(settings)}", "-cp", _classpath(settings), main_class, str(config),
        ],
        directory=directory,
        stopwaitsecs=60,
        startsecs=3,
    )


class KafkaBroker:
    """Single-node KRaft broker + controller."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.state_dir / "kafka"
        self.data = self.root / "data"
        self.config = self.root / "server.properties"

    def prepare(self) -> None:
        ensure_jars(self.settings)
        s = self.settings
        _write_props(self.config, {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{s.host}:{s.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{s.host}:{s.kafka_port},CONTROLLER://{s.host}:{s.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{s.host}:{s.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # CDC topics are the replay source for the OLAP side: keep a week.
            "log.retention.hours": "168",
            # Room for a row with a large text value (the producer allows the same).
            "message.max.bytes": str(MAX_MESSAGE_BYTES),
            "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
        })
        if not (self.data / "meta.properties").exists():
            self._format()

    def _format(self) -> None:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        out = subprocess.run(
            [str(find_java(self.settings)), "-cp", _classpath(self.settings), "kafka.tools.StorageTool",
             # one token: a random id may begin with "-", which the tool would take for an option
             "format", f"--cluster-id={cluster_id}", "-c", str(self.config), "--ignore-formatted"],
            capture_output=True, text=True, check=False,
        )
        if out.returncode != 0:
            raise ServiceStartError(f"formatting Kafka storage failed: {(out.stdout + out.stderr).strip()[-800:]}")

    def program(self) -> Program:
        return _jvm_program(self.settings, "kafka", self.settings.kafka_heap, "kafka.Kafka", self.config, self.root,
                            preallocate=True)


CONNECT_TOPICS = ("_connect_configs", "_connect_offsets", "_connect_status")


class ConnectWorker:
    """Kafka Connect distributed worker with the Debezium plugin."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.root = settings.state_dir / "kafka-connect"
        self.config = self.root / "connect-distributed.properties"

    def prepare(self) -> None:
        jars = ensure_jars(self.settings)
        s = self.settings
        configs, offsets, status = CONNECT_TOPICS
        _write_props(self.config, {
            "bootstrap.servers": f"{s.host}:{s.kafka_port}",
            "group.id": "bionicflow-connect",
            "listeners": f"http://{s.host}:{s.kafka_connect_port}",
            "rest.advertised.host.name": s.host,
            "rest.advertised.port": str(s.kafka_connect_port),
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "true",
            "value.converter.schemas.enable": "true",
            "config.storage.topic": configs,
            "offset.storage.topic": offsets,
            "status.storage.topic": status,
            "config.storage.replication.factor": "1",
            "offset.storage.replication.factor": "1",
            "status.storage.replication.factor": "1",
            "offset.flush.interval.ms": "5000",
            # Connect creates a table's topic at its first change, from the connector's topic.creation.default.*
            # (1 partition): nothing makes the topics up front (bionicflow/cdc/topics.py). On by default; said here.
            "topic.creation.enable": "true",
            # Debezium's JSON-with-schema messages are ~2 kB: Connect's producer defaults (16 kB
            # batches, no linger) send a handful per round trip. Bigger, compressed batches
            # (see docs/benchmarks.md for the measured difference).
            "producer.batch.size": "1048576",
            "producer.linger.ms": "20",
            "producer.compression.type": "lz4",
            "producer.max.request.size": str(MAX_MESSAGE_BYTES),
            "plugin.path": str(jars / "connect-plugins"),
            "plugin.discovery": "service_load",
            # Connector JSON names secrets as ${env:...} or ${file:...}, never literally.
            "config.providers": "env,file",
            "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
            "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        })

    def program(self) -> Program:
        return _jvm_program(self.settings, "kafka_connect", self.settings.connect_heap,
                            "org.apache.kafka.connect.cli.ConnectDistributed", self.config, self.root)
