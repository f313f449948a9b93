"""reports_api as an attacker tries it: revoked tokens respelled, cross-site form posts, framing and
caching of pages, dates at the calendar's edges, tokens of every malformed shape, password guessing.

Over the real app and engine (chdb), through FastAPI's TestClient; Airflow is a small HTTP server
that records what it was asked to run.
"""

import json
import re
import string
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bionicflow.kernel.config import Settings
from bionicflow.reports import auth, throttle
from bionicflow.reports.accounts import customer_uuid
from reports_api import csrf, deps, headers
from reports_api.main import app
from tests.support.reports_web import PERIOD, bearer, form_token, log_in

OTHER_USER = "00000000-0000-4000-8000-000000000002"
EVIL = "http://evil.example"
B64URL = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"


# --- 1. logging out revokes the token's identity, not its spelling ----------------------------------

def respellings(token: str) -> list[str]:
    """The same signed token written differently: base64url padding, and the unused low bits of the
    signature's last character (a 256-byte RS256 signature is 342 characters: 4 bits to spare)."""
    head, sig = token.rsplit(".", 1)
    assert len(sig) % 4 == 2, "the last character should carry 4 unused bits"
    flipped = head + "." + sig[:-1] + B64URL[B64URL.index(sig[-1]) ^ 0b0001]
    assert jwt.api_jws.base64url_decode(flipped.rsplit(".", 1)[1]) == jwt.api_jws.base64url_decode(sig)
    return [token + "=", token + "==", flipped]


def test_a_logged_out_token_is_refused_however_it_is_spelled_in_the_header_or_the_cookie(client, settings):
    token = auth.issue_dev_token(settings, "analyst")
    claims = jwt.decode(token, options={"verify_signature": False})
    key = auth.dev_private_key(settings).public_key()
    padded = token + "=="  # the JWT library reads it as the very same token: the deny-list of texts missed it
    assert jwt.decode(padded, key, algorithms=["RS256"], audience=settings.reports_oidc_audience) == claims
    # the same identity (jti) in another text: what a deny-list of texts cannot catch whatever the spelling rules
    same_jti = signed(settings, jti=claims["jti"], iat=claims["iat"] + 1)
    params = {"schema": "default", "user_uuid": OTHER_USER, **PERIOD}
    assert client.get("/reports", params=params, headers={"Authorization": f"Bearer {same_jti}"}).status_code == 200
    assert client.post("/auth/logout", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    for variant in [token, *respellings(token), same_jti]:
        by_header = client.get("/reports", params=params, headers={"Authorization": f"Bearer {variant}"})
        assert by_header.status_code == 401, (variant[-4:], by_header.text)
        client.cookies.set(deps.COOKIE, variant)
        by_cookie = client.get("/reports", params=params)
        assert by_cookie.status_code == 401, (variant[-4:], by_cookie.text)
        assert 'id="login"' in client.get("/").text  # the page does not let it in either
    refused = client.get("/reports", params=params, headers={"Authorization": f"Bearer {same_jti}"})
    assert "revoked" in refused.json()["detail"]


def test_a_session_logged_out_on_the_page_is_refused_in_every_spelling(client):
    log_in(client, "customer1")
    cookie = client.cookies.get(deps.COOKIE)
    out = client.post("/logout", data={"csrf_token": form_token(client.get("/").text)})
    assert "You logged out" in out.text
    for variant in [cookie, *respellings(cookie)]:
        client.cookies.set(deps.COOKIE, variant)
        assert client.get("/reports", params={"schema": "default"}).status_code == 401
        assert client.get("/ui/report", params={"view": "default"}, follow_redirects=False).status_code == 303
        api = client.get("/reports", params={"schema": "default"}, headers={"Authorization": f"Bearer {variant}"})
        assert api.status_code == 401


def signed(settings, **claims) -> str:
    """A token signed by the development issuer's own key, with exactly these claims on top of valid ones."""
    base = {"iss": auth.dev_issuer_url(settings), "sub": "analyst", "aud": settings.reports_oidc_audience,
            "exp": int(time.time()) + 600, "jti": "jti-1", "roles": ["analyst"]}
    body = {k: v for k, v in {**base, **claims}.items() if v is not ...}  # `...`: leave the claim out
    # PyJWS, not jwt.encode: it signs any payload (jwt.encode refuses to write some of the odd claims below)
    return jwt.api_jws.PyJWS().encode(json.dumps(body).encode(), auth.dev_private_key(settings), algorithm="RS256",
                                      headers={"kid": auth.DEV_KEY_ID, "typ": "JWT"})


def test_a_token_without_jti_is_refused(client, settings):
    response = client.get("/reports", params={"schema": "default", "user_uuid": OTHER_USER},
                          headers={"Authorization": f"Bearer {signed(settings, jti=...)}"})
    assert response.status_code == 401 and "no `jti` claim" in response.json()["detail"]


# --- 2. cross-site requests ----------------------------------------------------------------------------

class FakeAirflow(BaseHTTPRequestHandler):
    """Airflow's REST API as reports_api uses it to trigger demo_data; records every run it starts."""

    runs: list[dict] = []

    def _answer(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")

    def do_POST(self):  # noqa: N802 (http.server's names)
        body = self._body()
        if self.path.endswith("/dagRuns"):
            self.runs.append(body)
            return self._answer({"dag_run_id": f"manual__{len(self.runs)}"})
        self._answer({"access_token": "airflow-token"})

    def do_GET(self):  # noqa: N802
        self._answer({})

    def do_PATCH(self):  # noqa: N802
        self._body()
        self._answer({})

    def log_message(self, *_args):
        pass


@pytest.fixture
def airflow_runs(settings):
    """Airflow at a local port; yields the list of runs it was asked to start."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeAirflow)
    FakeAirflow.runs = []
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    app.dependency_overrides[deps.settings] = lambda: Settings(state_dir=settings.state_dir, airflow_host="127.0.0.1",
                                                              airflow_port=server.server_address[1])
    yield FakeAirflow.runs
    server.shutdown()
    server.server_close()


CROSS_SITE = [
    {"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},  # what the attacker's page made the browser send
    {"Origin": EVIL},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # another port or subdomain of this host (the Airflow UI)
    {"Referer": f"{EVIL}/attack.html"},  # no Origin: the Referer says where the form was
    {"Origin": "null"},  # a sandboxed frame or a file: page
    {"Origin": "http://testserver:8080"},  # same host, another port: another origin
]


@pytest.mark.parametrize("sent", CROSS_SITE, ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()))
def test_a_cross_site_generate_with_a_customers_cookie_starts_nothing(client, airflow_runs, sent):
    log_in(client, "customer1")
    token = form_token(client.get("/").text)  # even with the page's token (leaked), another site may not post
    response = client.post("/ui/generate", data={"csrf_token": token}, headers=sent, follow_redirects=False)
    assert response.status_code == 403 and "cross-site request refused" in response.json()["detail"], response.text
    assert airflow_runs == []


def test_the_page_own_generate_button_starts_demo_data(client, airflow_runs):
    log_in(client, "customer1")
    home = client.get("/").text
    assert 'id="generate"' in home
    same_origin = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    response = client.post("/ui/generate", data={"csrf_token": form_token(home)}, headers=same_origin)
    assert response.status_code == 200 and "demo_data run manual__1 started" in response.text, response.text[-800:]
    assert airflow_runs == [{"logical_date": None, "conf": {"users": 1000, "events": 10000, "updates": 0,
                                                           "deletes": 0}}]


@pytest.mark.parametrize("token", ["", "0" * 64, "another session's"])
def test_a_generate_without_its_pages_token_starts_nothing(client, settings, airflow_runs, token):
    log_in(client, "customer1")
    if token == "another session's":  # the same user's other session: its token is not this one's
        token = csrf.session_token(settings, auth.verify(settings, auth.issue_dev_token(settings, "customer1")))
    response = client.post("/ui/generate", data={"csrf_token": token})
    assert response.status_code == 403 and "security token is missing or stale" in response.text
    assert 'id="generate"' in response.text and airflow_runs == []  # the page again, saying what to do


def test_only_customers_and_analysts_may_generate(client, settings, airflow_runs):
    client.cookies.set(deps.COOKIE, signed(settings, sub="auditor", roles=["auditor"]))
    home = client.get("/").text
    assert 'id="report-default"' in home and 'id="generate"' not in home  # logged in, but no button
    refused = client.post("/ui/generate", data={"csrf_token": form_token(home)})
    assert refused.status_code == 403 and "neither role customer nor analyst" in refused.text
    for user in ("analyst", "customer2"):
        client.cookies.clear()
        log_in(client, user)
        started = client.post("/ui/generate", data={"csrf_token": form_token(client.get("/").text)})
        assert started.status_code == 200 and "demo_data run" in started.text
    assert len(airflow_runs) == 2


def test_the_logout_form_needs_its_token_and_the_same_origin(client):
    log_in(client, "customer1")
    token = form_token(client.get("/").text)
    assert client.post("/logout", data={"csrf_token": token}, headers={"Origin": EVIL}).status_code == 403
    stale = client.post("/logout", data={"csrf_token": "stale"})
    assert stale.status_code == 403 and "security token" in stale.text
    assert 'id="report-default"' in client.get("/").text  # neither ended the session
    assert "You logged out" in client.post("/logout", data={"csrf_token": token}).text


def test_the_login_form_needs_its_token_and_the_same_origin(client):
    page = client.get("/")
    assert page.cookies.get(csrf.LOGIN_COOKIE)  # the random value the form's token is bound to
    credentials = {"username": "customer1", "password": "customer1_password"}
    no_token = client.post("/login", data=credentials)
    assert no_token.status_code == 403 and "security token" in no_token.text
    cross = client.post("/login", data={**credentials, "csrf_token": form_token(page.text)},
                        headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and client.cookies.get(deps.COOKIE) is None
    assert log_in(client, "customer1", follow_redirects=False).status_code == 303


def test_the_cookie_may_log_out_through_the_api_only_with_the_pages_token(client, settings):
    log_in(client, "customer1")
    token = form_token(client.get("/").text)
    assert client.post("/auth/logout").status_code == 403  # the cookie alone is not enough
    assert client.post("/auth/logout", headers={"Origin": EVIL, csrf.HEADER: token}).status_code == 403
    assert client.post("/auth/logout", headers={csrf.HEADER: token}).status_code == 204
    assert client.get("/reports", params={"schema": "default"}).status_code == 401


def test_bearer_api_calls_are_not_subject_to_the_cross_site_checks(client, settings):
    headers = {**bearer(settings, "analyst"), "Origin": EVIL, "Sec-Fetch-Site": "cross-site"}
    assert client.post("/auth/logout", headers=headers).status_code == 204  # a script's call: no cookie involved
    assert client.get("/reports/overview", params={"schema": "default", **PERIOD}, headers=headers).status_code == 401


def test_behind_a_proxy_the_public_address_is_an_origin_of_our_own():
    async def ok(_request):
        return PlainTextResponse("done")

    proxied = csrf.SameOriginOnly(Starlette(routes=[Route("/ui/generate", ok, methods=["POST"])]),
                                  public_url=lambda: "https://reports.example.org")
    browser = TestClient(proxied)
    assert browser.post("/ui/generate", headers={"Origin": "https://reports.example.org"}).text == "done"
    assert browser.post("/ui/generate", headers={"Origin": "https://reports.example.org:443"}).text == "done"
    assert browser.post("/ui/generate", headers={"Origin": "http://testserver"}).text == "done"  # its own Host
    assert browser.post("/ui/generate", headers={"Origin": "https://evil.example.org"}).status_code == 403


# --- 3. security headers on pages ---------------------------------------------------------------------

def page_answers(client) -> dict:
    """Every kind of page reports_api serves: logged out, logged in, refused, the API docs."""
    pages = {"login": client.get("/"), "failed login": log_in(client, "analyst", "wrong")}
    log_in(client, "analyst")
    pages |= {
        "home": client.get("/"),
        "report": client.get("/ui/report", params={"view": "compare", "user_uuid": OTHER_USER,
                                                    "start": PERIOD["from"], "end": PERIOD["to"]}),
        "overview": client.get("/ui/overview", params={"start": PERIOD["from"], "end": PERIOD["to"]}),
        "bad period": client.get("/ui/report", params={"view": "default", "user_uuid": OTHER_USER,
                                                       "end": "9999-12-31"}),
        "docs": client.get("/docs"), "redoc": client.get("/redoc"),
        "oauth2 redirect": client.get("/docs/oauth2-redirect"),
    }
    return pages


def test_every_page_forbids_framing_inline_scripts_caching_and_sniffing(client):
    for name, page in page_answers(client).items():
        assert page.headers["content-type"].startswith("text/html"), name
        policy = page.headers["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["frame-ancestors"] == "'none'" and directives["base-uri"] == "'none'", (name, policy)
        assert "'unsafe-inline'" not in directives["script-src"] and "unsafe-eval" not in policy, (name, policy)
        assert "*" not in policy and "http" not in policy, (name, policy)  # nothing from elsewhere
        assert page.headers["X-Frame-Options"] == "DENY", name
        assert page.headers["X-Content-Type-Options"] == "nosniff", name
        assert page.headers["Referrer-Policy"] == "same-origin", name
        assert page.headers["Cache-Control"] == "no-store", name


def test_the_pages_need_no_inline_script_and_the_docs_inline_scripts_are_allowed_by_hash(client):
    for name, page in page_answers(client).items():
        scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
        inline = [body for attributes, body in scripts if "src=" not in attributes
                  and 'type="application/json"' not in attributes]  # JSON data is never run
        assert not re.search(r"\son[a-z]+\s*=|javascript:", page.text, re.I), name  # no handlers in markup
        policy = page.headers["Content-Security-Policy"]
        if name in ("docs", "redoc", "oauth2 redirect"):  # FastAPI's own starter scripts: by their hashes
            assert all(h in policy for h in headers.inline_script_hashes(page.text)), name
            assert bool(inline) == (name != "redoc"), name
        else:
            assert inline == [] and policy == headers.PAGE_POLICY, name
    # the charts run without eval: vega-embed interprets their expressions instead of compiling them
    assert "ast: true" in client.get("/static/charts.js").text


def test_api_answers_are_not_pages_but_are_not_stored_either(client, settings):
    report = client.get("/reports", params={"schema": "default", "fmt": "csv"}, headers=bearer(settings, "customer1"))
    assert report.status_code == 200 and "Content-Security-Policy" not in report.headers
    assert report.headers["X-Content-Type-Options"] == "nosniff" and report.headers["Cache-Control"] == "no-store"
    assert client.get("/health").headers["X-Content-Type-Options"] == "nosniff"
    log_in(client, "customer1")  # a cookie rides along with the page's scripts: they stay cacheable
    from bionicflow.reports import charts

    assert "immutable" in client.get(f"/static/vega-{charts.vega_version()}.js").headers["Cache-Control"]


# --- 4. dates at the calendar's edges ------------------------------------------------------------------

EDGES = [
    {"to": "9999-12-31"},  # its whole day ends at year 10000
    {"to": "0001-01-01"},  # 30 days before it is no date
    {"from": "0001-01-01", "to": "0001-01-01T00:00:00+00:01"},  # to moved to UTC is before year 1
    {"to": "9999-12-31T23:00:00-05:00"},  # to moved to UTC is after year 9999
    {"from": "0001-01-01T00:30:00+01:00"},
    {"from": "9999-12-31T23:59:59.999999-00:01"},
    {"to": "0001-01-01T00:00:00-14:00"},  # exists in UTC, but 30 days before it does not
    {"from": "9999-12-31", "to": "9999-12-31"},
    {"from": "0001-01-01", "to": "9999-12-31"},
    {"to": "10000-01-01"}, {"from": "0000-12-31"}, {"from": "-0001-01-01"},
]


@pytest.mark.parametrize("period", EDGES, ids=lambda p: "&".join(f"{k}={v}" for k, v in p.items()))
def test_a_period_at_the_calendars_edge_is_a_422_everywhere(client, settings, period):
    headers = bearer(settings, "analyst")
    for path, extra in (("/reports", {"schema": "default", "user_uuid": OTHER_USER}),
                        ("/reports/overview", {"schema": "debezium"}), ("/reports/compare", {"user_uuid": OTHER_USER})):
        response = client.get(path, params={**extra, **period}, headers=headers)
        body = response.json()
        assert response.status_code == 422 and set(body) == {"detail", "errors"}, (path, response.text)
        assert "`from`" in body["detail"] or "`to`" in body["detail"], body
    log_in(client, "analyst")
    page = client.get("/ui/report", params={"view": "default", "user_uuid": OTHER_USER,
                                            "start": period.get("from", ""), "end": period.get("to", "")})
    assert page.status_code == 422 and 'id="error"' in page.text


@pytest.mark.parametrize("period", [{"from": "0001-01-01", "to": "0001-01-31"}, {"from": "9999-12-01", "to": "9999-12-30"},
                                    {"from": "9999-12-31T00:00:00Z", "to": "9999-12-31T23:59:59.999999Z"}],
                         ids=["year 1", "year 9999", "the last day, as date-times"])
def test_a_valid_period_at_the_calendars_edge_is_an_empty_report(client, settings, period):
    headers = bearer(settings, "analyst")
    report = client.get("/reports", params={"schema": "debezium", "user_uuid": OTHER_USER, **period}, headers=headers)
    assert report.status_code == 200 and report.json()["events_total"] == 0, report.text
    overview = client.get("/reports/overview", params={"schema": "default", **period}, headers=headers)
    assert overview.status_code == 200 and overview.json()["totals"]["events"] == 0, overview.text
    assert client.get("/reports/compare", params={"user_uuid": OTHER_USER, **period}, headers=headers).status_code == 200


# --- 5. tokens of every algorithm and shape ------------------------------------------------------------

def _pem(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def forged_tokens(settings) -> dict[str, str]:
    """Tokens an attacker can make without the issuer's key, and signed ones with malformed claims."""
    claims = {"iss": auth.dev_issuer_url(settings), "sub": "analyst", "aud": settings.reports_oidc_audience,
              "exp": int(time.time()) + 600, "jti": "forged", "roles": ["analyst"]}
    dev_key = auth.dev_private_key(settings)
    tokens = {
        "ES256": jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()), algorithm="ES256"),
        "ES256 header on the RSA key": _with_header(jwt.encode(claims, ec.generate_private_key(ec.SECP256R1()),
                                                               algorithm="ES256"), kid=auth.DEV_KEY_ID),
        "HS256 keyed with the public key": _hs256(claims, _pem(dev_key)),
        "HS512": jwt.encode(claims, "s" * 64, algorithm="HS512"),
        "RS512 by the issuer's own key": jwt.encode(claims, dev_key, algorithm="RS512"),
        "PS256 by the issuer's own key": jwt.encode(claims, dev_key, algorithm="PS256"),
        "RS256 by another key": jwt.encode(claims, rsa.generate_private_key(public_exponent=65537, key_size=2048),
                                           algorithm="RS256"),
        "EdDSA": jwt.encode(claims, ed25519.Ed25519PrivateKey.generate(), algorithm="EdDSA"),
        "none": jwt.encode(claims, None, algorithm="none"),
        "none, signature kept": _with_header(auth.issue_dev_token(settings, "analyst"), alg="none"),
        "alg missing": _with_header(auth.issue_dev_token(settings, "analyst"), alg=...),
        "alg a list": _with_header(auth.issue_dev_token(settings, "analyst"), alg=["RS256"]),
    }
    malformed = ["", "x", "a.b", "a.b.c", "a.b.c.d", "...", "a..c", "e30.e30.", "e30.e30.c2ln", "W10.e30.c2ln",
                 "bnVsbA.e30.c2ln", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln", "é.é.é", "a b.c d.e f", "a.b.c\t",
                 "x" * 20_000 + ".e30.c2ln", _b64(b"[" * 3000 + b"]" * 3000) + ".e30.c2ln",
                 _b64(b'{"alg":"RS256","kid":5}') + ".e30.c2ln", _b64(b'{"alg":"RS256","crit":["x"]}') + ".e30.c2ln",
                 _b64(b"\xff\xfe") + ".e30.c2ln"]
    tokens |= {f"malformed {i}": t for i, t in enumerate(malformed)}
    odd_claims = {"roles an int": {"roles": 5}, "roles of objects": {"roles": [{"a": 1}]},
                  "roles an object": {"roles": {"analyst": 1}},
                  "user_uuid an int": {"user_uuid": 5}, "user_uuid not a UUID": {"user_uuid": "me"},
                  "jti an int": {"jti": 5}, "jti empty": {"jti": ""}, "sub an object": {"sub": {"a": 1}},
                  "exp a string": {"exp": "soon"}, "exp infinite": {"exp": float("inf")},
                  "iat in the future": {"iat": 10**12}, "nbf not a number": {"nbf": "x"}, "aud a number": {"aud": 5},
                  "iss a list": {"iss": [auth.dev_issuer_url(settings)]}, "no sub": {"sub": ...}, "no exp": {"exp": ...}}
    tokens |= {name: signed(settings, **claim) for name, claim in odd_claims.items()}
    return tokens


def _b64(data: bytes) -> str:
    return jwt.api_jws.base64url_encode(data).decode()


def _with_header(token: str, **fields) -> str:
    """``token`` with header fields replaced (``...``: removed); the signature is kept as it was."""
    head, rest = token.split(".", 1)
    header = {**json.loads(jwt.api_jws.base64url_decode(head)), **fields}
    return _b64(json.dumps({k: v for k, v in header.items() if v is not ...}).encode()) + "." + rest


def _hs256(claims: dict, secret: bytes) -> str:
    """HS256 with the issuer's public key as the secret (PyJWT refuses to make it: written by hand)."""
    import hashlib
    import hmac

    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(json.dumps(claims).encode())
    return signing_input + "." + _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())


def test_tokens_of_any_algorithm_but_the_issuers_and_of_any_shape_are_401_never_500(client, settings):
    for name, token in forged_tokens(settings).items():
        as_header = {"Authorization": f"Bearer {token}".encode()}  # bytes: UTF-8 arrives as the server gets it
        as_cookie = {"Cookie": f"{deps.COOKIE}={token}".encode()}
        by_header = client.get("/reports", params={"schema": "default", "user_uuid": OTHER_USER}, headers=as_header)
        assert by_header.status_code == 401, (name, by_header.text)
        assert by_header.json()["detail"] and by_header.headers["www-authenticate"].startswith("Bearer"), name
        assert client.get("/reports", params={"schema": "default"}, headers=as_cookie).status_code == 401, name
        login = client.get("/", headers=as_cookie)
        assert login.status_code == 200 and 'id="login"' in login.text, name
        assert client.post("/auth/logout", headers=as_header).status_code == 401, name


def test_a_token_of_the_issuer_that_never_expires_can_still_be_logged_out(client, settings):
    forever = {"Authorization": f"Bearer {signed(settings, exp=10**400)}"}  # beyond what SQLite stores
    params = {"schema": "default", "user_uuid": OTHER_USER}
    assert client.get("/reports", params=params, headers=forever).status_code == 200
    assert client.post("/auth/logout", headers=forever).status_code == 204
    assert client.get("/reports", params=params, headers=forever).status_code == 401


# --- 6. password guessing -----------------------------------------------------------------------------

def test_fifty_wrong_passwords_lock_the_account_so_the_right_one_waits(client):
    started = time.monotonic()
    answers = [client.post("/dev-issuer/token", data={"username": "customer1", "password": f"guess{i}"})
               for i in range(50)]
    assert [a.status_code for a in answers[:5]] == [401] * 5 and {a.status_code for a in answers[5:]} == {429}
    assert time.monotonic() - started < 20  # refused attempts are not even checked
    right = client.post("/dev-issuer/token", data={"username": "customer1", "password": "customer1_password"})
    assert right.status_code == 429 and set(right.json()) == {"detail", "errors"}
    assert 0 < int(right.headers["Retry-After"]) <= throttle.FIRST_LOCK_SECONDS + 1
    assert "try again in" in right.json()["detail"]
    other = client.post("/dev-issuer/token", data={"username": "customer2", "password": "customer2_password"})
    assert other.status_code == 200  # another account from the same address still logs in


def test_the_login_page_is_locked_too_and_says_for_how_long(client):
    for _ in range(throttle.LIMITS[throttle.ACCOUNT]):
        assert log_in(client, "analyst", "wrong").status_code == 401
    locked = log_in(client, "analyst")
    assert locked.status_code == 429 and 'id="retry-after"' in locked.text and int(locked.headers["Retry-After"]) > 0
    assert client.cookies.get(deps.COOKIE) is None


def test_one_address_guessing_many_accounts_is_locked(client):
    names = [f"user{i}" for i in range(throttle.LIMITS[throttle.ADDRESS])]
    assert {client.post("/dev-issuer/token", data={"username": n, "password": "x"}).status_code for n in names} == {401}
    locked = client.post("/dev-issuer/token", data={"username": "analyst", "password": "analyst_password"})
    assert locked.status_code == 429


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(client):
    unknown = client.post("/dev-issuer/token", data={"username": "root", "password": "x"})
    wrong = client.post("/dev-issuer/token", data={"username": "analyst", "password": "x"})
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json()) == (
        401, {"detail": "wrong user name or password", "errors": []})
    unknown_page, wrong_page = log_in(client, "root", "x"), log_in(client, "analyst", "x")
    assert unknown_page.status_code == wrong_page.status_code == 401
    assert _error(unknown_page.text) == _error(wrong_page.text) == "wrong user name or password"


def _error(page: str) -> str:
    return re.search(r'id="error">([^<]*)<', page).group(1)


def test_an_unknown_user_costs_what_a_wrong_password_costs(monkeypatch):
    """The same work, counted rather than timed: one full-strength password hash either way."""
    from bionicflow.reports import accounts

    with pytest.raises(accounts.LoginFailed):
        accounts.authenticate("analyst", "not the password")  # builds the accounts' hashes once
    calls: list[int] = []
    real = accounts.hashlib.pbkdf2_hmac

    def counted(name, password, salt, iterations, *rest):
        calls.append(iterations)
        return real(name, password, salt, iterations, *rest)

    monkeypatch.setattr(accounts.hashlib, "pbkdf2_hmac", counted)
    for username in ("nobody-by-this-name", "analyst"):
        with pytest.raises(accounts.LoginFailed):
            accounts.authenticate(username, "not the password")
    assert calls == [accounts.HASH_ITERATIONS] * 2, calls


def test_the_lock_grows_with_each_failure_and_a_success_forgets_the_account():
    limiter, keys = throttle.LoginThrottle(), throttle.LoginThrottle.keys("customer1", "10.0.0.1")
    for _ in range(4):
        limiter.failed(keys, now=1000)
    assert limiter.retry_after(keys, now=1000) == 0  # four failures: not yet
    limiter.failed(keys, now=1000)
    assert limiter.retry_after(keys, now=1000) == throttle.FIRST_LOCK_SECONDS + 1
    assert limiter.retry_after(keys, now=1000 + throttle.FIRST_LOCK_SECONDS) == 0  # waited: may try once more
    limiter.failed(keys, now=1030)
    assert limiter.retry_after(keys, now=1030) == 2 * throttle.FIRST_LOCK_SECONDS + 1  # twice as long
    for step in range(20):
        limiter.failed(keys, now=2000 + step)
    assert limiter.retry_after(keys, now=2019) == throttle.LONGEST_LOCK_SECONDS + 1  # bounded
    limiter.succeeded(keys[0])
    assert limiter.retry_after(keys[:1], now=2019) == 0  # the account is free again ...
    assert limiter.retry_after(keys[1:], now=2019) > 0  # ... its address keeps its record


def test_failures_far_apart_do_not_add_up():
    limiter, keys = throttle.LoginThrottle(), throttle.LoginThrottle.keys("customer1", "10.0.0.1")
    for hour in range(10):
        limiter.failed(keys, now=hour * 3600)
    assert limiter.retry_after(keys, now=9 * 3600) == 0


def test_the_dev_token_endpoint_documents_429():
    responses = app.openapi()["paths"]["/dev-issuer/token"]["post"]["responses"]
    assert responses["429"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_a_customer_still_reads_their_own_report_after_all_this(client, settings):
    """The hardening does not get in the way of the ordinary use."""
    log_in(client, "customer1")
    page = client.get("/ui/report", params={"view": "debezium", "start": PERIOD["from"], "end": PERIOD["to"]})
    assert page.status_code == 200 and 'id="report-debezium"' in page.text
    assert customer_uuid("customer1") in page.text


def test_the_icon_every_browser_asks_for_is_there(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png", answer.headers
