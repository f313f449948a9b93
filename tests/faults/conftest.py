from tests.support.fixtures import (  # noqa: F401 (fixtures)
    _test_stack_environment, airflow, bootstrapped, cdc, report_data, settings, stack,
)
from tests.support.fixtures import mark_integration


def pytest_collection_modifyitems(config, items):
    mark_integration([item for item in items if "/tests/faults/" in str(item.fspath)])
