"""reports_api over the real engine (chdb in-process): auth matrix, validation, CSV, pages."""

import csv
import io
import json
import re
import time

import jwt

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bionicflow.kernel.config import Settings
from bionicflow.reports.accounts import customer_uuid
from bionicflow.reports import auth
from bionicflow.reports.export import leaves
from reports_api import deps
from reports_api.main import app
from tests.support.reports_web import PERIOD, bearer, form_token, log_in

OTHER_USER = "00000000-0000-4000-8000-000000000002"


def test_no_token_is_401_with_a_hint(client):
    response = client.get("/reports", params={"schema": "default", **PERIOD})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "bionicflow token" in response.json()["detail"]


def test_expired_wrong_issuer_and_foreign_key_tokens_are_401(client, settings):
    expired = auth.issue_dev_token(settings, "analyst", ttl_seconds=60, now=time.time() - 3600)
    key = auth.dev_private_key(settings)
    claims = {"sub": "analyst", "aud": settings.reports_oidc_audience, "exp": time.time() + 600, "roles": ["analyst"],
              "jti": "a-unique-id"}
    wrong_issuer = jwt.encode({**claims, "iss": "http://evil.example"}, key, algorithm="RS256")
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode({**claims, "iss": auth.dev_issuer_url(settings)}, other_key, algorithm="RS256")
    for token, message in ((expired, "expired"), (wrong_issuer, "not issued by"), (forged, "invalid token")):
        response = client.get("/reports", params={"schema": "default", "user_uuid": OTHER_USER},
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and message in response.json()["detail"], response.text


def test_customer_reads_only_their_own_report(client, settings):
    headers = bearer(settings, "customer1")
    own = client.get("/reports", params={"schema": "debezium", **PERIOD}, headers=headers)
    assert own.status_code == 200, own.text
    assert own.json()["user_uuid"] == customer_uuid("customer1") and own.json()["events_total"] > 0
    other = client.get("/reports", params={"schema": "debezium", "user_uuid": OTHER_USER}, headers=headers)
    assert other.status_code == 403 and "only their own" in other.json()["detail"]
    assert client.get("/reports/overview", params={"schema": "default"}, headers=headers).status_code == 403


def test_analyst_reads_everything(client, settings):
    headers = bearer(settings, "analyst")
    report = client.get("/reports", params={"schema": "default", "user_uuid": OTHER_USER, **PERIOD}, headers=headers)
    assert report.status_code == 200 and report.json()["profile"]["name"] == "user 2"
    overview = client.get("/reports/overview", params={"schema": "debezium", **PERIOD}, headers=headers)
    assert overview.status_code == 200 and overview.json()["totals"]["users"] == 5
    compare = client.get("/reports/compare", params={"user_uuid": OTHER_USER, **PERIOD}, headers=headers)
    assert compare.status_code == 200 and compare.json()["identical"], compare.json()["differences"]
    assert client.get("/reports/compare", params={"report": "overview"}, headers=headers).json()["identical"]


@pytest.mark.parametrize("params, status, message", [
    ({"schema": "ops", "user_uuid": OTHER_USER}, 422, "default"),
    ({"schema": "default", "user_uuid": "not-a-uuid"}, 422, "UUID"),
    ({"schema": "default", "user_uuid": OTHER_USER, "from": "2026-11-05", "to": "2026-11-01"}, 422, "inverted"),
    ({"schema": "default", "user_uuid": OTHER_USER, "from": "2000-01-01"}, 422, "366 days"),
    ({"schema": "default"}, 422, "user_uuid is required"),
    ({"schema": "default", "user_uuid": "00000000-0000-4000-8000-000000000099"}, 404, "not in default.users"),
    ({"schema": "default", "user_uuid": OTHER_USER, "fmt": "xml"}, 422, "json"),
])
def test_bad_parameters_get_a_clear_4xx(client, settings, params, status, message):
    response = client.get("/reports", params=params, headers=bearer(settings, "analyst"))
    assert response.status_code == status, response.text
    assert message in response.text


def test_csv_holds_exactly_the_json_fields(client, settings):
    headers, params = bearer(settings, "analyst"), {"schema": "debezium", "user_uuid": OTHER_USER, **PERIOD}
    as_json = client.get("/reports", params=params, headers=headers).json()
    as_csv = client.get("/reports", params={**params, "fmt": "csv"}, headers=headers)
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows[0] == ["field", "value"]
    got = {field: value for field, value in rows[1:]}
    want = {k: "" if v is None else str(v) for k, v in leaves(as_json).items()}
    want.pop("generated_at"), got.pop("generated_at")  # two builds, two instants
    want.pop("freshness.lag_seconds"), got.pop("freshness.lag_seconds")
    assert got == want


def test_dev_issuer_password_grant_and_keys(client):
    assert client.post("/dev-issuer/token", data={"username": "customer2", "password": "nope"}).status_code == 401
    token = client.post("/dev-issuer/token", data={"username": "customer2", "password": "customer2_password"}).json()
    claims = jwt.decode(token["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["customer"] and claims["user_uuid"] == customer_uuid("customer2")
    config = client.get("/dev-issuer/.well-known/openid-configuration").json()
    assert config["jwks_uri"].endswith("/dev-issuer/jwks.json")
    assert client.get("/dev-issuer/jwks.json").json()["keys"][0]["kid"] == auth.DEV_KEY_ID


def test_dev_issuer_is_off_when_a_real_issuer_is_configured(client, settings):
    app.dependency_overrides[deps.settings] = lambda: Settings(state_dir=settings.state_dir,
                                                              reports_oidc_issuer="https://login.example")
    assert client.get("/dev-issuer/jwks.json").status_code == 404
    response = log_in(client, "customer1")
    assert response.status_code == 401 and "BIONICFLOW_REPORTS_OIDC_ISSUER" in response.text


def test_web_login_and_side_by_side_report(client):
    assert 'id="login"' in client.get("/").text
    bad = log_in(client, "customer1", "wrong")
    assert bad.status_code == 401 and "wrong user name or password" in bad.text
    good = log_in(client, "customer1", follow_redirects=False)
    assert good.status_code == 303 and "httponly" in good.headers["set-cookie"].lower()
    home = client.get("/")
    assert all(f'id="{b}"' in home.text for b in ("generate", "report-default", "report-debezium", "compare"))
    page = client.get("/ui/report", params={"view": "compare", "start": PERIOD["from"], "end": PERIOD["to"]})
    assert page.status_code == 200
    assert 'id="report-default"' in page.text and 'id="report-debezium"' in page.text
    assert "Both schemas agree" in page.text
    from bionicflow.reports import charts

    specs = chart_specs(page.text)
    assert set(specs) == {"daily", "amplitude", "muscle", "prosthesis"}
    assert {row["schema"] for row in charts.page_rows(specs["daily"])} == {"default", "debezium"}  # one plot, both roads
    assert all(f'data-chart="{cid}"' in page.text for cid in specs) and "/static/charts.js" in page.text
    denied = client.get("/ui/report", params={"view": "default", "user_uuid": OTHER_USER})
    assert denied.status_code == 403 and "only their own" in denied.text
    empty = client.get("/ui/report", params={"view": "default", "start": "2001-01-01", "end": "2001-01-31"})
    assert "No events in this period" in empty.text and "None" not in empty.text, empty.text[-1500:]
    # "← back" keeps the period: the form comes back filled with it
    back = re.search(r'href="([^"]*)" id="back"', empty.text).group(1).replace("&amp;", "&")
    form = client.get(back).text
    assert 'value="2001-01-01"' in form and 'value="2001-01-31"' in form, back


@pytest.mark.parametrize("params, status", [
    ({"schema": "ops", "user_uuid": OTHER_USER, "fmt": "xml"}, 422),  # two invalid parameters
    ({"schema": "default"}, 422),  # raised by the endpoint itself
    ({"schema": "default", "user_uuid": "00000000-0000-4000-8000-000000000099"}, 404),
])
def test_every_error_has_one_shape(client, settings, params, status):
    response = client.get("/reports", params=params, headers=bearer(settings, "analyst"))
    body = response.json()
    assert response.status_code == status and set(body) == {"detail", "errors"}, body
    assert isinstance(body["detail"], str) and body["detail"], body
    if params.get("schema") == "ops":  # each invalid parameter named, with its message
        assert {e["parameter"] for e in body["errors"]} == {"query.schema", "query.fmt"}, body
        assert "query.schema" in body["detail"] and "query.fmt" in body["detail"], body
    unauthenticated = client.get("/reports", params={"schema": "default"})
    assert unauthenticated.status_code == 401 and set(unauthenticated.json()) == {"detail", "errors"}


def test_the_openapi_schema_documents_the_error_body(client):
    spec = client.get("/openapi.json").json()
    for path in ("/reports", "/reports/overview", "/reports/compare"):
        for code in ("401", "403", "422"):
            ref = spec["paths"][path]["get"]["responses"][code]["content"]["application/json"]["schema"]["$ref"]
            assert ref.endswith("/ErrorBody"), (path, code, ref)


def test_the_api_docs_pages_stay_local_and_only_pages_carry_a_policy(client, settings):
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200 and "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Content-Security-Policy" not in client.get("/health").headers
    report = client.get("/reports", params={"schema": "default"}, headers=bearer(settings, "customer1"))
    assert report.status_code == 200 and "Content-Security-Policy" not in report.headers  # JSON: never a page


def test_a_logged_out_token_is_refused_until_and_after_it_expires(client, settings):
    headers = bearer(settings, "analyst")
    assert client.get("/reports/overview", params={"schema": "default", **PERIOD}, headers=headers).status_code == 200
    assert client.post("/auth/logout", headers=headers).status_code == 204
    refused = client.get("/reports/overview", params={"schema": "default", **PERIOD}, headers=headers)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"], refused.text
    assert client.post("/auth/logout", headers=headers).status_code == 401  # nothing left to log out
    other = bearer(settings, "analyst")  # another session of the same user is not touched
    assert client.get("/reports/overview", params={"schema": "default", **PERIOD}, headers=other).status_code == 200


def test_the_page_logout_ends_the_session_on_the_server_and_says_why_the_login_shows(client):
    log_in(client, "customer1")
    cookie = client.cookies.get(deps.COOKIE)
    home = client.get("/").text
    assert cookie and 'id="report-default"' in home
    out = client.post("/logout", data={"csrf_token": form_token(home)})
    assert out.status_code == 200 and 'id="session-notice"' in out.text and "You logged out" in out.text
    client.cookies.set(deps.COOKIE, cookie)  # the old cookie, kept by a copy of the browser's profile
    again = client.get("/")
    assert 'id="login"' in again.text and "This session was logged out" in again.text
    api = client.get("/reports", params={"schema": "default", **PERIOD}, headers={"Authorization": f"Bearer {cookie}"})
    assert api.status_code == 401 and "revoked" in api.json()["detail"]


def test_an_expired_session_is_named_on_the_login_page(client, settings):
    client.cookies.set(deps.COOKIE, auth.issue_dev_token(settings, "customer1", ttl_seconds=60, now=time.time() - 3600))
    assert "Your session expired" in client.get("/").text


def test_the_analysts_overview_page_shows_both_schemas_and_keeps_the_period(client):
    log_in(client, "analyst")
    assert 'id="overview"' in client.get("/").text
    page = client.get("/ui/overview", params={"start": PERIOD["from"], "end": PERIOD["to"]})
    assert page.status_code == 200, page.text[-1500:]
    for part in ('id="overview-default"', 'id="overview-debezium"', 'id="chart-country"', 'id="chart-prosthesis"',
                 'id="chart-top-users"', 'id="top-default"', "Both schemas agree"):
        assert part in page.text, part
    csv_link = re.search(r'href="(/reports/overview\?schema=default&amp;[^"]+)" id="csv-default"', page.text).group(1)
    assert f"from={PERIOD['from']}&amp;to={PERIOD['to']}" in csv_link, csv_link
    csv_page = client.get(csv_link.replace("&amp;", "&"))
    assert csv_page.status_code == 200 and csv_page.headers["content-type"].startswith("text/csv")
    assert f"start={PERIOD['from']}" in page.text  # a top user's link keeps the period
    back = re.search(r'href="([^"]*)" id="back"', page.text).group(1).replace("&amp;", "&")
    assert f'value="{PERIOD["from"]}"' in client.get(back).text


def chart_specs(page: str) -> dict:
    """The (compiled) Vega specifications a page hands to its chart script."""
    return json.loads(re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', page, re.S).group(1))


def test_the_chart_library_is_served_by_reports_api_itself(client):
    from bionicflow.reports import charts

    page = client.get("/ui/report", params={"view": "debezium"})  # no login needed for the scripts themselves
    script = client.get(f"/static/vega-{charts.vega_version()}.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "window.vegaEmbed" in script.text and "immutable" in script.headers["cache-control"]
    assert client.get("/static/vega-0.0.0.js").status_code == 404
    own = client.get("/static/charts.js")
    assert own.status_code == 200 and "vegaEmbed(" in own.text and page.status_code in (200, 303)


def test_a_customer_is_refused_the_overview_page(client):
    log_in(client, "customer1")
    assert 'id="overview"' not in client.get("/").text
    refused = client.get("/ui/overview")
    assert refused.status_code == 403 and "not an analyst" in refused.text


def test_a_reports_csv_links_hold_the_period_the_page_shows(client):
    log_in(client, "customer1")
    page = client.get("/ui/report", params={"view": "compare", "start": PERIOD["from"], "end": PERIOD["to"]})
    assert page.status_code == 200, page.text[-1500:]
    for schema in ("default", "debezium"):
        link = re.search(rf'href="(/reports\?[^"]+)" id="csv-{schema}"', page.text).group(1).replace("&amp;", "&")
        csv = client.get(link)
        assert csv.status_code == 200, csv.text
        # the page's period: from its first day to the end of its last (the API's `to` date-time is exclusive)
        assert f"period.from,{PERIOD['from']}T00:00:00" in csv.text, (link, csv.text[:300])
        assert "period.to,2026-11-22T00:00:00" in csv.text, (link, csv.text[:300])


def test_an_overviews_csv_links_without_a_period_are_well_formed(client):
    log_in(client, "analyst")
    page = client.get("/ui/overview")
    assert re.search(r'href="/reports/overview\?schema=default&amp;fmt=csv" id="csv-default"', page.text), page.text
