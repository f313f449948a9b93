import pytest

from tests.support.fixtures import mark_integration


@pytest.fixture(autouse=True)
def _on_the_test_stack(_test_stack_environment):
    """Every test of this suite sees the test stack's ports and state directory."""


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by the marks added here
def pytest_collection_modifyitems(config, items):
    mark_integration([item for item in items if "/tests/integration/" in str(item.fspath)])
