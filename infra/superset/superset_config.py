"""Superset configuration for the Quảng Ninh IOC.

Nothing here is a secret or a machine-specific path: every value comes from the environment,
which ``lakehouse.superset`` renders from the platform's settings (``IOC_*`` variables and the
secrets ``make setup`` generated into ``.env``) before it starts a Superset process. Superset
loads this file because ``SUPERSET_CONFIG_PATH`` points at it.

| variable | what | default |
|---|---|---|
| ``SUPERSET_SECRET_KEY`` | signs sessions, encrypts stored DB passwords (generated, never committed) | required |
| ``IOC_SUPERSET_METADATA_URI`` | metadata DB: SQLite embedded, PostgreSQL in production | required |
| ``IOC_REDIS_URL`` | Redis for caches and rate limits when one runs | none: metadata-DB caches |
| ``IOC_SUPERSET_BASE_MAPS`` | deck.gl base maps, JSON ``[[url, name], ...]`` | OpenStreetMap |
| ``IOC_SUPERSET_THUMBNAILS`` | folder of camera thumbnails served at ``/ioc/thumbnails/`` | none |
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlparse

from ioc_superset.duckdb_serving import reserved_words_once, share_duckdb_instances
from ioc_superset.pandas_aggregates import native_aggregates_once
from ioc_superset.thumbnails import thumbnails_blueprint

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["IOC_SUPERSET_METADATA_URI"]
APP_NAME = "Quảng Ninh IOC"

# Departments get roles generated from the contracts (lakehouse.superset.access); nobody
# registers, nothing is public.
AUTH_USER_REGISTRATION = False
PUBLIC_ROLE_LIKE = None
FEATURE_FLAGS = {
    "DASHBOARD_NATIVE_FILTERS": True,
    "ENABLE_TEMPLATE_PROCESSING": False,
    "EMBEDDED_SUPERSET": False,
    "ALERT_REPORTS": False,
}
# Analysts' metrics and filters may not smuggle sub-queries past row-level security.
# (Superset applies the RLS of the physical tables inside virtual datasets' SQL itself.)

# Embedded DuckDB: one read-only DuckDB instance per serving file and worker process, with
# the delta/spatial extensions the database's connect args name loaded once, instead of per
# query (Superset creates an engine per query with NullPool; LOAD delta + spatial cost
# ~150–350 ms each time on this machine). Other engines pass through unchanged.
DB_CONNECTION_MUTATOR = share_duckdb_instances
reserved_words_once()  # duckdb-engine's dialect is built per query too: skip its keyword query
# Charts' pivot/aggregate post-processing in pandas' compiled group-by (backport of
# apache/superset#41025; see ioc_superset.pandas_aggregates).
native_aggregates_once()

# Camera thumbnails (JPEG under the lake's objects/thumbnails/): served read-only to logged-in
# users, so a table chart can show them with <img src="/ioc/thumbnails/...">.
BLUEPRINTS = [thumbnails_blueprint(os.environ.get("IOC_SUPERSET_THUMBNAILS") or None)]

# deck.gl base maps: OpenStreetMap tiles by default; an intranet tile server in production.
# With no tiles reachable the layers still draw (checked by tests/superset in a browser).
_OSM = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
DECKGL_BASE_MAP = json.loads(os.environ.get("IOC_SUPERSET_BASE_MAPS") or "null") or [
    [f"tile://{_OSM}", "OpenStreetMap"]]
_tile_hosts = sorted({f"{u.scheme}://{u.netloc}" for u in
                      (urlparse(url.removeprefix("tile://")) for url, _ in DECKGL_BASE_MAP)
                      if u.scheme in ("http", "https")})
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:", *_tile_hosts],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'", *_tile_hosts],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}
CONTENT_SECURITY_POLICY_WARNING = False

# Caches: Redis when the platform runs one, else Superset's defaults (metadata DB for
# filter/explore state, no chart-data cache).
_REDIS = os.environ.get("IOC_REDIS_URL", "")
if _REDIS:
    def _redis_cache(prefix: str, timeout: int) -> dict:
        return {"CACHE_TYPE": "RedisCache", "CACHE_REDIS_URL": _REDIS,
                "CACHE_KEY_PREFIX": f"ioc_superset_{prefix}_", "CACHE_DEFAULT_TIMEOUT": timeout}

    CACHE_CONFIG = _redis_cache("meta", 300)
    DATA_CACHE_CONFIG = _redis_cache("data", 300)
    FILTER_STATE_CACHE_CONFIG = _redis_cache("filter", 86400)
    EXPLORE_FORM_DATA_CACHE_CONFIG = _redis_cache("explore", 86400)
    RATELIMIT_STORAGE_URI = _REDIS
else:
    RATELIMIT_STORAGE_URI = "memory://"

# Who opened which dashboard and chart (Superset's event log): into the metadata DB when it is
# PostgreSQL; on SQLite (embedded) into the server log instead — SQLite takes one writer at a
# time, and a dashboard's charts arrive at once, each writing several log rows (measured:
# ~8 ms of the ~30 ms Superset adds to a chart query here).
if SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
    from superset.utils.log import StdOutEventLogger

    EVENT_LOGGER = StdOutEventLogger()

ROW_LIMIT = 50_000
SUPERSET_WEBSERVER_TIMEOUT = 120
# No usage telemetry, no calls out (nothing is reachable from the province's network anyway).
SCARF_ANALYTICS = False
