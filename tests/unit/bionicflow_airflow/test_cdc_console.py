"""The CDC console's Airflow side without a stack: who may use it, and pages that show hostile messages safely."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bionicflow.cdc import console
from bionicflow_airflow.cdc_console import console_admin, templates


@pytest.mark.parametrize("role, allowed", [("admin", True), ("ADMIN", True), ("op", False), ("user", False),
                                           ("viewer", False), (None, False)])
def test_only_an_admin_of_the_simple_auth_manager_passes(role, allowed):
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    assert console_admin(SimpleAuthManager(), SimpleAuthManagerUser(username="u", role=role)) is allowed


def test_other_auth_managers_are_asked_whether_the_user_may_change_the_configuration():
    class Manager:
        def __init__(self, answer):
            self.answer, self.asked = answer, []

        def is_authorized_configuration(self, *, method, user, details=None):
            self.asked.append((method, user))
            return self.answer

    yes, no = Manager(True), Manager(False)
    assert console_admin(yes, "alice") is True and console_admin(no, "bob") is False
    assert yes.asked == [("PUT", "alice")]


HOSTILE = b'<script>alert("x")</script>'


def _render(name: str, **context) -> str:
    return templates.get_template(name).render(nav=name, **context)


def test_a_message_is_escaped_everywhere_and_a_huge_one_is_cut_with_its_size():
    huge = b'{"a": "' + b"y" * 30_000 + b'"}'
    messages = [console.MessageView(0, 5, datetime(2026, 12, 7, 10, 0, tzinfo=UTC), console.shown(HOSTILE),
                                    console.shown(huge), (("<h>", console.shown(HOSTILE)),)),
                console.MessageView(0, 4, None, console.shown(None), console.shown(b'{"b": "' + HOSTILE.replace(
                    b'"', b"'") + b'"}'), ())]
    topic = console.TopicInfo("crm.public.users", (console.PartitionInfo(0, 0, 6),))
    page = console.MessagesPage(topic.name, messages, [console.Read(0, 0, 6)], scanned=2)
    html = _render("console_messages.html", topic=topic, page=page, limit=100, partition=None, offset=None,
                   q='"><script>', serdes=("String", "JSON"), max_shown=console.MAX_SHOWN)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "cut at 20,000 characters: 29.3 KiB in all" in html  # 30,009 bytes
    assert "&lt;h&gt;" in html and "2026-12-07 10:00:00.000 UTC" in html and 'value="&#34;&gt;&lt;script&gt;"' in html
    assert '<pre class="json">{\n  &#34;b&#34;' in html  # the value as formatted JSON, escaped


def test_a_failed_task_shows_its_trace_escaped_and_a_restart_form_that_posts():
    doc = {"c<x>": {"status": {"connector": {"state": "RUNNING", "worker_id": "w:1"},
                               "tasks": [{"id": 0, "state": "FAILED", "worker_id": "w:1",
                                          "trace": "java.lang.Error: <b>bad</b>\n\tat z"}]},
                    "info": {"type": "source", "config": {"k": "<v>"}}}}
    html = _render("console_connectors.html", connectors=console.connector_views(doc), restarted="")
    assert "<b>bad</b>" not in html and "&lt;b&gt;bad&lt;/b&gt;" in html and "&lt;v&gt;" in html
    assert 'method="post" action="/cdc-console/connectors/c%3Cx%3E/tasks/0/restart"' in html


def test_slots_dead_letters_and_groups_render_their_numbers():
    slots = console.slot_views({"crm_debezium_slot": (3 * 1024**2, True)}, 1024**3)
    html = _render("console_slots.html", slots=slots, error="", limit=1024**3)
    assert "3.0 MiB" in html and "crm-connector" in html and "missing: the connector creates it" in html
    letter = console.DeadLetter("crm.public.users", 0, 9, "rejected by ClickHouse: <x>", datetime(2026, 1, 1),
                                console.Shown("<p>", None, 5000, True))
    html = _render("console_dead_letters.html", causes=[], letters=[letter], limit=50)
    assert "&lt;x&gt;" in html and "&lt;p&gt;" in html and "cut: 4.9 KiB in all" in html
    group = console.GroupView("g", "STABLE", (console.GroupPartition("t", 0, 90, 100),))
    html = _render("console_groups.html", groups=[group])
    assert 'class="n lag bad">10<' in html and "total lag 10" in html


def test_the_tests_read_the_pages_as_rendered():
    """tests/support/console_pages.py parses what the templates write (the integration and fresh-stack tests use it)."""
    from tests.support.console_pages import connector_states, message_offsets, topic_messages

    topics = [console.TopicInfo("crm.public.users", (console.PartitionInfo(0, 0, 1234),)),
              console.TopicInfo("telemetry.public.telemetry_events", (console.PartitionInfo(0, 5, 5),))]
    html = _render("console_topics.html", topics=topics, pages=1, page=1, per_page=25, internal=False)
    assert topic_messages(html) == {"crm.public.users": 1234, "telemetry.public.telemetry_events": 0}
    doc = {name: {"status": {"connector": {"state": state, "worker_id": "w"},
                             "tasks": [{"id": 0, "state": task, "worker_id": "w"}]}, "info": {"config": {}}}
           for name, state, task in (("crm-connector", "RUNNING", "RUNNING"), ("telemetry-connector", "RUNNING",
                                                                                "FAILED"))}
    html = _render("console_connectors.html", connectors=console.connector_views(doc), restarted="")
    assert connector_states(html) == {"crm-connector": ("RUNNING", ["RUNNING"]),
                                      "telemetry-connector": ("RUNNING", ["FAILED"])}
    messages = [console.MessageView(0, n, None, console.shown(b"k"), console.shown(b"v"), ()) for n in (9, 8)]
    page = console.MessagesPage("t", messages, [])
    html = _render("console_messages.html", topic=topics[0], page=page, limit=2, partition=None, offset=None, q="",
                   serdes=("String", "String"), max_shown=console.MAX_SHOWN)
    assert message_offsets(html) == [9, 8]


@pytest.mark.parametrize("topics, empty", [
    ({}, True),  # the brief's Kafka UI: no topic before data
    ({"crm.public.users": 0, "telemetry.public.telemetry_events": 0, "crm.message": 3}, True),  # bionicflow's
    ({"crm.public.users": 1, "telemetry.public.telemetry_events": 0}, False),
])
def test_before_data_the_tables_topics_are_absent_or_empty(topics, empty):
    from tests.support.console_pages import brief_topics_hold_no_data

    assert brief_topics_hold_no_data(topics) is empty


@pytest.mark.parametrize("status", [400, 403, 404, 503])
def test_a_browser_gets_the_error_as_a_page_with_its_status_and_message(status):
    """The console's errors are pages for a browser (they were 500s: the page's template needs its navigation)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from starlette.exceptions import HTTPException

    from bionicflow_airflow.cdc_console import _errors

    app = FastAPI()
    app.add_exception_handler(HTTPException, _errors)  # type: ignore[arg-type]

    @app.get("/cdc-console/topics/{name}")
    def missing(name: str):
        raise HTTPException(status, f"no topic {name!r} <here>")

    answer = TestClient(app).get("/cdc-console/topics/nosuch", headers={"Accept": "text/html"})
    assert answer.status_code == status and "text/html" in answer.headers["content-type"]
    assert "no topic &#39;nosuch&#39; &lt;here&gt;" in answer.text and answer.headers["cache-control"] == "no-store"


def test_a_browser_without_a_session_comes_back_to_the_page_it_asked_for(monkeypatch):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from starlette.exceptions import HTTPException

    import airflow.api_fastapi.app as airflow_app

    from bionicflow_airflow.cdc_console import _errors

    class Manager:
        def get_url_login(self) -> str:
            return "/auth/login"

    monkeypatch.setattr(airflow_app, "get_auth_manager", Manager)
    app = FastAPI()
    app.add_exception_handler(HTTPException, _errors)  # type: ignore[arg-type]

    @app.get("/cdc-console/{rest:path}")
    def page(rest: str):
        raise HTTPException(401, "no session")

    client = TestClient(app, follow_redirects=False)
    deep = client.get("/cdc-console/topics/crm.public.users/messages?limit=5", headers={"Accept": "text/html"})
    assert deep.status_code == 307 and deep.headers["location"] == (
        "/auth/login?next=%2Fcdc-console%2Ftopics%2Fcrm.public.users%2Fmessages%3Flimit%3D5")
    index = client.get("/cdc-console/", headers={"Accept": "text/html"})
    assert index.headers["location"] == "/auth/login?next=%2Fplugin%2Fcdc-console"
