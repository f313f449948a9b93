"""The CDC console in the Airflow UI (menu Admin) on the running stack: the brief's check, page by page.

API-level checks first (who may use it, what each page holds), then the walk in a real browser:
log in to Airflow, open the console from the menu, every page, one task restarted by its form.
Screenshots are saved under test-output/screenshots/console-*.png.
"""

from __future__ import annotations

import re
import time
import uuid

import requests
from confluent_kafka.admin import AdminClient

from tests.support.browser import SHOTS, browser, find  # noqa: F401 (browser is a fixture)
from tests.support.console_pages import connector_states, message_offsets, topic_messages
from tests.support.rows import pg

PREFIX = "/cdc-console"
TOPICS = ("crm.public.users", "telemetry.public.telemetry_events")
SECONDS = 90  # a change reaches its topic within seconds; the deadline only bounds a broken road


def _url(stack, path: str) -> str:
    return f"http://{stack.host}:{stack.airflow_port}{PREFIX}{path}"


def _get(stack, airflow, path: str, **kwargs) -> requests.Response:
    return requests.get(_url(stack, path), headers=airflow.headers, timeout=60, **kwargs)


def _table(html: str, table_id: str) -> str:
    start = html.index(f'id="{table_id}"')
    return html[start:html.index("</table>", start)]


def test_only_a_logged_in_admin_reaches_the_console(stack, airflow):
    url = _url(stack, "/connectors")
    assert requests.get(url, timeout=30).status_code == 401  # an API client without a token
    bad = requests.get(url, headers={"Authorization": "Bearer not-a-token"}, timeout=30)
    assert bad.status_code in (401, 403), bad.status_code
    browser_like = requests.get(url, headers={"Accept": "text/html"}, allow_redirects=False, timeout=30)
    # back to the page it asked for once logged in
    assert browser_like.status_code == 307 and "next=%2Fcdc-console%2Fconnectors" in browser_like.headers["location"]
    assert _get(stack, airflow, "/connectors").status_code == 200  # the stack's one user is its admin
    # the task restart refuses a logged-in browser's POST sent from another site (the session is a cookie)
    forged = requests.post(_url(stack, "/connectors/crm-connector/tasks/0/restart"), data={"confirm": "yes"},
                           cookies={"_token": airflow.headers["Authorization"].split()[1]},
                           headers={"Origin": "http://evil.example"}, allow_redirects=False, timeout=30)
    assert forged.status_code == 403 and "own page" in forged.text, forged.text
    plugins = airflow.request("GET", "/plugins")["plugins"]
    views = [v for p in plugins if p["name"] == "bionicflow_cdc_console" for v in p["external_views"]]
    assert [(v["url_route"], v["category"]) for v in views] == [("cdc-console", "admin")]


def test_connectors_are_listed_with_running_tasks_and_config(stack, airflow, cdc):
    page = _get(stack, airflow, "/connectors")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    states = connector_states(page.text)
    assert {name: states.get(name) for name in ("crm-connector", "telemetry-connector")} == {
        "crm-connector": ("RUNNING", ["RUNNING"]), "telemetry-connector": ("RUNNING", ["RUNNING"])}, states
    assert re.search(r"task 0: <span class=\"ok\">RUNNING</span> on [\w.:-]+", page.text)  # its worker
    assert "<code>slot.name</code></td><td><code>crm_debezium_slot</code>" in page.text
    unknown = requests.post(_url(stack, "/connectors/crm-connector/tasks/99/restart"), data={"confirm": "yes"},
                            headers=airflow.headers, timeout=60)
    assert unknown.status_code == 400 and "has no task 99; tasks: 0" in unknown.text, unknown.text


def _new_user(stack) -> tuple[int, str]:
    name = f"console-{uuid.uuid4().hex[:12]}"
    with pg(stack, "crm_db") as conn, conn.cursor() as cur:
        cur.execute("INSERT INTO users (name, email, age) VALUES (%s, %s, 41) RETURNING id",
                    (name, f"{name}@example.org"))
        return cur.fetchone()[0], name


def test_a_row_just_written_is_among_the_latest_messages_of_its_topic(stack, airflow, cdc):
    user_id, name = _new_user(stack)
    deadline, page = time.monotonic() + SECONDS, None
    while time.monotonic() < deadline:
        page = _get(stack, airflow, "/topics/crm.public.users/messages",
                    params={"keySerde": "String", "valueSerde": "String", "limit": 100})
        if page.status_code == 200 and name in page.text:
            break
        time.sleep(1)
    assert page is not None and page.status_code == 200 and name in page.text, \
        f"{name} not among the latest 100 messages of crm.public.users within {SECONDS}s: {page and page.text[-1500:]}"
    # the key filter finds that one change; its value also shows as formatted JSON
    found = _get(stack, airflow, "/topics/crm.public.users/messages",
                 params={"q": f'"id":{user_id}}}', "limit": 10, "valueSerde": "JSON"})
    rows = message_offsets(found.text)
    assert found.status_code == 200 and len(rows) == 1, (rows, found.text[-2000:])
    assert f'&#34;name&#34;: &#34;{name}&#34;' in found.text  # pretty JSON, escaped
    # from an offset: that message first
    offset = rows[0]
    forward = _get(stack, airflow, "/topics/crm.public.users/messages", params={"partition": 0, "offset": offset,
                                                                              "limit": 1})
    assert message_offsets(forward.text) == [offset] and name in forward.text
    # the console read in no group of its own: none of its throwaway groups exists
    groups = AdminClient({"bootstrap.servers": f"{stack.host}:{stack.kafka_port}"}).list_consumer_groups().result()
    assert not [g.group_id for g in groups.valid if g.group_id.startswith("bionicflow-console-")]


def test_topics_show_the_brief_topics_with_offsets_counts_and_sizes(stack, airflow, cdc):
    page = _get(stack, airflow, "/topics", params={"perPage": 25})
    assert page.status_code == 200
    counts = topic_messages(page.text)
    assert all(counts.get(topic, 0) > 0 for topic in TOPICS) and "__consumer_offsets" not in counts, counts
    table = _table(page.text, "topics")
    for topic in TOPICS:
        row = table[table.index(f'data-name="{topic}"'):]
        row = row[:row.index("</tr>")]
        assert re.search(r'<td class="n">[\d,.]+ (B|KiB|MiB)</td>', row), row  # on the embedded broker's disk
    one = _get(stack, airflow, "/topics/telemetry.public.telemetry_events")
    assert one.status_code == 200 and re.search(r"<td class=\"n\">0</td><td class=\"n\">\d+</td>", one.text)
    assert _get(stack, airflow, "/topics/no.such.topic").status_code == 404
    assert _get(stack, airflow, "/topics/crm.public.users/messages", params={"limit": 0}).status_code == 400
    assert _get(stack, airflow, "/topics/crm.public.users/messages", params={"valueSerde": "Avro"}).status_code == 400


def test_the_brief_kafka_ui_address_leads_to_the_same_messages(stack, airflow, cdc):
    brief = ("/ui/clusters/debezium-cluster/all-topics/telemetry.public.telemetry_events/messages"
             "?keySerde=String&valueSerde=String&limit=100")
    moved = _get(stack, airflow, brief, allow_redirects=False)
    assert moved.status_code == 307
    assert moved.headers["location"] == (f"{PREFIX}/topics/telemetry.public.telemetry_events/messages"
                                         "?keySerde=String&valueSerde=String&limit=100")
    page = _get(stack, airflow, brief)
    assert page.status_code == 200 and message_offsets(page.text), page.text[-1000:]


def test_groups_show_lag_and_dead_letters_and_slots_render(stack, airflow, cdc):
    groups = _get(stack, airflow, "/consumer-groups")
    assert groups.status_code == 200
    table = _table(groups.text, "groups")
    for group in ("clickhouse_crm_consumer", "clickhouse_telemetry_consumer"):
        row = table[table.index(f'data-group="{group}"'):]
        assert re.search(r'class="n lag[^"]*">[\d,]+</td>', row[:1500]), row[:1500]
    letters = _get(stack, airflow, "/dead-letters")
    assert letters.status_code == 200 and ('id="causes"' in letters.text or 'id="no-dead-letters"' in letters.text)
    slots = _get(stack, airflow, "/slots")
    assert slots.status_code == 200
    table = _table(slots.text, "slots")
    for slot, connector in (("crm_debezium_slot", "crm-connector"), ("telemetry_debezium_slot", "telemetry-connector")):
        row = table[table.index(f'data-slot="{slot}"'):]
        assert re.search(rf"<td>{slot}</td><td>{connector}</td><td>\w+</td>\s*<td class=\"n\">[\d,.]+ (B|KiB|MiB|GiB)",
                         row[:600]), row[:600]


def _wait_task_running(cdc, connector: str) -> None:
    deadline, states = time.monotonic() + SECONDS, None
    while time.monotonic() < deadline:
        states = cdc.statuses().get(connector)
        if states and states["state"] == "RUNNING" and [t["state"] for t in states["tasks"]] == ["RUNNING"]:
            return
        time.sleep(1)
    raise AssertionError(f"{connector} not RUNNING {SECONDS}s after the restart: {states}")


def _in_console_frame(browser, css: str, timeout: float = 60) -> str:
    """The text of ``css`` inside the Airflow page's iframe (the UI may render the frame again while loading)."""
    from selenium.common.exceptions import NoSuchElementException, NoSuchFrameException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while True:
        try:
            browser.switch_to.default_content()
            browser.switch_to.frame(browser.find_element("css selector", "iframe"))
            return browser.find_element("css selector", css).text
        except (NoSuchElementException, NoSuchFrameException, StaleElementReferenceException):
            if time.monotonic() > deadline:
                browser.switch_to.default_content()
                browser.save_screenshot(str(SHOTS / "failure.png"))
                raise AssertionError(f"no {css} in the console's frame after {timeout}s; see failure.png") from None
            time.sleep(0.3)


def test_an_admin_walks_the_console_from_the_airflow_menu(stack, airflow, cdc, browser):
    base = f"http://{stack.host}:{stack.airflow_port}"
    browser.get(f"{base}{PREFIX}/")  # no session: Airflow's login, then back to the console
    find(browser, "input[name=username]").send_keys(stack.airflow_admin_user)
    find(browser, "input[name=password]").send_keys(stack.airflow_admin_password.get_secret_value())
    find(browser, "button[type=submit]").click()
    find(browser, "iframe")
    browser.get(f"{base}/")
    find(browser, "button[aria-label=Admin]").click()  # Airflow's navigation: the Admin menu
    entry = find(browser, "a[role=menuitem][href$='/plugin/cdc-console']")
    assert entry.text.strip() == "CDC console", entry.text
    browser.save_screenshot(str(SHOTS / "console-01-admin-menu.png"))
    entry.click()
    assert "crm.public.users" in _in_console_frame(browser, "#brief-steps")
    browser.switch_to.default_content()
    browser.save_screenshot(str(SHOTS / "console-02-in-airflow.png"))

    for n, (path, element, expected) in enumerate((
            ("/connectors", "#connectors", "crm-connector"),
            ("/topics?perPage=25", "#topics", "telemetry.public.telemetry_events"),
            ("/topics/crm.public.users", "#partitions", "0"),
            ("/topics/crm.public.users/messages?keySerde=String&valueSerde=String&limit=100", "#messages", "crm"),
            ("/topics/crm.public.users/messages?valueSerde=JSON&limit=5", "#messages", '"payload"'),
            ("/consumer-groups", "#groups", "clickhouse_crm_consumer"),
            ("/dead-letters", "h2", "Dead letters"),
            ("/slots", "#slots", "crm_debezium_slot")), start=3):
        browser.get(f"{base}{PREFIX}{path}")
        assert expected in find(browser, element).text, (path, find(browser, element).text[:500])
        name = path.strip("/").split("?")[0].replace("/", "-").replace(".", "_")
        browser.save_screenshot(str(SHOTS / f"console-{n:02d}-{name}.png"))

    browser.get(f"{base}{PREFIX}/connectors")  # the one write: a task restarted by its form (a same-origin POST)
    row = find(browser, "tr.connector[data-name='telemetry-connector']")
    row.find_element("css selector", "form button").click()
    assert "telemetry-connector/0" in find(browser, "#restarted").text
    browser.save_screenshot(str(SHOTS / "console-11-restarted.png"))
    _wait_task_running(cdc, "telemetry-connector")
