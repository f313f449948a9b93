"""The report page in a real headless Chromium: from navigation start to each chart drawn.

On a kept benchmark stack (`--reuse STATE_DIR`), logged in as the analyst: the report of a user
given 240 events over 30 days in 6 muscle groups and 6 prosthesis types (written to the source,
carried by CDC), from `debezium` in Russian (the brief's "Отчёт (debezium)"), loaded --runs times after
one warm-up load (the browser then has the chart library cached, as a returning reader does).
Each chart marks the Performance timeline when vega-embed has drawn it (`chart drawn: <id>`),
relative to the navigation's start; the server's share is the navigation's `responseStart`.
Medians per mark.

Run: python -m bench.report_page --reuse STATE_DIR [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time

from bench.batch_etl import olap, pg, sources
from bench.common import bench_env, machine
from bionicflow.kernel.config import Settings

EVENTS_SQL = """INSERT INTO telemetry_events (user_uuid, prosthesis_type, muscle_group, signal_frequency,
       signal_duration, signal_amplitude, created_ts)
SELECT %(u)s::uuid, (ARRAY['hand','arm','leg','foot','knee','forearm'])[1 + g %% 6],
       (ARRAY['biceps','triceps','forearm_flexors','forearm_extensors','quadriceps','hamstrings'])[1 + g / 7 %% 6],
       100 + g, 1000 + g, g / 100.0, timestamp '2025-06-01' + (g %% 30) * interval '1 day'
FROM generate_series(1, 240) g"""
MARKS_JS = """const n = performance.getEntriesByType('navigation')[0];
return [['server response (responseStart)', n.responseStart],
        ...performance.getEntriesByType('mark').map(m => [m.name, m.startTime])];"""


def main() -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    parser = argparse.ArgumentParser()
    parser.add_argument("--reuse", metavar="STATE_DIR", required=True, help="a kept, loaded benchmark stack")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    bench_env(args.reuse)
    s = Settings()
    client = olap(s)
    user = client.query("SELECT user_uuid FROM debezium.users LIMIT 1").result_rows[0][0]
    with pg(sources(s)["telemetry_events"]) as conn, conn.cursor() as cur:
        cur.execute(EVENTS_SQL, {"u": user})
    deadline = time.monotonic() + 120
    while client.query("SELECT count() FROM debezium.telemetry_events WHERE user_uuid = {u:String}",
                       parameters={"u": user}).result_rows[0][0] < 240:
        if time.monotonic() > deadline:
            raise SystemExit("the user's events did not reach debezium within 120 s")
        time.sleep(0.5)  # polling interval; the loop condition decides
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    base = f"http://{s.host}:{s.reports_api_port}/"
    try:
        driver.get(base)
        driver.find_element("css selector", "#username").send_keys("analyst")
        driver.find_element("css selector", "#password").send_keys("analyst_password")
        driver.find_element("css selector", "#login").click()
        samples: dict[str, list[float]] = {}
        for run in range(args.runs + 1):
            driver.get(f"{base}ui/report?view=debezium&lang=ru&user_uuid={user}&start=2025-06-01&end=2025-07-01")
            deadline = time.monotonic() + 60
            while len(driver.find_elements("css selector", "figure.chart[data-drawn]")) < \
                    len(driver.find_elements("css selector", "figure.chart .vega")):
                if time.monotonic() > deadline:
                    raise SystemExit("the charts were not drawn within 60 s")
                time.sleep(0.02)  # polling interval; the loop condition decides
            if run:  # the first load warms the browser's cache
                for name, at in driver.execute_script(MARKS_JS):
                    samples.setdefault(name, []).append(at)
    finally:
        driver.quit()
    print(json.dumps({"machine": machine(), "runs": args.runs, "median_ms": {
        name: round(statistics.median(v)) for name, v in samples.items()}, "samples_ms": {
        name: [round(x) for x in v] for name, v in samples.items()}}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
