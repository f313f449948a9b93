"""The same DDL for a ClickHouse cluster: `ON CLUSTER` and `Replicated*` engines.

The schema modules render DDL for one server; `for_cluster` turns each statement into its
cluster form, so a cluster runs exactly the columns, keys and views the embedded stack and
compose run. Replica paths use the server's `{shard}` and `{replica}` macros.
"""

from __future__ import annotations

import re

_HEAD = re.compile(r"^(CREATE (?:DATABASE|TABLE|MATERIALIZED VIEW) IF NOT EXISTS|ALTER TABLE) (\S+)")
_ENGINE = re.compile(r"^ENGINE = (\w*MergeTree)(?:\(([^)]*)\))?$", re.MULTILINE)


def _replicated(match: re.Match, name: str) -> str:
    family, args = match.group(1), match.group(2)
    path = f"'/clickhouse/tables/{{shard}}/{name}', '{{replica}}'"
    return f"ENGINE = Replicated{family}({path}{', ' + args if args else ''})"


def for_cluster(statement: str, cluster: str) -> str:
    """`statement` run on every node of `cluster`, with replicated storage for MergeTree tables."""
    head = _HEAD.match(statement)
    if head is None:
        raise ValueError(f"not a statement this module renders for clusters: {statement[:60]!r}")
    name = head.group(2)
    out = f"{head.group(1)} {name} ON CLUSTER '{cluster}'" + statement[head.end():]
    return _ENGINE.sub(lambda m: _replicated(m, name), out)
