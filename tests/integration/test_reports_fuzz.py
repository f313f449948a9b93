"""schemathesis against reports_api's own OpenAPI schema, on the running stack: no input gives a 5xx."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from tests.integration.conftest import cli


@pytest.fixture(scope="module")
def reports_openapi(stack, report_data):
    return schemathesis.openapi.from_url(f"http://{stack.host}:{stack.reports_api_port}/openapi.json")


@pytest.fixture(scope="module")
def analyst_headers(stack):
    result = cli("token", "--user", "analyst")
    assert result.returncode == 0, result.stderr
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


schema = schemathesis.pytest.from_fixture("reports_openapi")


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_server_fail(case, analyst_headers):
    case.call_and_validate(headers=analyst_headers, checks=[not_a_server_error])
