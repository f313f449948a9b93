"""Reports from either ClickHouse schema: the user report, the overview and their comparison.

Public API::

    from bionicflow.reports import Period, user_report, overview, compare_reports
"""

from bionicflow.reports.build import SCHEMAS, UnknownUserError, overview, user_report
from bionicflow.reports.differences import compare_reports
from bionicflow.reports.period import Period, PeriodError
from bionicflow.reports.reader import ChdbReader, ClickHouseReader, OlapReader

__all__ = [
    "SCHEMAS", "ChdbReader", "ClickHouseReader", "OlapReader", "Period", "PeriodError", "UnknownUserError",
    "compare_reports", "overview", "user_report",
]
