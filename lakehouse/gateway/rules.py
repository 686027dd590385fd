"""Trino's file-based access control (``access-control.name=file``), evaluated in Python.

The gateway enforces the very ``rules.json`` production Trino loads (generated from the
contracts into ``infra/trino/etc/``), with Trino's documented semantics:

* each section (``catalogs``, ``schemas``, ``tables``, ``queries``, ``impersonation``) is read
  top to bottom and the **first matching rule wins**; when rules exist and none matches,
  access is **denied**; a section that is absent grants everything (except impersonation,
  which is then refused), an empty one denies everything;
* ``user``, ``group``, ``role``, ``catalog``, ``schema``, ``table`` are Java regular
  expressions matched against the **whole** name (``re.fullmatch``); a rule naming a group
  applies when any of the user's groups matches; the gateway has no roles, so a rule that
  names a role never applies;
* catalog ``allow`` is ``all`` | ``read-only`` | ``none`` (legacy ``true``/``false``); the
  ``system`` catalog is open unless a rule says otherwise;
* a table rule's ``privileges`` decide SELECT; its ``filter`` is a row filter, its
  ``columns`` carry ``mask`` expressions and ``allow: false`` for columns nobody may read.

Groups come from Trino's file group provider format (``group:user1,user2``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from lakehouse.gateway.errors import TrinoError

CATALOG_ACCESS = ("none", "read-only", "all")
TABLE_PRIVILEGES = {"SELECT", "INSERT", "DELETE", "UPDATE", "OWNERSHIP", "GRANT_SELECT"}
QUERY_ACCESS = {"execute", "view", "kill"}
SYSTEM_CATALOG = "system"


@dataclass(frozen=True)
class Identity:
    """Who runs a query: the user the rules are evaluated for, and its groups."""

    user: str
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ColumnRule:
    name: str
    allow: bool = True
    mask: str | None = None


@dataclass(frozen=True)
class TableGrant:
    """The first table rule that matched: what the user may do and how the table is narrowed."""

    privileges: frozenset[str]
    filter: str | None = None
    columns: tuple[ColumnRule, ...] = ()

    @property
    def can_select(self) -> bool:
        return "SELECT" in self.privileges

    @property
    def masks(self) -> dict[str, str]:
        return {c.name: c.mask for c in self.columns if c.allow and c.mask is not None}

    @property
    def denied_columns(self) -> frozenset[str]:
        return frozenset(c.name for c in self.columns if not c.allow)


NO_GRANT = TableGrant(frozenset())
FULL_GRANT = TableGrant(frozenset(TABLE_PRIVILEGES))


@lru_cache(maxsize=4096)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex)


def _matches(regex: str | None, value: str) -> bool:
    return regex is None or _pattern(regex).fullmatch(value) is not None


@dataclass(frozen=True)
class _Rule:
    """The subject part every rule shares (user / group / role) plus its own fields."""

    fields: dict[str, Any] = field(hash=False)

    def applies_to(self, identity: Identity) -> bool:
        if "role" in self.fields:
            return False  # the gateway has no roles; Trino would need an enabled role to match
        if not _matches(self.fields.get("user"), identity.user):
            return False
        group = self.fields.get("group")
        return group is None or any(_pattern(group).fullmatch(g) for g in identity.groups)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


def _compile(section: Any, where: str) -> list[_Rule] | None:
    if section is None:
        return None
    if not isinstance(section, list) or not all(isinstance(r, dict) for r in section):
        raise ValueError(f"{where}: expected a list of rule objects")
    for index, rule in enumerate(section):
        for key in ("user", "group", "role", "catalog", "schema", "table", "queryOwner", "original_user", "new_user"):
            if key in rule:
                try:
                    _pattern(str(rule[key]))
                except re.error as exc:
                    raise ValueError(f"{where}[{index}].{key}: invalid regular expression: {exc}") from None
    return [_Rule(dict(r)) for r in section]


def _catalog_allow(value: Any, where: str) -> str:
    if value is True:
        return "all"
    if value is False or value is None:
        return "none"
    if value not in CATALOG_ACCESS:
        raise ValueError(f"{where}.allow: expected all, read-only or none, got {value!r}")
    return value


class AccessRules:
    """A parsed ``rules.json`` plus a group file. Build with :func:`load_rules`."""

    def __init__(self, document: dict[str, Any], groups: dict[str, frozenset[str]] | None = None):
        if not isinstance(document, dict):
            raise TypeError("rules.json: expected a JSON object")
        self.catalogs = _compile(document.get("catalogs"), "catalogs")
        self.schemas = _compile(document.get("schemas"), "schemas")
        self.tables = _compile(document.get("tables"), "tables")
        self.queries = _compile(document.get("queries"), "queries")
        self.impersonation = _compile(document.get("impersonation"), "impersonation")
        self.has_principal_rules = "principals" in document
        for i, rule in enumerate(self.catalogs or []):
            _catalog_allow(rule.get("allow"), f"catalogs[{i}]")
        for i, rule in enumerate(self.tables or []):
            unknown = set(rule.get("privileges", [])) - TABLE_PRIVILEGES
            if "privileges" not in rule.fields or unknown:
                raise ValueError(f"tables[{i}]: privileges must list {sorted(TABLE_PRIVILEGES)}, got {rule.get('privileges')}")
        for i, rule in enumerate(self.queries or []):
            if not set(rule.get("allow", [])) <= QUERY_ACCESS:
                raise ValueError(f"queries[{i}].allow: expected some of {sorted(QUERY_ACCESS)}")
        self.user_groups = groups or {}

    def identity(self, user: str) -> Identity:
        return Identity(user, self.user_groups.get(user, frozenset()))

    # -- catalogs, schemas, tables ------------------------------------------------------------
    def catalog_access(self, identity: Identity, catalog: str) -> str:
        """``all``, ``read-only`` or ``none`` from the first matching catalog rule."""
        if self.catalogs is None:
            return "all"
        for i, rule in enumerate(self.catalogs):
            if rule.applies_to(identity) and _matches(rule.get("catalog"), catalog):
                return _catalog_allow(rule.get("allow"), f"catalogs[{i}]")
        return "all" if catalog == SYSTEM_CATALOG else "none"

    def schema_owner(self, identity: Identity, catalog: str, schema: str) -> bool:
        if self.schemas is None:
            return True
        for rule in self.schemas:
            if rule.applies_to(identity) and _matches(rule.get("catalog"), catalog) \
                    and _matches(rule.get("schema"), schema):
                return bool(rule.get("owner", False))
        return False

    def table_grant(self, identity: Identity, catalog: str, schema: str, table: str) -> TableGrant:
        """The first matching table rule as a grant; no rule (or no catalog access): nothing."""
        if self.catalog_access(identity, catalog) == "none":
            return NO_GRANT
        if self.tables is None:
            return FULL_GRANT
        for rule in self.tables:
            if rule.applies_to(identity) and _matches(rule.get("catalog"), catalog) \
                    and _matches(rule.get("schema"), schema) and _matches(rule.get("table"), table):
                return _grant(rule)
        return NO_GRANT

    def may_see_catalog(self, identity: Identity, catalog: str) -> bool:
        """Trino's visibility: catalog access plus any permission (or schema ownership) inside."""
        if self.catalog_access(identity, catalog) == "none":
            return False
        return catalog == SYSTEM_CATALOG or self._any_permission(identity, catalog, None)

    def may_see_schema(self, identity: Identity, catalog: str, schema: str) -> bool:
        if self.catalog_access(identity, catalog) == "none":
            return False
        return self.schema_owner(identity, catalog, schema) or self._any_permission(identity, catalog, schema)

    def _any_permission(self, identity: Identity, catalog: str, schema: str | None) -> bool:
        if self.tables is None:
            return True
        if schema is None and self.schemas and any(
                r.applies_to(identity) and r.get("owner") and _matches(r.get("catalog"), catalog) for r in self.schemas):
            return True
        return any(rule.applies_to(identity) and rule.get("privileges") and _matches(rule.get("catalog"), catalog)
                   and (schema is None or _matches(rule.get("schema"), schema)) for rule in self.tables)

    # -- queries and impersonation ------------------------------------------------------------
    def may_execute(self, identity: Identity) -> bool:
        if self.queries is None:
            return True
        for rule in self.queries:
            if "queryOwner" not in rule.fields and rule.applies_to(identity):
                return "execute" in rule.get("allow", [])
        return False

    def may_kill(self, identity: Identity, owner: str) -> bool:
        """Users may always kill their own queries; others' need a ``kill`` rule for the owner."""
        if identity.user == owner or self.queries is None:
            return True
        for rule in self.queries:
            if rule.applies_to(identity) and _matches(rule.get("queryOwner"), owner):
                return "kill" in rule.get("allow", [])
        return False

    def may_impersonate(self, original: str, new: str) -> bool:
        """May the authenticated ``original`` user run queries as ``new``? (``$1`` references
        in ``new_user`` take what ``original_user`` captured.)"""
        if original == new:
            return True
        if self.impersonation is None:
            return self.has_principal_rules
        for rule in self.impersonation:
            if "original_role" in rule.fields:
                continue  # no roles in the gateway
            found = _pattern(rule.get("original_user", ".*")).fullmatch(original)
            if found is None:
                continue
            new_regex = re.sub(r"\$(\d+)", lambda m, found=found: re.escape(found.group(int(m.group(1))) or ""),
                               str(rule.get("new_user")))
            if re.fullmatch(new_regex, new):
                return bool(rule.get("allow", True))
        return False


def _grant(rule: _Rule) -> TableGrant:
    columns = tuple(ColumnRule(str(c["name"]).lower(), bool(c.get("allow", True)), c.get("mask"))
                    for c in rule.get("columns", []))
    return TableGrant(frozenset(rule.get("privileges", [])), rule.get("filter"), columns)


def parse_groups(text: str) -> dict[str, frozenset[str]]:
    """Trino's file group provider format (``group:user1,user2``) as user -> groups."""
    groups: dict[str, set[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        group, sep, users = line.partition(":")
        if not sep or not group.strip():
            raise ValueError(f"group file line {number}: expected 'group:user1,user2', got {line!r}")
        for user in filter(None, (u.strip() for u in users.split(","))):
            groups.setdefault(user, set()).add(group.strip())
    return {user: frozenset(names) for user, names in groups.items()}


def load_rules(rules_file: Path, group_file: Path | None = None) -> AccessRules:
    """Read and check both files; a broken file is a clear ``CONFIGURATION_INVALID`` error."""
    try:
        document = json.loads(Path(rules_file).read_text(encoding="utf-8"))
        groups = parse_groups(Path(group_file).read_text(encoding="utf-8")) if group_file else {}
        return AccessRules(document, groups)
    except (OSError, ValueError, TypeError) as exc:
        raise TrinoError("CONFIGURATION_INVALID", f"access rules {rules_file}: {exc}") from exc


class RulesFile:
    """``rules.json`` + ``group.txt`` reloaded when either changes (Trino's
    ``security.refresh-period``): a regenerated policy applies without a restart."""

    def __init__(self, rules_file: Path, group_file: Path | None = None):
        self.rules_file, self.group_file = Path(rules_file), Path(group_file) if group_file else None
        self._stamp: tuple[int, ...] = ()
        self._rules: AccessRules | None = None

    def _current_stamp(self) -> tuple[int, ...]:
        files = [self.rules_file] + ([self.group_file] if self.group_file else [])
        try:
            return tuple(f.stat().st_mtime_ns for f in files)
        except OSError as exc:
            raise TrinoError("CONFIGURATION_INVALID", f"access rules: {exc}") from exc

    def get(self) -> AccessRules:
        stamp = self._current_stamp()
        if stamp != self._stamp or self._rules is None:
            self._rules = load_rules(self.rules_file, self.group_file)
            self._stamp = stamp
        return self._rules


__all__ = ["AccessRules", "ColumnRule", "Identity", "RulesFile", "TableGrant", "load_rules", "parse_groups"]
