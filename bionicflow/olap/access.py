"""What a read-only OLAP user may run: an allow-list checked on the engine's own parse of the statement.

The server asks chdb for ``EXPLAIN AST`` of the exact text it will run, reads the tree
here and refuses anything that is not plainly a read of the user's databases:

* statement kinds: SELECT (with UNION/INTERSECT/EXCEPT), SHOW (databases, tables, columns,
  create, functions, engines), DESCRIBE, EXISTS, EXPLAIN of one of these;
* table functions: an explicit list that cannot reach outside (``numbers``, ``values``, ``view`` …);
* every table reference (FROM, JOIN, ``IN table``, subqueries, CTEs, ``view()``, the
  queries of views, the targets of materialized views) resolved and checked against the
  user's databases and a short list of catalogue tables in ``system``;
* ordinary functions that read files, dictionaries or tables by name are refused;
* no ``SETTINGS`` clause and no ``INTO OUTFILE``: limits are the server's, not the client's.

Whatever the checker cannot analyse (an unknown statement kind, a name it cannot split)
is refused, never let through. Pure logic: the catalogue and the parser are passed in.
"""

from __future__ import annotations

import functools

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from bionicflow.olap.allowlists import (FORMAT_FUNCTION_FORMATS, TABLE_FUNCTIONS, FunctionList, literal_string,
                                        plain_structure, structure_statement)
from bionicflow.olap.protocol import OUTFILE_CLAUSE, ClickHouseError, quote_string

# Table functions a read-only user may call: they make rows from their arguments only.
ALLOWED_TABLE_FUNCTIONS = frozenset(TABLE_FUNCTIONS)
# Ordinary functions that reach files, dictionaries, other tables by name, or server internals.
DENIED_FUNCTIONS = frozenset(name.lower() for name in (
    "file", "dictGet", "dictGetOrDefault", "dictGetOrNull", "dictHas", "dictIsIn", "dictGetHierarchy",
    "dictGetChildren", "dictGetDescendants", "dictGetAll", "joinGet", "joinGetOrNull", "hasColumnInTable",
    "catboostEvaluate", "naiveBayesClassifier", "getServerSetting", "getMergeTreeSetting", "getMacro",
    "getClientHTTPHeader", "showCertificate", "addressToLine", "addressToLineWithInlines", "addressToSymbol",
    "demangle", "trap", "logTrace", "filesystemUnreserved",
))
IN_FUNCTIONS = frozenset({"in", "notin", "globalin", "globalnotin", "nullin", "notnullin",
                          "globalnullin", "globalnotnullin"})
# Catalogue tables of `system` a read-only user may read; their rows are filtered to the
# user's databases by the server (additional_table_filters), as ClickHouse shows only granted tables.
READER_SYSTEM_TABLES = frozenset({
    "one", "numbers", "numbers_mt", "zeros", "zeros_mt", "databases", "tables", "columns",
    "data_skipping_indices", "functions", "table_functions", "formats", "data_type_families",
    "table_engines", "collations", "time_zones", "settings", "contributors", "keywords",
    "aggregate_function_combinators", "build_options_public",
})
CATALOGUE_DATABASES = frozenset({"information_schema", "INFORMATION_SCHEMA"})
# Filters the server puts on the catalogue tables for a read-only user: column holding the database.
CATALOGUE_FILTERS = {"system.databases": "name", "system.tables": "database", "system.columns": "database",
                     "system.data_skipping_indices": "database"}
# ... and the functions they may see: the engine's own, not an admin's SQL functions.
FUNCTION_FILTER = ("system.functions", "origin = 'System'")
READ_STATEMENTS = frozenset({
    "Explain", "SelectWithUnionQuery", "DescribeQuery", "ExistsTableQuery", "ExistsViewQuery", "ExistsDictionaryQuery",
    "ShowCreateTableQuery", "ShowCreateViewQuery", "ShowCreateDictionaryQuery", "ExistsDatabaseQuery",
    "ShowCreateDatabaseQuery", "ShowTables", "ShowFunctions", "ShowEngineQuery", "ShowColumns", "ShowIndexes",
})
_QUOTED = re.compile(r"'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`|\"(?:[^\"\\]|\\.)*\"", re.S)
# Engines whose rows live in the table itself (reading them reaches nothing else).
_LOCAL_ENGINE = re.compile(r"^(\w*MergeTree|Memory|Log|TinyLog|StripeLog|Null|Set|Join)$")
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# The `TO` table of a materialized view, in the engine's own rendering of it: after the name and
# a REFRESH clause (`REFRESH EVERY 1 HOUR [APPEND] TO db.t`), before the column list or AS.
_MV_TARGET = re.compile(r"^CREATE MATERIALIZED VIEW \S+ (?:REFRESH [^(]*?)?TO ((?:`[^`]+`|\w+)(?:\.(?:`[^`]+`|\w+))?)")
_MV_HEADER_TO = re.compile(r"\bTO\b")
_SHOW_FORMS = re.compile(r"^SHOW (DATABASES|(?:FULL )?(?:TEMPORARY )?TABLES|FUNCTIONS|ENGINES)\b")
_SHOW_COLUMNS = re.compile(r"^SHOW (?:EXTENDED )?(?:FULL )?(?:COLUMNS|INDEXES|INDEX|KEYS) FROM (\S+)(?: FROM (\S+))?")
_FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$")
_MAX_VIEW_DEPTH = 8


@dataclass
class Node:
    """One line of ``EXPLAIN AST``: its kind, the rest of its header, its children."""

    kind: str
    detail: str = ""
    children: list[Node] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


_HEADER = re.compile(r"^(?P<kind>\S+)(?: (?P<detail>.*?))?(?: \(alias [^)]*\))?(?: \(children \d+\))?$")


def parse_explain_ast(text: str) -> Node:
    """The tree of ``EXPLAIN AST`` output (one node a line, one space of indent a level)."""
    root: Node | None = None
    stack: list[tuple[int, Node]] = []  # stack of (indent, node)
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        match = _HEADER.match(line.strip())
        node = Node(match.group("kind"), match.group("detail") or "") if match else Node("?", line.strip())
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack:
            stack[-1][1].children.append(node)
        elif root is None:
            root = node
        else:
            raise _cannot_analyse("the parse has more than one statement")
        stack.append((indent, node))
    if root is None:
        raise _cannot_analyse("the parse is empty")
    return root


@dataclass(frozen=True)
class TableInfo:
    engine: str
    create_table_query: str
    as_select: str


Catalogue = Callable[[str, str], "TableInfo | None"]  # (database, table) -> what the engine knows
Parser = Callable[[str], Node]  # SQL text -> its EXPLAIN AST tree


@dataclass
class ReadCheck:
    """One check of one statement for one read-only user."""

    databases: frozenset[str]
    current_database: str
    catalogue: Catalogue
    parse: Parser
    functions: FunctionList | None = None  # None: only the short deny-list (unit tests of table rules)
    _views_seen: set[str] = field(default_factory=set)
    # The verdict rests on a string's value (a column structure, a format name), which a bound
    # String parameter can change from one request to the next: such a verdict is not remembered.
    value_dependent: bool = False

    def statement(self, root: Node, normalized: str) -> None:
        """Refuse the statement unless it is an allowed kind that reads only allowed tables."""
        if self.current_database not in self.databases and self.current_database not in CATALOGUE_DATABASES:
            raise _denied(f"database {self.current_database} is not one of {_names(self.databases)}")
        kind = root.kind
        # INTO OUTFILE writes a file on the server whatever the statement: refused on every kind,
        # by the parse (a string child of the statement) and by the normalised text.
        if kind in READ_STATEMENTS and (OUTFILE_CLAUSE.search(_QUOTED.sub("''", normalized)) or (
                kind != "Explain" and any(child.kind == "Literal" for child in root.children))):
            raise _denied("INTO OUTFILE writes a file on the server")
        if kind == "Explain":
            output = _FORMAT_CLAUSE.search(normalized)
            for child in root.children:
                if child.kind == "Set":
                    continue  # EXPLAIN's own options (header=1, actions=1 …)
                if child.kind == "Identifier" and output and child.detail == output.group(1):
                    continue  # `… FORMAT Native`: the output format
                if child.kind != "SelectWithUnionQuery":
                    raise _denied(f"EXPLAIN of {child.kind} is not allowed; read-only users may EXPLAIN a SELECT")
                self.tree(child)
            return
        if kind == "SelectWithUnionQuery":
            self.tree(root)
        elif kind == "DescribeQuery":
            self.tree(root)
        elif kind in ("ExistsTableQuery", "ExistsViewQuery", "ExistsDictionaryQuery",
                      "ShowCreateTableQuery", "ShowCreateViewQuery", "ShowCreateDictionaryQuery"):
            self.table(*_database_and_name(root, self.current_database))
        elif kind in ("ExistsDatabaseQuery", "ShowCreateDatabaseQuery"):
            database = _identifiers(root)[0]
            self.database(database)
        elif kind in ("ShowTables", "ShowFunctions", "ShowEngineQuery"):
            if not _SHOW_FORMS.match(normalized):
                raise _denied(f"{normalized.split(chr(10))[0][:60]} "
                              "is not one of the SHOW forms a read-only user may run")
            names = _identifiers(root)
            output = _FORMAT_CLAUSE.search(normalized)
            if output and names and names[-1] == output.group(1):
                names = names[:-1]  # `… FORMAT Native`: the output format, not a database
            for database in names:
                self.database(database)
        elif kind in ("ShowColumns", "ShowIndexes"):
            match = _SHOW_COLUMNS.match(normalized)
            if not match:
                raise _cannot_analyse(f"cannot read the table of {normalized[:60]!r}")
            name, database = match.group(1), match.group(2)
            self.table(*_split_name(f"{database}.{name}" if database else name, self.current_database))
        else:
            raise ClickHouseError(164, "READONLY", f"Cannot execute query in readonly mode: read-only users may "
                                  f"run SELECT, SHOW, DESCRIBE, EXISTS and EXPLAIN, not {kind}")

    def tree(self, node: Node) -> None:
        """Every table, table function and function under ``node``."""
        table_functions: set[int] = set()
        for item in node.walk():
            if item.kind == "Set":
                raise _denied("a SETTINGS clause may not change a read-only user's settings; "
                              "pass settings as URL parameters (checked against the user's limits)")
            if item.kind == "TableIdentifier":
                self.table(*_split_name(item.detail, self.current_database))
            elif item.kind == "TableExpression":
                for child in item.children:
                    if child.kind == "Function":
                        table_functions.add(id(child))
                        self.table_function(child)
            elif item.kind == "Function" and id(item) not in table_functions:
                self.function(item)

    def table_function(self, node: Node) -> None:
        """An allowed table function whose every string the engine would parse as SQL is checked."""
        name = node.detail.lower()
        if name not in ALLOWED_TABLE_FUNCTIONS:
            raise _denied(f"table function {node.detail} is not allowed for read-only users "
                          f"(allowed: {', '.join(sorted(ALLOWED_TABLE_FUNCTIONS))})")
        args = node.children[0].children if node.children and node.children[0].kind == "ExpressionList" else []
        if name == "format":
            self._format_arguments(args)
        elif name == "values":
            first = args[0] if args else None
            text = literal_string(first.detail) if first is not None and first.kind == "Literal" else None
            if text is not None and len(args) > 1:
                self.structure(text)
            elif first is not None and first.kind != "Literal" and not (
                    first.kind == "Function" and first.detail in ("tuple", "array")):
                raise _cannot_analyse("values() takes a structure string or rows as its first argument")
        elif TABLE_FUNCTIONS[name] is not None:  # generateRandom, null: literals, the first a structure
            if any(arg.kind != "Literal" for arg in args):
                raise _cannot_analyse(f"{node.detail}() takes literal arguments only")
            text = literal_string(args[0].detail) if args else None
            if text is not None:
                self.structure(text)

    def _format_arguments(self, args: list[Node]) -> None:
        self.value_dependent = True
        if not args or args[0].kind not in ("Identifier", "Literal"):
            raise _cannot_analyse("format() takes a format name first")
        fmt = args[0].detail if args[0].kind == "Identifier" else (literal_string(args[0].detail) or "")
        if fmt.lower() not in FORMAT_FUNCTION_FORMATS:
            raise _denied(f"format {fmt} is not one of the formats format() may parse for read-only users")
        if any(arg.kind != "Literal" for arg in args[1:]):
            raise _cannot_analyse("format() takes literal arguments only")
        if len(args) == 3:
            self.structure(literal_string(args[1].detail) or "")

    def external_table(self, fmt: str, structure: str) -> None:
        """A request's external data: read as format() reads it, so checked as format()'s arguments are."""
        if fmt.lower() not in FORMAT_FUNCTION_FORMATS:
            raise _denied(f"format {fmt} is not one of the formats external data may come in for read-only users")
        self.structure(structure)

    def structure(self, text: str) -> None:
        """A column structure string: names and types only (the engine would evaluate a DEFAULT or ALIAS)."""
        self.value_dependent = True
        if not plain_structure(self.parse(structure_statement(text)), Node.walk):
            raise _denied("a column structure may declare names and types only (no DEFAULT, ALIAS, "
                          "MATERIALIZED, CODEC or other expressions)")

    def function(self, node: Node) -> None:
        name = node.detail.lower()
        if name in DENIED_FUNCTIONS or name.startswith(("dictget", "joinget")):
            raise _denied(f"function {node.detail} reads outside the user's tables")
        if self.functions is not None and not self.functions.allows(node.detail):
            raise _denied(f"function {node.detail} is not on the read-only user's list of functions "
                          "(pure functions of the engine; docs/olap-server.md)")
        if name in IN_FUNCTIONS and node.children and len(node.children[0].children) == 2:
            right = node.children[0].children[1]
            if right.kind == "Identifier":  # `x IN db.table` names a table
                self.table(*_split_name(right.detail, self.current_database))

    def database(self, database: str) -> None:
        if database not in self.databases and database not in CATALOGUE_DATABASES and database != "system":
            raise _denied(f"read-only users may read only databases {_names(self.databases)}: not {database}")

    def table(self, database: str, name: str) -> None:
        """Allowed table? Views and materialized views are followed to what they read."""
        if database == "system":
            if name not in READER_SYSTEM_TABLES:
                raise _denied(f"system.{name} is not readable by read-only users "
                              f"(catalogue tables only: {', '.join(sorted(READER_SYSTEM_TABLES))})")
            return
        if database in CATALOGUE_DATABASES:
            return  # ClickHouse's own views over the filtered catalogue tables
        if database not in self.databases:
            raise _denied(f"read-only users may read only databases {_names(self.databases)}: not {database}.{name}")
        info = self.catalogue(database, name)
        if info is None:
            return  # a CTE or subquery alias, or a table that does not exist (the engine says so)
        self._engine(database, name, info)

    def _engine(self, database: str, name: str, info: TableInfo) -> None:
        qualified = f"{database}.{name}"
        if _LOCAL_ENGINE.match(info.engine):
            return
        if qualified in self._views_seen or len(self._views_seen) >= _MAX_VIEW_DEPTH * 4:
            raise _cannot_analyse(f"views nest too deep at {qualified}")
        self._views_seen.add(qualified)
        if info.engine == "View":
            inner = ReadCheck(self.databases, database, self.catalogue, self.parse, self.functions, self._views_seen)
            inner.tree(self.parse(info.as_select))
        elif info.engine == "MaterializedView":
            target = _MV_TARGET.match(info.create_table_query)
            if target:
                self.table(*_split_name(target.group(1).replace("`", ""), database))
            elif _MV_HEADER_TO.search(info.create_table_query.split(" AS ", 1)[0].split("(", 1)[0]):
                raise _cannot_analyse(f"cannot tell where {qualified} writes")
            # the rows (its inner table's, without TO) are what its SELECT made of its sources:
            # a view over `ops` keeps `ops` rows, so its query is checked as a plain view's is
            inner = ReadCheck(self.databases, database, self.catalogue, self.parse, self.functions, self._views_seen)
            inner.tree(self.parse(info.as_select))
        else:
            raise _denied(f"{qualified} is a {info.engine} table, which reads outside the database; "
                          "read-only users may read MergeTree, Memory and Log tables and views over them")


def check_reader_database(database: str | None, databases: frozenset[str]) -> None:
    """A read-only request's `database` (URL, header) must be one of the user's.

    Checked before any connection is touched.
    """
    if database and database not in databases:
        raise _denied(f"database {database} is not one of {_names(databases)}")


@functools.lru_cache(maxsize=64)
def catalogue_filters(databases: frozenset[str]) -> str:
    """The ``additional_table_filters`` value that shows a read-only user only its databases."""
    visible = ", ".join(quote_string(d) for d in sorted(databases | CATALOGUE_DATABASES | {"system"}))
    filters = {table: f"{column} IN ({visible})" for table, column in CATALOGUE_FILTERS.items()}
    filters[FUNCTION_FILTER[0]] = FUNCTION_FILTER[1]
    entries = ", ".join(f"{quote_string(table)}: {quote_string(condition)}" for table, condition in filters.items())
    return "{" + entries + "}"


def _database_and_name(node: Node, current: str) -> tuple[str, str]:
    parts = node.detail.split(" ")
    if len(parts) != 2 or not all(_PLAIN_NAME.match(p) for p in parts if p) or not parts[1]:
        raise _cannot_analyse(f"cannot split the name in {node.kind} {node.detail!r}")
    return (parts[0] or current), parts[1]


def _identifiers(node: Node) -> list[str]:
    names = [child.detail for child in node.children if child.kind == "Identifier"]
    for name in names:
        if not _PLAIN_NAME.match(name):
            raise _cannot_analyse(f"cannot read the name {name!r}")
    return names


def _split_name(name: str, current: str) -> tuple[str, str]:
    """``db.table`` or ``table``; names that cannot be split for certain are refused."""
    parts = name.split(".")
    if len(parts) > 2 or not all(_PLAIN_NAME.match(p) for p in parts):
        raise _cannot_analyse(f"cannot tell the database and table in {name!r}")
    return (parts[0], parts[1]) if len(parts) == 2 else (current, parts[0])


def _names(databases: frozenset[str]) -> str:
    return ", ".join(sorted(databases))


def _denied(message: str) -> ClickHouseError:
    return ClickHouseError(497, "ACCESS_DENIED", message)


def _cannot_analyse(message: str) -> ClickHouseError:
    return ClickHouseError(497, "ACCESS_DENIED", f"{message}; statements the checker cannot analyse are refused")
