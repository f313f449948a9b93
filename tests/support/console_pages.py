"""Reading the CDC console's pages (bionicflow_airflow/templates/console_*.html) in tests: what a person reads there."""

from __future__ import annotations

import re

import requests

PREFIX = "/cdc-console"
BRIEF_TOPICS = ("crm.public.users", "telemetry.public.telemetry_events")


def console_get(base: str, token: str, path: str, **params) -> requests.Response:
    """One console page as the Airflow admin (``token`` from Airflow's /auth/token)."""
    return requests.get(f"{base}{PREFIX}{path}", headers={"Authorization": f"Bearer {token}"}, params=params or None,
                        timeout=60)


def topic_messages(html: str) -> dict[str, int]:
    """The topics page: topic -> its message count."""
    return {name: int(count.replace(",", "")) for name, count in re.findall(
        r'<tr class="topic" data-name="([^"]+)">.*?<td class="n messages">([\d,]+)</td>', html, re.S)}


def connector_states(html: str) -> dict[str, tuple[str, list[str]]]:
    """The connectors page: connector -> (its state, its tasks' states)."""
    states = {}
    for row in re.findall(r'<tr class="connector" data-name=.*?</tr>', html, re.S):
        name = re.search(r'data-name="([^"]+)"', row).group(1)
        state = re.search(r'<td class="(?:ok|bad)">([A-Z_]+)</td>', row).group(1)
        states[name] = (state, re.findall(r'task \d+: <span class="(?:ok|bad)">([A-Z_]+)</span>', row))
    return states


def message_offsets(html: str) -> list[int]:
    """The messages page: the offsets of the messages shown, in the page's order."""
    return [int(o) for o in re.findall(r'<tr class="message" data-offset="(\d+)">', html)]


def brief_topics_hold_no_data(topics: dict[str, int]) -> bool:
    """No data in the tables' topics: absent (before data, as in the brief: Connect creates each with its table's
    first change, bionicflow/cdc/topics.py) or present and empty (a stricter check: tests/faults/
    test_console_fresh_stack.py asserts "absent")."""
    return all(topics.get(topic, 0) == 0 for topic in BRIEF_TOPICS)
