"""The report pages keep what the reader typed and say how things went (issue 38: "walk").

Errors and language switches keep the period, the typed user_uuid and the view; a failed login keeps
the user name; the header names the period as picked; pages refuse days the stores cannot hold;
every answer carries the security headers and is never stored; "Generate" follows its run to the end;
ReDoc asks no CDN; an empty period says so in words. Over the real app and engine (chdb).
"""

from __future__ import annotations

import html
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest

from bionicflow.kernel.config import Settings
from bionicflow.reports import auth
from reports_api import csrf, deps
from reports_api.main import app
from tests.support.reports_web import PERIOD, bearer, form_token, log_in

OTHER_USER = "00000000-0000-4000-8000-000000000002"
EMPTY = {"start": "2020-01-01", "end": "2020-01-31"}  # no events in the unit dataset


def field(page: str, name: str) -> str | None:
    """The value an input of the page holds (None when it has none)."""
    tag = re.search(rf'<input[^>]*\bid="{name}"[^>]*>', page)
    assert tag, f"no input #{name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else None


def chosen_view(page: str) -> list[str]:
    """The ids of the form's buttons marked as the view asked for last."""
    buttons = re.findall(r"<button[^>]*>", page)
    return [re.search(r'id="([^"]+)"', b).group(1) for b in buttons if re.search(r'class="[^"]*\bchosen\b', b)]


def switch_link(page: str, lang: str) -> tuple[str, dict[str, str]]:
    """Where the page's language switch to ``lang`` goes: path and query."""
    href = html.unescape(re.search(rf'<a href="([^"]+)" id="lang-{lang}"', page).group(1))
    parts = urlsplit(href)
    return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))


# --- 1. errors and language switches keep the reader's input --------------------------------------

@pytest.mark.parametrize("lang", ["en", "ru"])
def test_an_error_on_the_report_keeps_the_typed_user_the_dates_and_the_view(client, lang):
    log_in(client, "analyst")
    asked = {"view": "compare", "user_uuid": OTHER_USER, "start": "2026-11-05", "end": "2026-11-01", "lang": lang}
    page = client.get("/ui/report", params=asked)
    assert page.status_code == 422 and 'id="error"' in page.text
    assert field(page.text, "user_uuid") == OTHER_USER  # not the analyst's default customer
    assert (field(page.text, "start"), field(page.text, "end")) == ("2026-11-05", "2026-11-01")
    assert chosen_view(page.text) == ["compare"]
    typo = client.get("/ui/report", params={**asked, "user_uuid": "not-a-uuid", "start": "2026-11-01",
                                            "view": "debezium"})
    assert typo.status_code == 422 and field(typo.text, "user_uuid") == "not-a-uuid"
    assert chosen_view(typo.text) == ["report-debezium"]


def test_an_error_on_the_overview_keeps_the_dates_and_marks_the_overview(client):
    log_in(client, "analyst")
    page = client.get("/ui/overview", params={"start": "2026-11-05", "end": "2026-11-01"})
    assert page.status_code == 422
    assert (field(page.text, "start"), field(page.text, "end")) == ("2026-11-05", "2026-11-01")
    assert chosen_view(page.text) == ["overview"]


def test_back_from_a_report_shows_the_form_as_it_was_sent(client):
    log_in(client, "analyst")
    report = client.get("/ui/report", params={"view": "debezium", "user_uuid": OTHER_USER,
                                              "start": PERIOD["from"], "end": PERIOD["to"]})
    back = html.unescape(re.search(r'<a href="([^"]+)" id="back"', report.text).group(1))
    home = client.get(back).text
    assert field(home, "user_uuid") == OTHER_USER and field(home, "end") == PERIOD["to"]
    assert chosen_view(home) == ["report-debezium"]


@pytest.mark.parametrize("lang, other", [("en", "ru"), ("ru", "en")])
@pytest.mark.parametrize("path, params, status", [
    ("/ui/report", {"view": "compare", "user_uuid": OTHER_USER, "start": PERIOD["from"], "end": PERIOD["to"]}, 200),
    ("/ui/report", {"view": "compare", "start": "2026-11-05", "end": "2026-11-01", "user_uuid": OTHER_USER}, 422),
    ("/ui/overview", {"start": PERIOD["from"], "end": PERIOD["to"]}, 200),
    ("/", {"user_uuid": OTHER_USER, "start": "2026-11-01", "end": "", "view": "default"}, 200),
], ids=["report", "report error", "overview", "home"])
def test_the_language_switch_keeps_the_page_and_every_parameter(client, lang, other, path, params, status):
    log_in(client, "analyst")
    page = client.get(path, params={**params, "lang": lang})
    assert page.status_code == status
    assert switch_link(page.text, other) == (path, {**params, "lang": other})
    switched = client.get(path, params={**params, "lang": other})
    assert switched.status_code == status and f'<html lang="{other}">' in switched.text


def test_the_switch_on_a_form_posts_answer_goes_home(client):
    page = log_in(client, "customer1", "wrong")
    assert switch_link(page.text, "ru") == ("/", {"lang": "ru"})


@pytest.mark.parametrize("lang", ["en", "ru"])
def test_a_wrong_password_keeps_the_user_name_but_never_the_password(client, lang):
    client.cookies.set("lang", lang)
    page = log_in(client, "customer1", "secret-guess")
    assert page.status_code == 401
    assert field(page.text, "username") == "customer1" and field(page.text, "password") is None
    assert "secret-guess" not in page.text
    assert field(client.get("/").text, "username") == ""  # a fresh form is empty


def test_a_typed_user_name_is_escaped(client):
    page = log_in(client, '"><script>x</script>', "nope")
    assert "<script>x</script>" not in page.text and field(page.text, "username") == '"><script>x</script>'


# --- 2. periods as the reader picked them ----------------------------------------------------------

def test_an_inverted_period_names_the_picked_dates(client):
    log_in(client, "customer1")
    page = client.get("/ui/report", params={"view": "default", "start": "2026-11-05", "end": "2026-11-01"})
    error = re.search(r'id="error">(.*?)</div>', page.text, re.S).group(1)
    assert "Nov 2" not in error and "T00:00" not in error, error  # not the exclusive next midnight
    assert "from Nov 5, 2026" in error and "to Nov 1, 2026" in error, error  # the page's own date format


@pytest.mark.parametrize("lang, whole_days, times", [
    ("en", "Sep 20, 2026 … Nov 21, 2026 (inclusive), UTC",
     "Sep 20, 2026, 6:30:00\u202fAM … Nov 21, 2026, 12:30:15\u202fPM"),
    ("ru", "20 сент. 2026\u202fг. … 21 нояб. 2026\u202fг. (включительно), UTC",
     "20 сент. 2026\u202fг., 06:30:00 … 21 нояб. 2026\u202fг., 12:30:15"),
])
def test_the_header_shows_the_last_included_day_and_no_microseconds(client, lang, whole_days, times):
    log_in(client, "customer1")
    page = client.get("/ui/report", params={"view": "default", "lang": lang, **{"start": PERIOD["from"],
                                                                                "end": PERIOD["to"]}})
    shown = html.unescape(re.search(r'<span id="period">(.*?)</span>', page.text).group(1))
    assert shown == whole_days, shown
    timed = client.get("/ui/report", params={"view": "default", "lang": lang, "start": "2026-09-20T06:30:00Z",
                                             "end": "2026-11-21T12:30:15.123456Z"})
    shown = html.unescape(re.search(r'<span id="period">(.*?)</span>', timed.text).group(1))
    assert shown.startswith(times) and "123456" not in shown and "(inclusive)" not in shown, shown
    overview_lang = {"lang": lang, "start": PERIOD["from"], "end": PERIOD["to"]}
    client.cookies.clear()
    log_in(client, "analyst")
    overview = client.get("/ui/overview", params=overview_lang)
    assert html.unescape(re.search(r'<span id="period">(.*?)</span>', overview.text).group(1)) == whole_days


@pytest.mark.parametrize("period", [{"start": "3000-01-01", "end": "3000-01-30"},
                                    {"start": "1899-12-01", "end": "1899-12-31"},
                                    {"start": "2299-12-01", "end": "2300-01-02"}, {"end": "1900-01-20"}],
                         ids=["year 3000", "before 1900", "into 2300", "defaults back into 1899"])
def test_the_pages_refuse_days_the_stores_cannot_hold(client, settings, period):
    log_in(client, "analyst")
    for path in ("/ui/report", "/ui/overview"):
        page = client.get(path, params={"view": "default", "user_uuid": OTHER_USER, **period})
        assert page.status_code == 422 and "the reports hold days from Jan 1, 1900 to Dec 31, 2299" in page.text, path
        assert field(page.text, "start") == period.get("start", "")  # and the dates stay to be corrected
    # the JSON API answers it as it always did (docs/reports.md): an empty report
    api = client.get("/reports", params={"schema": "default", "user_uuid": OTHER_USER, "from": "3000-01-01",
                                         "to": "3000-01-30"}, headers=bearer(settings, "analyst"))
    assert api.status_code == 200 and api.json()["events_total"] == 0


def test_the_first_and_last_stored_days_are_served_and_the_date_inputs_are_bounded(client):
    log_in(client, "analyst")
    for period in ({"start": "1900-01-01", "end": "1900-01-31"}, {"start": "2299-12-01", "end": "2299-12-31"}):
        page = client.get("/ui/report", params={"view": "default", "user_uuid": OTHER_USER, **period})
        assert page.status_code == 200, period
    home = client.get("/").text
    for name in ("start", "end"):
        tag = re.search(rf'<input[^>]*id="{name}"[^>]*>', home).group(0)
        assert 'min="1900-01-01"' in tag and 'max="2299-12-31"' in tag, tag


def test_the_stores_refusal_is_in_russian_on_a_russian_page(client):
    log_in(client, "analyst")
    page = client.get("/ui/report", params={"view": "default", "user_uuid": OTHER_USER, "start": "3000-01-01",
                                            "end": "3000-01-30", "lang": "ru"})
    error = re.search(r'id="error">(.*?)</div>', page.text, re.S).group(1)
    assert error.startswith("отчёты охватывают дни с 1 янв. 1900\u202fг. по 31 дек. 2299\u202fг."), error


# --- 3. security headers and no caching on every answer --------------------------------------------

SECURITY = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store"}


def test_every_answer_of_every_status_carries_the_headers_and_is_never_stored(client, settings):
    logged_out = {
        "report page, logged out (303)": client.get("/ui/report", params={"view": "compare"}, follow_redirects=False),
        "overview page, logged out (303)": client.get("/ui/overview", follow_redirects=False),
        "API without a token (401)": client.get("/reports", params={"schema": "default"}),
        "API with a bad period (422)": client.get("/reports", params={"schema": "default", "to": "x"},
                                                  headers=bearer(settings, "customer1")),
        "API report (200)": client.get("/reports", params={"schema": "default"}, headers=bearer(settings, "customer1")),
        "API of another user (403)": client.get("/reports", params={"schema": "default", "user_uuid": OTHER_USER},
                                                headers=bearer(settings, "customer1")),
        "unknown path (404)": client.get("/nothing-here"),
        "health": client.get("/health"),
        "login page": client.get("/"),
    }
    log_in(client, "customer1")
    logged_in = {
        "report page": client.get("/ui/report", params={"view": "compare"}),
        "report page error (422)": client.get("/ui/report", params={"view": "nope"}),
        "overview page of a customer (403)": client.get("/ui/overview"),
        "logout (303)": client.post("/logout", data={"csrf_token": form_token(client.get("/").text)},
                                    follow_redirects=False),
    }
    for name, answer in {**logged_out, **logged_in}.items():
        for header, value in SECURITY.items():
            assert answer.headers.get(header) == value, (name, answer.status_code, header, dict(answer.headers))
        if answer.headers.get("content-type", "").startswith("text/html"):
            assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"], name


def test_the_static_scripts_stay_cacheable(client):
    log_in(client, "customer1")
    for path in ("/static/charts.js", "/static/run_status.js", "/static/redoc-nologo.js"):
        answer = client.get(path)
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-cache", path
        assert answer.headers["content-type"].startswith("text/javascript"), path


# --- 4. "Generate" follows its run ------------------------------------------------------------------

class RunningAirflow(BaseHTTPRequestHandler):
    """Airflow's REST API for one demo_data run: each GET of the run moves it one state further."""

    states: list[str] = []
    result: dict | None = {"users": 1000, "events": 10000, "updates": 0, "deletes": 0}
    asked: list[str] = []

    def _answer(self, body: dict, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 (http.server's names)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.endswith("/dagRuns"):
            return self._answer({"dag_run_id": "manual__2026-12-07T17:45:20.833840+00:00"})
        self._answer({"access_token": "airflow-token"})

    def do_GET(self):  # noqa: N802
        self.asked.append(self.path)
        if self.path.endswith("/xcomEntries/return_value"):
            return self._answer({"value": self.result} if self.result else {"detail": "none"},
                                200 if self.result else 404)
        if "/dagRuns/" in self.path:
            state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            return self._answer({"state": state})
        self._answer({})

    def do_PATCH(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer({})

    def log_message(self, *_args):
        pass


@pytest.fixture
def airflow(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), RunningAirflow)
    RunningAirflow.states, RunningAirflow.asked = ["queued", "running", "success"], []
    RunningAirflow.result = {"users": 1000, "events": 10000, "updates": 0, "deletes": 0}
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    made = Settings(state_dir=settings.state_dir, airflow_host="127.0.0.1", airflow_port=server.server_address[1])
    app.dependency_overrides[deps.settings] = lambda: made
    yield made
    server.shutdown()
    server.server_close()


def generated(client) -> tuple[str, dict[str, str]]:
    """Press "Generate": the home page it leads to and what its script asks the status route with."""
    home = client.post("/ui/generate", data={"csrf_token": form_token(client.get("/").text)})
    assert home.status_code == 200, home.text[-500:]
    status = re.search(r'<p id="run-status" data-run="([^"]+)" data-ticket="([^"]+)" data-lang="([^"]+)"', home.text)
    assert status and '<script src="/static/run_status.js"></script>' in home.text
    return home.text, {"run": html.unescape(status.group(1)), "ticket": status.group(2), "lang": status.group(3)}


@pytest.mark.parametrize("lang, done", [
    ("en", "done: 1,000 users and 10,000 events written"),
    ("ru", "готово: 1\xa0000 пользователей и 10\xa0000 событий записаны"),
])
def test_generate_follows_its_run_to_the_end_and_links_it(client, airflow, lang, done):
    client.cookies.set("lang", lang)
    log_in(client, "customer1")
    home, asked = generated(client)
    run_link = html.unescape(re.search(r'<a id="run-link" href="([^"]+)"', home).group(1))
    assert run_link == f"{airflow.airflow_url}/dags/demo_data/runs/manual__2026-12-07T17%3A45%3A20.833840%2B00%3A00"
    seen = [client.get("/ui/generate/status", params=asked).json() for _ in range(3)]
    assert [s["state"] for s in seen] == ["queued", "running", "success"]
    assert [s["done"] for s in seen] == [False, False, True]
    assert seen[-1]["text"].startswith(done), seen[-1]["text"]
    assert all(s["url"] == run_link for s in seen)
    if lang == "ru":
        assert not any(s["text"].startswith(("queued", "running", "done")) for s in seen), seen


def test_a_failed_run_says_where_to_look_and_a_run_without_its_result_still_ends(client, airflow):
    log_in(client, "customer1")
    _, asked = generated(client)
    RunningAirflow.states = ["failed"]
    failed = client.get("/ui/generate/status", params=asked).json()
    assert failed["done"] and failed["state"] == "failed" and "`generate` task" in failed["text"]
    RunningAirflow.states, RunningAirflow.result = ["success"], None
    assert client.get("/ui/generate/status", params=asked).json()["text"].startswith("done: 1,000 users")


def test_only_the_session_that_started_a_run_may_follow_it(client, settings, airflow):
    log_in(client, "customer1")
    _, asked = generated(client)
    assert client.get("/ui/generate/status", params={**asked, "ticket": "0" * 64}).status_code == 403
    assert client.get("/ui/generate/status", params={**asked, "ticket": ""}).status_code == 403
    assert client.get("/ui/generate/status", params={**asked, "run": "manual__other"}).status_code == 403
    other = auth.verify(settings, auth.issue_dev_token(settings, "customer2"))
    client.cookies.set(deps.COOKIE, auth.issue_dev_token(settings, "customer2"))
    assert client.get("/ui/generate/status", params=asked).status_code == 403  # another user's session
    assert csrf.session_token(settings, other)  # (the ticket is keyed by the session, not guessable from it)
    client.cookies.clear()
    assert client.get("/ui/generate/status", params=asked).status_code == 401
    assert not [p for p in RunningAirflow.asked if "/dagRuns/" in p]  # Airflow was never asked for them


def test_the_status_says_when_airflow_does_not_answer(client, settings):
    app.dependency_overrides[deps.settings] = lambda: Settings(state_dir=settings.state_dir, airflow_host="127.0.0.1",
                                                              airflow_port=9)  # nothing listens there
    log_in(client, "customer1")
    from bionicflow.reports import demo_run

    ticket = demo_run.ticket(csrf.session_token(settings, auth.verify(settings, client.cookies.get(deps.COOKIE))), "r")
    answer = client.get("/ui/generate/status", params={"run": "r", "ticket": ticket})
    assert answer.status_code == 502 and answer.json()["detail"] == "Airflow did not answer; asking again…"


@pytest.mark.parametrize("lang, said", [("en", "did not start demo_data"), ("ru", "не запустил demo_data")])
def test_generate_says_so_when_airflow_does_not_answer(client, settings, lang, said):
    app.dependency_overrides[deps.settings] = lambda: Settings(state_dir=settings.state_dir, airflow_host="127.0.0.1",
                                                              airflow_port=9)  # nothing listens there
    client.cookies.set("lang", lang)
    log_in(client, "customer1")
    page = client.post("/ui/generate", data={"csrf_token": form_token(client.get("/").text)})
    assert page.status_code == 502 and said in page.text and 'id="generate"' in page.text


# --- 5. ReDoc without a CDN; an empty period in words ------------------------------------------------

def test_redoc_loads_a_bundle_that_asks_no_cdn_for_its_logo(client):
    page = client.get("/redoc")
    scripts = re.findall(r'<script src="([^"]+)"', page.text)
    assert scripts == ["/static/redoc-nologo.js"], scripts
    bundle = client.get(scripts[0]).text
    assert "cdn.redoc.ly" not in bundle and "API docs by Redocly" in bundle
    assert 'spec-url="/openapi.json"' in page.text


@pytest.mark.parametrize("lang, sentence", [("en", "No events in this period."), ("ru", "В этом периоде нет событий.")])
def test_an_empty_period_says_so_instead_of_an_empty_table(client, lang, sentence):
    log_in(client, "analyst")
    report = client.get("/ui/report", params={"view": "compare", "user_uuid": OTHER_USER, "lang": lang, **EMPTY})
    assert report.status_code == 200
    for schema in ("default", "debezium"):
        column = report.text.split(f'id="report-{schema}"')[1].split('<div class="col')[0]
        assert sentence in column and "<th>" + ("type" if lang == "en" else "тип") not in column, column[-600:]
    overview = client.get("/ui/overview", params={"lang": lang, **EMPTY})
    assert re.search(rf'<p class="no-events" id="top-default">{re.escape(sentence)}</p>', overview.text)
