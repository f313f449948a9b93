"""What the `sources` and `tables` commands share: the OLAP server where both are recorded, errors, columns."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

from bionicflow.cli.console import fail, out
from bionicflow.kernel.config import get_settings
from bionicflow.kernel.errors import BionicflowError, StackNotRunningError, first_line

if TYPE_CHECKING:
    from bionicflow.kernel.olap import OlapClient


def olap() -> OlapClient:
    """The OLAP server, where sources and tables are recorded; `StackNotRunningError` with the fix if it is not up."""
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    from bionicflow.kernel.olap import olap_client

    settings = get_settings()
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)  # the error below says it once, with the fix
    try:
        return olap_client(settings)
    except OperationalError:
        raise StackNotRunningError(
            f"the OLAP server at {settings.olap_address}:{settings.olap_port} does not answer: sources and tables are "
            "recorded there; start the stack (`bionicflow up`) or point BIONICFLOW_OLAP_PORT at it") from None
    except DatabaseError as exc:  # after OperationalError, which is one
        raise StackNotRunningError(f"the OLAP server refused the administrative user ({first_line(exc, 200)}): check "
                                   "BIONICFLOW_CLICKHOUSE_USER and BIONICFLOW_CLICKHOUSE_PASSWORD") from None


def errors() -> tuple[type[Exception], ...]:
    """What a sources or tables command reports as an error: ours, and the OLAP server refusing a statement."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    return BionicflowError, DatabaseError


def fail_any(exc: Exception) -> NoReturn:
    if isinstance(exc, BionicflowError):
        fail(exc)
    denied = any(mark in str(exc) for mark in ("ACCESS_DENIED", "Not enough privileges", "AUTHENTICATION_FAILED"))
    hint = (" (sources and tables are recorded in ops.sources and ops.tables, which only the administrative user "
            "BIONICFLOW_CLICKHOUSE_USER may read and write)") if denied else ""
    fail(StackNotRunningError(f"the OLAP server refused: {first_line(exc)}{hint}"))


def print_aligned(rows: Sequence[Sequence[str]]) -> None:
    """Rows in aligned columns, the last one unpadded: a rich table would wrap them at 80 columns when piped."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
        out.print("  ".join(cells).rstrip(), highlight=False, markup=False)
