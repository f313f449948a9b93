"""The OpenAPI document describes every answer, and real answers match it (reports built by the real engine)."""

import pytest

from bionicflow.reports.accounts import customer_uuid
from reports_api import schemas
from reports_api.main import app
from tests.support.reports_web import PERIOD, bearer


def test_every_route_documents_its_answer_and_its_errors():
    spec = app.openapi()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            ok = next(operation["responses"][code] for code in ("200", "204") if code in operation["responses"])
            if "204" in operation["responses"]:
                continue
            schema = ok["content"]["application/json"]["schema"]
            assert schema, f"{method.upper()} {path}: the 200 answer has an empty schema"
            if path.startswith("/reports") or path == "/dev-issuer/token":
                assert "$ref" in schema, (path, schema)
                assert any(code.startswith("4") for code in operation["responses"]), f"{path}: no error documented"
    assert "text/csv" in spec["paths"]["/reports"]["get"]["responses"]["200"]["content"]
    assert spec["components"]["schemas"]["UserReport"]["example"]["schema"] == "debezium"


@pytest.mark.parametrize("period", [PERIOD, {"from": "2001-01-01", "to": "2001-01-31"}], ids=["events", "empty"])
def test_a_real_user_report_and_comparison_match_the_documented_shapes(client, settings, period):  # noqa: F811
    headers = bearer(settings, "customer1")
    for schema in ("default", "debezium"):
        answer = client.get("/reports", params={"schema": schema, **period}, headers=headers)
        assert answer.status_code == 200, answer.text
        schemas.UserReport.model_validate(answer.json())
    comparison = client.get("/reports/compare", params={"user_uuid": customer_uuid("customer1"), **period},
                            headers=headers)
    schemas.Comparison.model_validate(comparison.json())


def test_a_real_overview_and_token_match_the_documented_shapes(client, settings):  # noqa: F811
    headers = bearer(settings, "analyst")
    for schema in ("default", "debezium"):
        answer = client.get("/reports/overview", params={"schema": schema, **PERIOD}, headers=headers)
        assert answer.status_code == 200, answer.text
        schemas.Overview.model_validate(answer.json())
    schemas.Comparison.model_validate(client.get("/reports/compare", params={"report": "overview", **PERIOD},
                                                 headers=headers).json())
    token = client.post("/dev-issuer/token", data={"username": "analyst", "password": "analyst_password"})
    schemas.Token.model_validate(token.json())
    schemas.Health.model_validate(client.get("/health").json())


def test_the_documented_shapes_refuse_what_is_not_sent():
    """The models are strict, so a field added to a report without its documentation fails the tests above."""
    with pytest.raises(ValueError):
        schemas.Health.model_validate({"status": "ok", "version": "1", "extra": 1})
