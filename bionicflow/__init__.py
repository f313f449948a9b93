"""bionicflow: a hybrid batch + CDC reporting platform, PostgreSQL -> ClickHouse."""

__version__ = "0.1.0"
__all__ = ["__version__"]
