"""Code that joins the roads: the one bootstrap step list, the drift checks, the first start.

It may import the roads and the kernel; the stack and the applications (CLI, DAGs, reports_api)
import it. Before it existed the bootstrap's step order was written twice (CLI and DAG) and drifted.
"""
