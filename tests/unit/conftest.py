import os

import pytest


@pytest.fixture(autouse=True)
def _documented_defaults(monkeypatch):
    """Unit tests see the documented defaults, whatever the integration conftest or the shell set."""
    for name in list(os.environ):
        if name.startswith("BIONICFLOW_"):
            monkeypatch.delenv(name)
