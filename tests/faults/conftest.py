from tests.stack_fixtures import airflow, report_data, settings, stack, _test_stack_environment  # noqa: F401
from tests.stack_fixtures import mark_integration


def pytest_collection_modifyitems(config, items):
    mark_integration([item for item in items if "/tests/faults/" in str(item.fspath)])
