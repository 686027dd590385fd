"""Superset-side code of the IOC (runs inside ``.venv-superset``, never in the platform env).

* :mod:`ioc_superset.duckdb_serving` — one read-only DuckDB instance per serving file, shared
  by every query of a worker (the ``DB_CONNECTION_MUTATOR``).
* :mod:`ioc_superset.pandas_aggregates` — chart post-processing aggregates by pandas' own names
  (upstream fix apache/superset#41025, backported).
* :mod:`ioc_superset.thumbnails` — the Flask blueprint that serves camera thumbnails.
* :mod:`ioc_superset.setup` — migrate, admin, roles, import/export of the asset bundle and
  department roles with row-level security, all in one app context
  (``python -m ioc_superset``). The platform side (``lakehouse.superset``) renders its inputs.
"""
