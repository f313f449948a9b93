"""The embedded stack's fixtures, registered once for every suite (tests/support/fixtures.py).

Once, not imported by each suite's conftest: a session fixture imported into two conftests
is two fixtures, and the fault suite then wiped and started the stack a second time.
"""

pytest_plugins = ["tests.support.fixtures"]
