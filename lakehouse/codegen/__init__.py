"""Artefacts generated from the contracts (dbt sources and seeds, GX suites, later Trino rules).

Each generator module has ``outputs(catalog) -> {path: text}``; one that owns a whole folder
also has ``owned_dir()``, where files it no longer produces are removed.
"""

from lakehouse.codegen import dbt_seeds, dbt_sources, gx_suites

GENERATORS = {"dbt_sources": dbt_sources, "dbt_seeds": dbt_seeds, "gx_suites": gx_suites}

__all__ = ["GENERATORS", "dbt_seeds", "dbt_sources", "gx_suites"]
