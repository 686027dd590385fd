"""Errors in Trino's shape, so every client shows them the way Trino would.

The ``trino`` client (and JDBC, DBeaver, Superset, dbt-trino) decide what to raise from
``errorType`` and ``errorName``: a ``USER_ERROR`` becomes ``TrinoUserError``, an access
refusal is recognised by ``PERMISSION_DENIED`` (the SQLAlchemy dialect relies on it to skip
table comments it may not read). The codes are Trino's own (``StandardErrorCode``), so a
client that switches on the number behaves the same against the gateway and against Trino.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Trino's StandardErrorCode: name -> (code, type). Only the ones the gateway raises.
_CODES: dict[str, tuple[int, str]] = {
    "GENERIC_USER_ERROR": (0, "USER_ERROR"),
    "SYNTAX_ERROR": (1, "USER_ERROR"),
    "ABANDONED_QUERY": (2, "USER_ERROR"),
    "USER_CANCELED": (3, "USER_ERROR"),
    "PERMISSION_DENIED": (4, "USER_ERROR"),
    "NOT_FOUND": (5, "USER_ERROR"),
    "FUNCTION_NOT_FOUND": (6, "USER_ERROR"),
    "INVALID_FUNCTION_ARGUMENT": (7, "USER_ERROR"),
    "DIVISION_BY_ZERO": (8, "USER_ERROR"),
    "INVALID_CAST_ARGUMENT": (9, "USER_ERROR"),
    "NOT_SUPPORTED": (13, "USER_ERROR"),
    "INVALID_SESSION_PROPERTY": (14, "USER_ERROR"),
    "NUMERIC_VALUE_OUT_OF_RANGE": (19, "USER_ERROR"),
    "READ_ONLY_VIOLATION": (23, "USER_ERROR"),
    "CATALOG_NOT_FOUND": (44, "USER_ERROR"),
    "SCHEMA_NOT_FOUND": (45, "USER_ERROR"),
    "TABLE_NOT_FOUND": (46, "USER_ERROR"),
    "COLUMN_NOT_FOUND": (47, "USER_ERROR"),
    "MISSING_CATALOG_NAME": (56, "USER_ERROR"),
    "MISSING_SCHEMA_NAME": (57, "USER_ERROR"),
    "TYPE_MISMATCH": (58, "USER_ERROR"),
    "INVALID_PARAMETER_USAGE": (80, "USER_ERROR"),
    "INVALID_ROW_FILTER": (84, "USER_ERROR"),
    "INVALID_COLUMN_MASK": (85, "USER_ERROR"),
    "GENERIC_INTERNAL_ERROR": (65536, "INTERNAL_ERROR"),
    "SERVER_SHUTTING_DOWN": (65545, "INTERNAL_ERROR"),
    "CONFIGURATION_INVALID": (65559, "INTERNAL_ERROR"),
    "EXCEEDED_GLOBAL_MEMORY_LIMIT": (131073, "INSUFFICIENT_RESOURCES"),
    "QUERY_QUEUE_FULL": (131074, "INSUFFICIENT_RESOURCES"),
    "EXCEEDED_TIME_LIMIT": (131075, "INSUFFICIENT_RESOURCES"),
}

# DuckDB exception class -> the Trino error a user would have seen for the same mistake.
_DUCKDB_ERRORS = {
    "ParserException": "SYNTAX_ERROR",
    "BinderException": "GENERIC_USER_ERROR",
    "CatalogException": "GENERIC_USER_ERROR",
    "ConversionException": "INVALID_CAST_ARGUMENT",
    "OutOfRangeException": "NUMERIC_VALUE_OUT_OF_RANGE",
    "InvalidInputException": "INVALID_FUNCTION_ARGUMENT",
    "NotImplementedException": "NOT_SUPPORTED",
    "PermissionException": "PERMISSION_DENIED",
    "OutOfMemoryException": "EXCEEDED_GLOBAL_MEMORY_LIMIT",
    "InterruptException": "USER_CANCELED",
    "TypeMismatchException": "TYPE_MISMATCH",
}


class TrinoError(Exception):
    """A query failure, reported to the client as Trino reports it."""

    def __init__(self, name: str, message: str, *, line: int | None = None, column: int | None = None):
        if name not in _CODES:
            raise ValueError(f"unknown Trino error name {name!r}")
        super().__init__(message)
        self.name = name
        self.message = message
        self.line = line
        self.column = column

    @property
    def code(self) -> int:
        return _CODES[self.name][0]

    @property
    def type(self) -> str:
        return _CODES[self.name][1]

    @property
    def denied(self) -> bool:
        return self.name == "PERMISSION_DENIED"

    def to_json(self) -> dict[str, Any]:
        """The ``error`` object of a Trino ``QueryResults`` response."""
        error: dict[str, Any] = {
            "message": self.message,
            "errorCode": self.code,
            "errorName": self.name,
            "errorType": self.type,
            "failureInfo": {"type": _exception_class(self.name), "message": self.message,
                            "suppressed": [], "stack": []},
        }
        if self.line is not None:
            location = {"lineNumber": self.line, "columnNumber": self.column or 1}
            error["errorLocation"] = location
            error["failureInfo"]["errorLocation"] = location
        return error


def _exception_class(name: str) -> str:
    if name == "PERMISSION_DENIED":
        return "io.trino.spi.security.AccessDeniedException"
    if name == "SYNTAX_ERROR":
        return "io.trino.sql.parser.ParsingException"
    return "io.trino.spi.TrinoException"


def access_denied(what: str) -> TrinoError:
    """Trino's wording: ``Access Denied: Cannot select from table lake.gold.x``."""
    return TrinoError("PERMISSION_DENIED", f"Access Denied: {what}")


# DuckDB raises one class for several mistakes; its message tells them apart.
_DUCKDB_MESSAGES = (
    ("Function with name", "FUNCTION_NOT_FOUND"),
    ("No function matches", "TYPE_MISMATCH"),
    ("Referenced column", "COLUMN_NOT_FOUND"),
    ("not found in FROM clause", "COLUMN_NOT_FOUND"),
    ("Division by zero", "DIVISION_BY_ZERO"),
    ("Could not convert", "INVALID_CAST_ARGUMENT"),
)


def from_duckdb(exc: Exception, clean: Callable[[str], str] = lambda m: m) -> TrinoError:
    """A DuckDB failure as the Trino error a user would have met, DuckDB's message kept
    (after ``clean``, which puts table names back where the rewrite put file paths)."""
    name = _DUCKDB_ERRORS.get(type(exc).__name__, "GENERIC_INTERNAL_ERROR")
    message = clean(str(exc).strip())
    for fragment, better in _DUCKDB_MESSAGES:
        if fragment in message and name not in ("USER_CANCELED", "PERMISSION_DENIED"):
            name = better
            break
    if name == "USER_CANCELED":
        message = "Query was canceled"
    return TrinoError(name, message)


__all__ = ["TrinoError", "access_denied", "from_duckdb"]
