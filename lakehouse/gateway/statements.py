"""Every statement a Trino client sends, turned into a :class:`Plan`.

Queries go to :class:`~lakehouse.gateway.translate.QueryPlanner`. The rest is what BI tools,
DBeaver, the Trino CLI, the ``trino`` client and dbt-trino send around their queries:

* ``SHOW CATALOGS | SCHEMAS | TABLES | COLUMNS | CREATE TABLE | SESSION`` and ``DESCRIBE``:
  answered from the metadata the user may see, with Trino's column names;
* ``USE``, ``SET SESSION``, ``RESET SESSION``: answered with Trino's ``X-Trino-Set-*`` headers,
  so the client keeps the session (the gateway itself is stateless between statements);
* ``EXECUTE IMMEDIATE '…' USING …`` (what the ``trino`` client sends for parameters),
  ``PREPARE`` / ``EXECUTE`` / ``DEALLOCATE PREPARE`` (older servers' way, kept in headers);
* ``EXPLAIN``: DuckDB's plan of the rewritten (rule-enforcing) query;
* writes and DDL: refused; with Trino's words when the catalog is read-only for the user.
"""

from __future__ import annotations

import re
from urllib.parse import quote_plus

import pyarrow as pa
import sqlglot
from sqlglot import exp

from lakehouse.gateway.catalog import MetadataTables
from lakehouse.gateway.errors import TrinoError, access_denied
from lakehouse.gateway.rules import AccessRules
from lakehouse.gateway.translate import (
    Plan,
    QueryPlanner,
    SessionContext,
    check_schema,
    parse,
    resolve,
)

_IDENT = r'(?:"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$@]*)'
_QNAME = rf"{_IDENT}(?:\s*\.\s*{_IDENT}){{0,2}}"
_STRING = r"'(?:[^']|'')*'"
_LIKE = rf"(?:\s+LIKE\s+(?P<like>{_STRING})(?:\s+ESCAPE\s+(?P<escape>{_STRING}))?)?"
_FLAGS = re.IGNORECASE | re.DOTALL


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(r"\s*" + pattern + r"\s*$", _FLAGS)


_SHOW_CATALOGS = _re(r"SHOW\s+CATALOGS" + _LIKE)
_SHOW_SCHEMAS = _re(rf"SHOW\s+SCHEMAS(?:\s+(?:FROM|IN)\s+(?P<catalog>{_IDENT}))?" + _LIKE)
_SHOW_TABLES = _re(rf"SHOW\s+TABLES(?:\s+(?:FROM|IN)\s+(?P<schema>{_QNAME}))?" + _LIKE)
_SHOW_COLUMNS = _re(rf"(?:SHOW\s+COLUMNS\s+(?:FROM|IN)|DESCRIBE|DESC)\s+(?P<table>{_QNAME})" + _LIKE)
_SHOW_CREATE = _re(rf"SHOW\s+CREATE\s+TABLE\s+(?P<table>{_QNAME})")
_SHOW_SESSION = _re(r"SHOW\s+SESSION" + _LIKE)
_USE = _re(rf"USE\s+(?P<name>{_QNAME})")
_SET_SESSION = _re(rf"SET\s+SESSION\s+(?P<name>{_IDENT}(?:\.{_IDENT})?)\s*=\s*(?P<value>.+)")
_RESET_SESSION = _re(rf"RESET\s+SESSION\s+(?P<name>{_IDENT}(?:\.{_IDENT})?)")
_EXECUTE_IMMEDIATE = _re(rf"EXECUTE\s+IMMEDIATE\s+(?P<sql>{_STRING})(?:\s+USING\s+(?P<using>.+))?")
_PREPARE = _re(rf"PREPARE\s+(?P<name>{_IDENT})\s+FROM\s+(?P<sql>.+)")
_EXECUTE = _re(rf"EXECUTE\s+(?P<name>{_IDENT})(?:\s+USING\s+(?P<using>.+))?")
_DEALLOCATE = _re(rf"DEALLOCATE\s+PREPARE\s+(?P<name>{_IDENT})")
_EXPLAIN = _re(r"EXPLAIN(?P<analyze>\s+ANALYZE(?:\s+VERBOSE)?)?(?:\s*\((?P<options>(?:\s*(?:TYPE|FORMAT)\s+\w+\s*,?)+)\))?"
               r"\s+(?P<sql>.+)")
_COMMENTS = re.compile(r"^(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/)+", re.DOTALL)
# Session properties the gateway acts on; any other is kept in the session and ignored.
SESSION_PROPERTIES = {"query_max_run_time": ("varchar", "100d", "Maximum run time of a query (e.g. 30s, 10m)")}
_WRITE_VERBS = {"Insert": "insert into table", "Delete": "delete from table", "Update": "update table",
                "Merge": "merge into table", "Create": "create table", "Drop": "drop table", "Alter": "alter table",
                "TruncateTable": "truncate table"}


def names(qualified: str) -> list[str]:
    """``a."B c".d`` -> ``["a", "b c", "d"]`` (Trino folds identifiers to lower case)."""
    return [(m[1:-1].replace('""', '"') if m.startswith('"') else m).lower()
            for m in re.findall(_IDENT, qualified)]


def _literal(text: str) -> str:
    """A value as Trino would take it: a string literal's content, or the expression text."""
    try:
        node = sqlglot.parse_one(text, read="trino")
    except sqlglot.errors.SqlglotError:
        raise TrinoError("SYNTAX_ERROR", f"Invalid value: {text}") from None
    return node.name if isinstance(node, exp.Literal) else node.sql("trino")


def parse_duration(text: str) -> float:
    """Trino's duration strings (``500ms``, ``30s``, ``10m``, ``1h``, ``2d``) in seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|s|m|h|d)\s*", text)
    if not found:
        raise TrinoError("INVALID_SESSION_PROPERTY", f"Invalid duration: {text!r} (use e.g. 30s, 10m, 1h)")
    unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600, "d": 86400}[found.group(2)]
    return float(found.group(1)) * unit


class StatementPlanner:
    """Turns any statement text into a :class:`Plan` for one session."""

    def __init__(self, metadata: MetadataTables):
        self.metadata = metadata
        self.queries = QueryPlanner(metadata)

    def plan(self, sql: str, ctx: SessionContext, rules: AccessRules) -> Plan:
        text = _COMMENTS.sub("", sql).rstrip().rstrip(";").rstrip()
        if not text:
            raise TrinoError("SYNTAX_ERROR", "Empty statement")
        keyword = text.split(None, 1)[0].upper()
        if keyword in ("SHOW", "DESCRIBE", "DESC"):
            return self._show(text, ctx, rules)
        if keyword in ("USE", "SET", "RESET", "PREPARE", "DEALLOCATE"):
            return self._session(text, ctx)
        if keyword == "EXECUTE":
            return self._execute(text, ctx, rules)
        if keyword == "EXPLAIN":
            found = _EXPLAIN.match(text)
            if not found:
                raise TrinoError("SYNTAX_ERROR", "Expected EXPLAIN [ANALYZE] <query>")
            plan = self.queries.plan(parse(found["sql"]), ctx, rules)
            plan.sql = ("EXPLAIN ANALYZE " if found["analyze"] else "EXPLAIN ") + plan.sql
            plan.explain = True
            return plan
        if keyword in ("START", "COMMIT", "ROLLBACK", "CALL", "GRANT", "REVOKE", "DENY", "ANALYZE", "REFRESH",
                       "COMMENT", "VACUUM"):
            raise TrinoError("NOT_SUPPORTED", f"{keyword} is not supported by the SQL gateway (it is read-only "
                                              "and autocommit)")
        return self._query_or_write(parse(text), ctx, rules)

    # -- queries and the writes the gateway refuses ----------------------------------------
    def _query_or_write(self, tree: exp.Expression, ctx: SessionContext, rules: AccessRules) -> Plan:
        verb = _WRITE_VERBS.get(type(tree).__name__)
        if verb is None:
            return self.queries.plan(tree, ctx, rules)
        target = tree.find(exp.Table)
        parts = [p for p in (target.catalog, target.db, target.name) if p] if target else []
        catalog = (parts[-3] if len(parts) == 3 else ctx.catalog) or "?"
        where = ".".join([catalog, *(parts[-2:] if len(parts) >= 2 else [ctx.schema or "?", *parts])])
        if rules.catalog_access(ctx.identity, catalog) != "all":
            raise access_denied(f"Cannot {verb} {where}")
        raise TrinoError("NOT_SUPPORTED", f"The SQL gateway is read-only: cannot {verb} {where}; "
                                          "the lake is written by the pipeline (ingest, dbt)")

    def _execute(self, text: str, ctx: SessionContext, rules: AccessRules) -> Plan:
        found = _EXECUTE_IMMEDIATE.match(text)
        if found:
            statement = found["sql"][1:-1].replace("''", "'")
        else:
            found = _EXECUTE.match(text)
            if not found:
                raise TrinoError("SYNTAX_ERROR", "Expected EXECUTE <name> [USING …] or EXECUTE IMMEDIATE '…'")
            name = names(found["name"])[0]
            if name not in ctx.prepared:
                raise TrinoError("NOT_FOUND", f"Prepared statement not found: {name}")
            statement = ctx.prepared[name]
        if not found["using"]:
            return self.plan(statement, ctx, rules)
        values = parse("SELECT " + found["using"]).expressions
        tree = parse(statement)
        slots = list(tree.find_all(exp.Placeholder, bfs=False))
        if len(slots) != len(values):
            raise TrinoError("INVALID_PARAMETER_USAGE",
                             f"Incorrect number of parameters: expected {len(slots)} but found {len(values)}")
        for slot, value in zip(slots, values, strict=True):
            slot.replace(value.copy())
        return self._query_or_write(tree, ctx, rules)

    # -- session statements ---------------------------------------------------------------
    def _session(self, text: str, ctx: SessionContext) -> Plan:
        if found := _USE.match(text):
            parts = names(found["name"])
            if len(parts) > 2:
                raise TrinoError("SYNTAX_ERROR", "Expected USE [catalog.]schema")
            catalog = parts[0] if len(parts) == 2 else ctx.catalog
            if catalog is None:
                raise TrinoError("MISSING_CATALOG_NAME", "Catalog must be specified when session catalog is not set")
            check_schema(catalog, parts[-1], self.metadata)
            return Plan(None, update_type="USE", headers=[("X-Trino-Set-Catalog", catalog),
                                                         ("X-Trino-Set-Schema", parts[-1])])
        if found := _SET_SESSION.match(text):
            name, value = ".".join(names(found["name"])), _literal(found["value"])
            if name == "query_max_run_time":
                parse_duration(value)
            return Plan(None, update_type="SET SESSION", headers=[("X-Trino-Set-Session", f"{name}={quote_plus(value)}")])
        if found := _RESET_SESSION.match(text):
            return Plan(None, update_type="RESET SESSION",
                        headers=[("X-Trino-Clear-Session", ".".join(names(found["name"])))])
        if found := _PREPARE.match(text):
            parse(found["sql"])  # a statement that does not parse is refused now, as Trino does
            return Plan(None, update_type="PREPARE",
                        headers=[("X-Trino-Added-Prepare", f"{names(found['name'])[0]}={quote_plus(found['sql'])}")])
        if found := _DEALLOCATE.match(text):
            return Plan(None, update_type="DEALLOCATE", headers=[("X-Trino-Deallocated-Prepare", names(found["name"])[0])])
        raise TrinoError("NOT_SUPPORTED", f"Not supported by the SQL gateway: {text.split(None, 2)[:2]}")

    # -- SHOW and DESCRIBE ----------------------------------------------------------------
    def _listing(self, header: list[str], rows: list[tuple], found: re.Match, order: bool = True) -> Plan:
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in header]
        table = pa.table({h: pa.array(list(c), pa.string()) for h, c in zip(header, columns, strict=True)})
        where = ""
        if found.groupdict().get("like"):
            escape = f" ESCAPE {found['escape']}" if found["escape"] else ""
            where = f' WHERE "{header[0]}" LIKE {found["like"]}{escape}'
        select = ", ".join(f'"{h}"' for h in header)
        return Plan(f'SELECT {select} FROM "__ioc_show"{where}' + (" ORDER BY 1" if order else ""),
                    virtual={"__ioc_show": lambda: table})

    def _show(self, text: str, ctx: SessionContext, rules: AccessRules) -> Plan:
        who, meta = ctx.identity, self.metadata
        if found := _SHOW_CATALOGS.match(text):
            return self._listing(["Catalog"], [(c,) for c in meta.visible_catalogs(rules, who)], found)
        if found := _SHOW_SCHEMAS.match(text):
            catalog = names(found["catalog"])[0] if found["catalog"] else ctx.catalog
            if catalog is None:
                raise TrinoError("MISSING_CATALOG_NAME", "Catalog must be specified when session catalog is not set")
            if catalog not in meta.catalogs:
                raise TrinoError("CATALOG_NOT_FOUND", f"Catalog '{catalog}' not found")
            if rules.catalog_access(who, catalog) == "none":
                raise access_denied(f"Cannot access catalog {catalog}")
            return self._listing(["Schema"], [(s,) for s in meta.visible_schemas(rules, who, catalog)], found)
        if found := _SHOW_TABLES.match(text):
            parts = names(found["schema"]) if found["schema"] else []
            if len(parts) > 2:
                raise TrinoError("SYNTAX_ERROR", "Expected SHOW TABLES [FROM [catalog.]schema]")
            catalog = parts[0] if len(parts) == 2 else ctx.catalog
            schema = parts[-1] if parts else ctx.schema
            if schema is None:
                raise TrinoError("MISSING_SCHEMA_NAME", "Schema must be specified when session schema is not set")
            if catalog is None:
                raise TrinoError("MISSING_CATALOG_NAME", "Catalog must be specified when session catalog is not set")
            check_schema(catalog, schema, meta)
            if rules.catalog_access(who, catalog) == "none":
                raise access_denied(f"Cannot access catalog {catalog}")
            return self._listing(["Table"], [(t,) for t in meta.visible_tables(rules, who, catalog, schema)], found)
        if found := _SHOW_COLUMNS.match(text):
            name = self._visible_table(found["table"], ctx, rules, "show columns of table")
            rows = [(c.name, c.type.name, "", "") for c in
                    meta.visible_columns(rules, who, name.catalog, name.schema, name.table)]
            return self._listing(["Column", "Type", "Extra", "Comment"], rows, found, order=False)
        if found := _SHOW_CREATE.match(text):
            name = self._visible_table(found["table"], ctx, rules, "show create table for")
            body = ",\n".join(f"   {c.name} {c.type.name}" for c in
                              meta.visible_columns(rules, who, name.catalog, name.schema, name.table))
            return self._listing(["Create Table"], [(f"CREATE TABLE {name} (\n{body}\n)",)], found, order=False)
        if found := _SHOW_SESSION.match(text):
            rows = [(n, ctx.properties.get(n, default), default, kind, about)
                    for n, (kind, default, about) in SESSION_PROPERTIES.items()]
            rows += [(n, v, "", "varchar", "(kept in the session, not used by the gateway)")
                     for n, v in sorted(ctx.properties.items()) if n not in SESSION_PROPERTIES]
            return self._listing(["Name", "Value", "Default", "Type", "Description"], rows, found)
        raise TrinoError("NOT_SUPPORTED", f"Not supported by the SQL gateway: {' '.join(text.split()[:3])}")

    def _visible_table(self, qualified: str, ctx: SessionContext, rules: AccessRules, action: str):
        name = resolve(names(qualified), ctx, self.metadata)
        if name.schema != "information_schema" and not rules.table_grant(
                ctx.identity, name.catalog, name.schema, name.table).privileges:
            raise access_denied(f"Cannot {action} {name}")
        return name


__all__ = ["SESSION_PROPERTIES", "StatementPlanner", "names", "parse_duration"]
