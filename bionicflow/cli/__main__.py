"""`python -m bionicflow.cli`: the command line as the `bionicflow` script runs it."""

from bionicflow.cli import app

app()
