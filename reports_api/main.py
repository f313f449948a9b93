"""reports_api application. The report endpoints arrive with the "reports" issue; for now
it answers its health check so the embedded stack can supervise it."""

from __future__ import annotations

from fastapi import FastAPI

from bionicflow import __version__

app = FastAPI(
    title="bionicflow reports_api",
    version=__version__,
    description="Reports from ClickHouse schema `default` (batch) or `debezium` (CDC).",
)


@app.get("/health", tags=["ops"])
def health() -> dict[str, str]:
    """Liveness of the service itself."""
    return {"status": "ok", "version": __version__}
