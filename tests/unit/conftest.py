import os

import pytest


@pytest.fixture(autouse=True)
def _documented_defaults(monkeypatch):
    """Unit tests see the documented defaults, whatever the shell exports."""
    for name in list(os.environ):
        if name.startswith("BIONICFLOW_"):
            monkeypatch.delenv(name)
