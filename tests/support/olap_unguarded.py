"""The OLAP server with the read-only statement checker switched off: a test build, never shipped.

It is confined exactly as `python -m bionicflow.olap` confines the real server, so a test can
show what a reader who got past the checker would find: nothing to read, write or call.
"""

from bionicflow.olap.confine import confine_from_settings

if __name__ == "__main__":
    confine_from_settings()
    from bionicflow.olap import engine, server

    engine.Engine.passed_check = lambda *args, **kwargs: True  # every statement "passed" the checker
    server.main()
