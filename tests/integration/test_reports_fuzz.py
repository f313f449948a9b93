"""schemathesis against reports_api's own OpenAPI schema, on the running stack: no input gives a 5xx,
and every error has the documented shape `{"detail": str, "errors": [...]}`."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.support.stack import cli

EXAMPLES_PER_OPERATION = 40


def errors_have_one_shape(ctx, response, case) -> None:
    """Every 4xx/5xx body is `{"detail": "<text>", "errors": [...]}` (docs/reports.md)."""
    if response.status_code < 400:
        return None
    body = response.json()
    assert isinstance(body, dict) and set(body) == {"detail", "errors"}, f"{response.status_code}: {body}"
    assert isinstance(body["detail"], str) and body["detail"] and isinstance(body["errors"], list), body
    return None


def test_no_generated_request_makes_the_server_fail(stack, report_data):
    token = cli("token", "--user", "analyst")
    assert token.returncode == 0, token.stderr
    headers = {"Authorization": f"Bearer {token.stdout.strip()}"}
    schema = schemathesis.openapi.from_url(f"http://{stack.host}:{stack.reports_api_port}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/reports", "/reports/overview", "/reports/compare"}
    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None)
        def no_server_error(case):
            case.call_and_validate(headers=headers, checks=[not_a_server_error, errors_have_one_shape])

        no_server_error()
