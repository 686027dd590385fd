"""A Trino SELECT, authorised and rewritten into the DuckDB SQL that enforces the rules.

sqlglot parses the statement in Trino's dialect. Every table reference is resolved against
the session's catalog and schema the way Trino resolves it, checked against ``rules.json``
(catalog access, the table rule's SELECT privilege, columns nobody may read) and replaced by
its source **with the rule applied inside**:

    lake.gold.citizen_requests AS r
      -> (SELECT * REPLACE (CAST(('***') AS VARCHAR) AS "phone")
          FROM delta_scan('<lake>/gold/citizen_requests') WHERE (unit_code IN ('193'))) AS r

so no part of the query (joins, subqueries, CTEs, window functions) can see a row the filter
drops or a value the mask hides. The rest is transpiled to DuckDB by sqlglot. Nothing the
user typed reaches DuckDB as a table name: a table that is not in the lake or the metadata
catalog is an error, and table functions (``read_csv``…) are refused, so the gateway reads
only the lake. (DuckDB itself is also locked to the lake folder; see ``engine``.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, UnsupportedError

from lakehouse.gateway.catalog import INFORMATION_SCHEMA, SYSTEM, MetadataTables
from lakehouse.gateway.errors import TrinoError, access_denied
from lakehouse.gateway.functions import rewrite_functions
from lakehouse.gateway.rules import AccessRules, Identity

GATEWAY_VERSION = "ioc-sql-gateway-1 (Trino REST protocol v1)"


@dataclass
class SessionContext:
    """What the client's headers say about the session this statement runs in."""

    identity: Identity
    catalog: str | None = None
    schema: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    prepared: dict[str, str] = field(default_factory=dict)
    source: str | None = None

    @property
    def user(self) -> str:
        return self.identity.user


@dataclass
class Plan:
    """What the engine runs for one statement, and what the response carries besides rows."""

    sql: str | None  # DuckDB SQL; None for statements answered without a query
    tables: list[str] = field(default_factory=list)  # catalog.schema.table touched
    virtual: dict[str, Callable[[], Any]] = field(default_factory=dict)  # name -> Arrow table builder
    update_type: str | None = None  # SET SESSION, USE, PREPARE…: the client drains, shows no rows
    headers: list[tuple[str, str]] = field(default_factory=list)  # X-Trino-Set-Catalog, …
    explain: bool = False  # run as EXPLAIN and answer one "Query Plan" column


def parse(sql: str) -> exp.Expression:
    """One Trino statement as a sqlglot tree; a syntax error in Trino's shape."""
    try:
        trees = [t for t in sqlglot.parse(sql, read="trino", error_level=ErrorLevel.RAISE) if t is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        message = first.get("description") or str(exc)
        raise TrinoError("SYNTAX_ERROR", f"line {first.get('line', 1)}:{first.get('col', 1)}: {message}",
                         line=first.get("line"), column=first.get("col")) from None
    except SqlglotError as exc:
        raise TrinoError("SYNTAX_ERROR", str(exc)) from None
    if len(trees) != 1:
        raise TrinoError("SYNTAX_ERROR", "Expected exactly one statement" if trees else "Empty statement")
    return trees[0]


def bind_session(tree: exp.Expression, ctx: SessionContext) -> exp.Expression:
    """Trino's session functions answered from the session (DuckDB would answer its own)."""
    def literal(value: str | None) -> exp.Expression:
        return exp.Literal.string(value) if value is not None else exp.Null()

    replacements: dict[type, Callable[[], exp.Expression]] = {exp.CurrentUser: lambda: literal(ctx.user)}
    for name, value in (("CurrentCatalog", ctx.catalog), ("CurrentSchema", ctx.schema),
                        ("CurrentVersion", GATEWAY_VERSION), ("CurrentTimezone", "UTC")):
        if hasattr(exp, name):
            replacements[getattr(exp, name)] = partial(literal, value)

    def swap(node: exp.Expression) -> exp.Expression:
        make = replacements.get(type(node))
        if make:
            return make()
        if isinstance(node, exp.Column) and not node.table and node.name.lower() == "current_schema" \
                and not isinstance(node.this, exp.Star):
            return literal(ctx.schema)
        return node

    return tree.transform(swap)


def to_duckdb(tree: exp.Expression) -> str:
    try:
        return tree.sql(dialect="duckdb", unsupported_level=ErrorLevel.RAISE)
    except UnsupportedError as exc:
        raise TrinoError("NOT_SUPPORTED", f"Not supported by the SQL gateway: {exc}") from None


@lru_cache(maxsize=1024)
def _rule_sql(text: str, user: str, catalog: str | None, schema: str | None, error: str) -> str:
    """A row filter or mask (Trino SQL from rules.json) as DuckDB SQL, parsed once."""
    try:
        tree = sqlglot.parse_one(text, read="trino", error_level=ErrorLevel.RAISE)
    except SqlglotError as exc:
        raise TrinoError(error, f"Invalid {'row filter' if error == 'INVALID_ROW_FILTER' else 'column mask'} "
                                f"{text!r}: {exc}") from None
    return to_duckdb(rewrite_functions(bind_session(tree, SessionContext(Identity(user), catalog, schema))))


@dataclass(frozen=True)
class TableName:
    catalog: str
    schema: str
    table: str

    def __str__(self) -> str:
        return f"{self.catalog}.{self.schema}.{self.table}"


def resolve(parts: list[str], ctx: SessionContext, metadata: MetadataTables) -> TableName:
    """``[catalog.][schema.]table`` completed from the session and checked to exist."""
    parts = [p.lower() for p in parts]
    table = parts[-1]
    schema = parts[-2] if len(parts) >= 2 else ctx.schema
    catalog = parts[-3] if len(parts) == 3 else ctx.catalog
    if schema is None:
        raise TrinoError("MISSING_SCHEMA_NAME", "Schema must be specified when session schema is not set")
    if catalog is None:
        raise TrinoError("MISSING_CATALOG_NAME", "Catalog must be specified when session catalog is not set")
    check_schema(catalog, schema, metadata)
    if table not in metadata.tables_of(catalog, schema):
        raise TrinoError("TABLE_NOT_FOUND", f"Table '{catalog}.{schema}.{table}' does not exist")
    return TableName(catalog, schema, table)


def check_schema(catalog: str, schema: str, metadata: MetadataTables) -> None:
    if catalog not in metadata.catalogs:
        raise TrinoError("CATALOG_NOT_FOUND", f"Catalog '{catalog}' not found")
    if schema not in metadata.schemas_of(catalog):
        raise TrinoError("SCHEMA_NOT_FOUND", f"Schema '{schema}' does not exist")


def _table_parts(table: exp.Table) -> list[str]:
    return [p for p in (table.catalog, table.db, table.name) if p]


def _referenced_columns(tree: exp.Expression) -> tuple[set[str], bool]:
    """Column names the query names anywhere, and whether it selects ``*`` (all columns)."""
    names, star = set(), False
    for column in tree.find_all(exp.Column):
        if isinstance(column.this, exp.Star):
            star = True
        else:
            names.add(column.name.lower())
    for node in tree.find_all(exp.Star):
        if not isinstance(node.parent, (exp.Count, exp.Column)):
            star = True
    return names, star


def _name_expressions(tree: exp.Expression) -> None:
    """Unnamed result columns get Trino's names (``_col0``…), not DuckDB's rendering of the
    expression, so a BI tool sees the same column names against the gateway and Trino."""
    select = tree
    while isinstance(select, exp.SetOperation):
        select = select.this
    if not isinstance(select, exp.Select):
        return
    for position, expression in enumerate(select.expressions):
        if not isinstance(expression, (exp.Alias, exp.Column, exp.Star)):
            expression.replace(exp.alias_(expression.copy(), f"_col{position}"))


class QueryPlanner:
    """Plans SELECT statements for one lake catalog and its metadata tables."""

    def __init__(self, metadata: MetadataTables):
        self.metadata = metadata

    def plan(self, tree: exp.Expression, ctx: SessionContext, rules: AccessRules) -> Plan:
        if not isinstance(tree, (exp.Query, exp.Values)):
            raise TrinoError("NOT_SUPPORTED", f"Not a query: {type(tree).__name__.upper()}")
        tree = rewrite_functions(bind_session(tree, ctx))
        _name_expressions(tree)
        ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
        referenced, star = _referenced_columns(tree)
        plan = Plan(sql=None)
        sources: dict[str, str] = {}
        for table in list(tree.find_all(exp.Table)):
            if not isinstance(table.this, exp.Identifier):
                raise TrinoError("NOT_SUPPORTED", f"Table functions are not supported by the SQL gateway: "
                                                  f"{table.this.sql('trino')}")
            if not table.db and table.name.lower() in ctes:
                continue
            if table.args.get("version"):
                raise TrinoError("NOT_SUPPORTED", "Time travel (FOR VERSION/TIMESTAMP AS OF) is not supported "
                                                  "by the SQL gateway")
            name = resolve(_table_parts(table), ctx, self.metadata)
            placeholder = f"__ioc_src_{len(sources)}"
            sources[placeholder] = self._source(name, ctx, rules, plan, referenced, star)
            plan.tables.append(str(name))
            alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(name.table))
            table.replace(exp.Table(this=exp.to_identifier(placeholder, quoted=True), alias=alias))
        for column in tree.find_all(exp.Column):  # lake.gold.t.col -> t.col (the alias)
            if column.args.get("db"):
                column.set("db", None)
                column.set("catalog", None)
        sql = to_duckdb(tree)
        for placeholder, source in sources.items():
            sql = sql.replace(f'"{placeholder}"', source)
        plan.sql = sql
        return plan

    def _source(self, name: TableName, ctx: SessionContext, rules: AccessRules, plan: Plan,
                referenced: set[str], star: bool) -> str:
        """The FROM item for one table reference, with its rule's filter and masks inside."""
        who = ctx.identity
        if rules.catalog_access(who, name.catalog) == "none":
            raise access_denied(f"Cannot access catalog {name.catalog}")
        if name.schema == INFORMATION_SCHEMA or name.catalog == SYSTEM:
            virtual = f"__ioc_meta_{len(plan.virtual)}"
            plan.virtual[virtual] = partial(self.metadata.build, (name.schema, name.table), rules, who, name.catalog)
            base = f'"{virtual}"'
            if name.schema == INFORMATION_SCHEMA:
                return base  # Trino: rules do not apply to information_schema (its rows are filtered)
        else:
            location = self.metadata.lake.location(name.schema, name.table)
            base = "delta_scan('" + str(location).replace("'", "''") + "')"
        grant = rules.table_grant(who, name.catalog, name.schema, name.table)
        if not grant.can_select:
            raise access_denied(f"Cannot select from table {name}")
        denied = sorted(grant.denied_columns & referenced) or (sorted(grant.denied_columns) if star else [])
        if denied:
            raise access_denied(f"Cannot select from columns [{', '.join(denied)}] in table or view {name}")
        if not grant.filter and not grant.masks:
            return base
        replace = []
        masks = grant.masks
        for column in self.metadata.columns_of(name.catalog, name.schema, name.table):
            mask = masks.get(column.name.lower())
            if mask is not None:
                mask_sql = _rule_sql(mask, ctx.user, ctx.catalog, ctx.schema, "INVALID_COLUMN_MASK")
                quoted = column.name.replace('"', '""')
                replace.append(f'CAST(({mask_sql}) AS {column.duck_type}) AS "{quoted}"')
        select = "*" + (f" REPLACE ({', '.join(replace)})" if replace else "")
        where = ""
        if grant.filter:
            where = f" WHERE ({_rule_sql(grant.filter, ctx.user, ctx.catalog, ctx.schema, 'INVALID_ROW_FILTER')})"
        return f"(SELECT {select} FROM {base}{where})"


__all__ = ["GATEWAY_VERSION", "Plan", "QueryPlanner", "SessionContext", "TableName", "bind_session",
           "check_schema", "parse", "resolve", "to_duckdb"]
