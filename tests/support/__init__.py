"""What the integration and fault suites share: the test stack, its fixtures, row comparisons, DAG runs, private servers.

Test modules import from here and never from each other (tests/unit/test_architecture.py keeps it so).
"""
