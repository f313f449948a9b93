"""The kernel every road stands on: table catalogue, source readers, OLAP client, `ops` schema.

It imports no road (cdc, etl, reconcile, reports, demo, stack); the roads import it and not
each other (tests/unit/test_architecture.py keeps it so).
"""
