"""The embedded Kafka Connect worker creates the tables' topics at their first change (bionicflow/cdc/topics.py)."""

from __future__ import annotations

from bionicflow.kernel.config import Settings
from bionicflow.stack import jvm


def test_the_connect_worker_creates_topics_from_the_connectors_settings(tmp_path, monkeypatch):
    monkeypatch.setattr(jvm, "ensure_jars", lambda settings: tmp_path / "jars")
    worker = jvm.ConnectWorker(Settings(state_dir=tmp_path))
    worker.prepare()
    props = dict(line.split("=", 1) for line in worker.config.read_text().splitlines())
    assert props["topic.creation.enable"] == "true"
