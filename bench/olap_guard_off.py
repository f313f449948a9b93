"""The OLAP server with the guard's layers off, for bench/olap_guard.py's baseline only (never shipped).

No OS confinement, uvicorn's own httptools protocol (no head limits), every statement taken as
already checked. The read-only user's settings and request-scoped state stay as they are: they
are what the protocol needs, not a layer that could be left out.
"""

import os

if __name__ == "__main__":
    os.environ["BIONICFLOW_OLAP_SANDBOX"] = "off"
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    from bionicflow.olap import engine, server

    engine.Engine.passed_check = lambda *args, **kwargs: True
    server.GuardedHttp = HttpToolsProtocol  # type: ignore[misc]
    server.main()
