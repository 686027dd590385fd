"""Artefacts generated from the contracts (dbt sources and seeds, GX suites, Trino's access rules).

Each generator module has ``outputs(catalog) -> {path: text}``; one that owns a whole folder
also has ``owned_dir()``, where files it no longer produces are removed.
"""

from lakehouse.codegen import dbt_seeds, dbt_sources, gx_suites, trino_rules

GENERATORS = {"dbt_sources": dbt_sources, "dbt_seeds": dbt_seeds, "gx_suites": gx_suites,
              "trino_rules": trino_rules}

__all__ = ["GENERATORS", "dbt_seeds", "dbt_sources", "gx_suites", "trino_rules"]
