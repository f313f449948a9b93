"""reports_api on the running stack, attacked as issue "guard" found it (item 6).

Each test asserts what the attack was after — a report read again, a demo_data run started,
a guess let through — not only the status code. Named to run before test_reports_fuzz.py,
whose random logins lock the client address for a while.
"""

from __future__ import annotations

import base64
import json
import re

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from bionicflow.reports.accounts import customer_uuid

PERIOD = {"from": "2026-01-01", "to": "2026-02-01"}


def _base(stack) -> str:
    return f"http://{stack.host}:{stack.reports_api_port}"


def _token(stack, user: str) -> str:
    response = requests.post(f"{_base(stack)}/dev-issuer/token",
                             data={"username": user, "password": f"{user}_password"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def _page_session(stack, user: str) -> requests.Session:
    """A browser: the login form's token and cookie, then the form sent."""
    browser = requests.Session()
    page = browser.get(f"{_base(stack)}/", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    sent = browser.post(f"{_base(stack)}/login", timeout=30, allow_redirects=False,
                        data={"username": user, "password": f"{user}_password", "csrf_token": token})
    assert sent.status_code in (200, 303), sent.text
    return browser


def _report(stack, token: str, **cookies) -> requests.Response:
    params = {"schema": "default", "user_uuid": customer_uuid("customer1"), **PERIOD}
    headers = {} if cookies else {"Authorization": f"Bearer {token}"}
    return requests.get(f"{_base(stack)}/reports", params=params, headers=headers, cookies=cookies, timeout=30)


def test_a_logged_out_token_stays_out_however_it_is_respelled(stack):
    token = _token(stack, "analyst")
    assert _report(stack, token).status_code == 200
    out = requests.post(f"{_base(stack)}/auth/logout", headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert out.status_code == 204
    for variant in (token, token + "=", token + "=="):
        assert _report(stack, variant).status_code == 401
        assert _report(stack, variant, bionicflow_token=variant).status_code == 401


def _demo_data_runs(airflow) -> int:
    return airflow.request("GET", "/dags/demo_data/dagRuns", params={"limit": 1})["total_entries"]


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "http://evil.example"},
    {"Referer": "http://evil.example/page"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_a_cross_site_generate_with_a_customers_cookie_starts_nothing(stack, airflow, headers):
    browser = _page_session(stack, "customer1")
    before = _demo_data_runs(airflow)
    page = browser.get(f"{_base(stack)}/", timeout=30).text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    forged = browser.post(f"{_base(stack)}/ui/generate", data={"csrf_token": token}, headers=headers,
                          allow_redirects=False, timeout=30)
    assert forged.status_code == 403
    tokenless = browser.post(f"{_base(stack)}/ui/generate", allow_redirects=False, timeout=30)
    assert tokenless.status_code == 403
    assert _demo_data_runs(airflow) == before, "a forged request started demo_data"


def _forged(alg: str, claims: dict) -> str:
    if alg == "ES256":
        return jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")
    if alg == "none":
        head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
        body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        return f"{head}.{body}."
    return jwt.encode(claims, "a shared secret long enough for every HMAC size: sixty-four bytes at least, see RFC 7518", algorithm=alg)


@pytest.mark.parametrize("alg", ["ES256", "HS256", "HS512", "none"])
def test_a_token_of_another_algorithm_is_401_never_500(stack, alg):
    claims = jwt.decode(_token(stack, "analyst"), options={"verify_signature": False})
    response = _report(stack, _forged(alg, claims))
    assert response.status_code == 401, response.text


@pytest.mark.parametrize("edge", [{"to": "9999-12-31"}, {"to": "0001-01-01"}, {"from": "0001-01-01"},
                                  {"from": "9999-12-31T23:59:59+00:00", "to": "9999-12-31T23:59:59-14:00"},
                                  {"from": "0001-01-01T00:00:00+14:00"}])
def test_dates_at_the_calendars_edge_are_422(stack, edge):
    token = _token(stack, "analyst")
    params = {"schema": "default", "user_uuid": customer_uuid("customer1"), **PERIOD, **edge}
    response = requests.get(f"{_base(stack)}/reports", params=params, headers={"Authorization": f"Bearer {token}"},
                            timeout=30)
    assert response.status_code in (200, 422), response.text
    if response.status_code == 422:
        assert response.json()["detail"]


def test_pages_cannot_be_framed_sniffed_cached_or_run_foreign_scripts(stack):
    browser = _page_session(stack, "analyst")
    report = f"/ui/report?view=compare&user_uuid={customer_uuid('customer1')}&start=2026-01-01&end=2026-02-01"
    for path in ("/", report, "/ui/overview"):
        response = browser.get(f"{_base(stack)}{path}", timeout=60)
        assert response.status_code == 200, (path, response.text[:200])
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy, policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in response.headers["Cache-Control"]
    api = requests.get(f"{_base(stack)}/reports", params={"schema": "default", **PERIOD},
                       headers={"Authorization": f"Bearer {_token(stack, 'customer1')}"}, timeout=30)
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def test_guessing_a_password_is_throttled_and_names_no_account(stack):
    url = f"{_base(stack)}/dev-issuer/token"
    answers = [requests.post(url, data={"username": "customer3", "password": f"guess-{i}"}, timeout=30)
               for i in range(8)]
    assert {a.status_code for a in answers} <= {401, 429}  # 429 from the start when an earlier run locked it
    assert answers[-1].status_code == 429 and int(answers[-1].headers["Retry-After"]) > 0
    right = requests.post(url, data={"username": "customer3", "password": "customer3_password"}, timeout=30)
    assert right.status_code == 429, "the right password got through a locked account"
    unknown = requests.post(url, data={"username": "no-such-user", "password": "x"}, timeout=30)
    wrong = requests.post(url, data={"username": "customer2", "password": "x"}, timeout=30)
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())
