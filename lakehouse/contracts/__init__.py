"""Dataset contracts: the single source of truth for every dataset the lake holds."""

from lakehouse.contracts.model import (
    Classification,
    Column,
    Contract,
    Department,
    Grant,
    PiiAction,
    PiiClass,
    Severity,
    SourceKind,
    parse_duration,
)
from lakehouse.contracts.registry import Catalog, CatalogError, ContractProblem, load_catalog

__all__ = [
    "Catalog",
    "CatalogError",
    "Classification",
    "Column",
    "Contract",
    "ContractProblem",
    "Department",
    "Grant",
    "PiiAction",
    "PiiClass",
    "Severity",
    "SourceKind",
    "load_catalog",
    "parse_duration",
]
