"""reports_api: the FastAPI service that serves reports from either ClickHouse schema."""
