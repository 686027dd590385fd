"""Artefacts generated from the contracts (dbt sources, and later GX suites, Trino rules)."""

from lakehouse.codegen import dbt_sources

GENERATORS = {"dbt_sources": dbt_sources}

__all__ = ["GENERATORS", "dbt_sources"]
