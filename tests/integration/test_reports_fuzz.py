"""schemathesis against reports_api's own OpenAPI schema, on the running stack: no input gives a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.stack import cli

EXAMPLES_PER_OPERATION = 40


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
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        no_server_error()
