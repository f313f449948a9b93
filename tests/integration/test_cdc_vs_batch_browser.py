"""The Airflow "CDC vs batch" page in a real headless Chromium: a one-line verdict on top, history rows in words,
counts formatted, the per-table table naming its run.

A user row written after `default`'s last load makes the newest reconciliation a "mismatch" that
is only lag: the page must say so (amber, "lag"), not leave a red word. Screenshots go to
test-output/screenshots/ (cdc-vs-batch-*.png).
"""

from __future__ import annotations

import re

from tests.support.browser import SHOTS, airflow_session, browser, find  # noqa: F401 (browser is a fixture)
from tests.support.rows import apply_sql, olap_admin
from tests.support.stack import run_ok

MARK = "cdc-vs-batch lag probe"
COUNT = re.compile(r"^\d{1,3}(,\d{3})*$")


def _stored_rows(stack, run_id: str) -> dict[tuple[str, str], int]:
    rows = olap_admin(stack).query("SELECT table, side, rows FROM ops.reconciliation_tables WHERE run_id = {r:String}",
                                   parameters={"r": run_id}).result_rows
    return {(table, side): int(count) for table, side, count in rows}


def test_the_page_says_which_road_to_trust_and_a_lag_mismatch_is_amber(stack, bootstrapped, airflow, browser):
    run_ok(airflow, "etl_default")  # default current, then a row only CDC carries until the next load
    apply_sql(stack, "crm_db", [f"INSERT INTO users (name, email) VALUES ('{MARK}', 'lag@example.org')"])
    try:
        run_id = run_ok(airflow, "cdc_reconcile")["dag_run_id"]
        base = airflow_session(browser, stack)
        browser.get(f"{base}/bionicflow/cdc-vs-batch")
        verdict = find(browser, "#verdict p.verdict")
        browser.save_screenshot(str(SHOTS / "cdc-vs-batch-verdict.png"))
        newest = browser.find_elements("css selector", "#reconciliations tr")[1]
        cells = [td.text for td in newest.find_elements("css selector", "td")]
        assert cells[0] == run_id, cells
        # default lacks the row written since its last load: the run's verdict is "mismatch", and it is lag
        assert cells[2] == "mismatch (lag)", cells
        assert newest.find_elements("css selector", "td")[2].get_attribute("class") == "lag"
        assert cells[3].startswith("lag only: ") and "1 missing in default.users (written since its last load)" \
            in cells[3], cells
        assert verdict.get_attribute("data-level") == "lag", verdict.text
        assert re.fullmatch(r"debezium is [\d.,]+ (s|min|h) behind, default's last load was [\d.,]+ (s|min|h) ago: "
                            r"the differences as of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC are lag; read debezium for "
                            r"the newest data, default as of its last load",
                            verdict.text), verdict.text
        # every history row says in words what happened
        for row in browser.find_elements("css selector", "#reconciliations tr")[1:]:
            assert row.find_element("css selector", "td.what").text.strip(), row.text

        # the per-table table names its run, and its counts are the stored ones, formatted
        heading = find(browser, "#tables-run").text
        assert heading.startswith(f"Per table, newest run: {run_id} at "), heading
        stored = _stored_rows(stack, run_id)
        for tr in browser.find_elements("css selector", "#tables tr")[1:]:
            table, side, rows, *counts = [td.text for td in tr.find_elements("css selector", "td")]
            assert rows == f"{stored[(table, side)]:,}", (table, side, rows)
            assert all(COUNT.match(c) for c in [rows, *counts[:4]] if c), (table, side, counts)
            if (table, side) == ("users", "default"):  # behind by the probe row, not wrong: amber, not a red "no"
                assert counts[4] == "lag", counts
        assert not re.search(r"\b\d{4,}\b(?![-:])", find(browser, "#tables").text), "an unformatted count"
        periods = [td.text for td in browser.find_elements("css selector", "#report-runs tr td:nth-child(2)")]
        assert not any(re.search(r"\d\d:\d\d:\d\d\.\d", p) for p in periods), periods  # no microseconds
        browser.execute_script("arguments[0].scrollIntoView()", find(browser, "#tables-run"))
        browser.save_screenshot(str(SHOTS / "cdc-vs-batch-history.png"))
    finally:
        apply_sql(stack, "crm_db", [f"DELETE FROM users WHERE name = '{MARK}'"])


def test_the_page_inside_the_airflow_ui(stack, bootstrapped, airflow, browser):
    """Browse → CDC vs batch: the page in the Airflow UI's frame, its verdict line first."""
    base = airflow_session(browser, stack)
    browser.get(f"{base}/plugin/cdc-vs-batch")
    frame = find(browser, "iframe", timeout=60)
    browser.switch_to.frame(frame)
    try:
        verdict = find(browser, "#verdict p.verdict", timeout=60)
        assert verdict.get_attribute("data-level") in ("ok", "lag", "error", "unknown") and verdict.text
    finally:
        browser.switch_to.default_content()
    browser.save_screenshot(str(SHOTS / "cdc-vs-batch-in-airflow.png"))
