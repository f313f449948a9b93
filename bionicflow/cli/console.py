"""Where the command line writes: results to stdout, progress and errors to stderr."""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console
from rich.text import Text

from bionicflow.kernel.errors import BionicflowError

# soft_wrap: long lines (paths, fixes) stay whole lines when output is not a terminal
err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def fail(exc: BionicflowError) -> NoReturn:
    """Print the error (it says what to do) and exit 2."""
    err.print(Text.assemble(("error: ", "red"), str(exc)), highlight=False)
    raise typer.Exit(code=2)
