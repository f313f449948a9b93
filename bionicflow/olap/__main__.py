"""``python -m bionicflow.olap``: confine the process, then serve (bionicflow.olap.server).

The confinement must come before the engine is imported: chdb starts its threads at import,
and the OS rules (Landlock) bind only the thread that applies them and the threads it starts.
"""

from bionicflow.olap.confine import confine_from_settings

if __name__ == "__main__":
    confine_from_settings()
    from bionicflow.olap.server import main  # imports the engine: after the confinement

    main()
