"""The SQL gateway as a background service of ``make demo`` (``lakehouse.services``).

Started detached as ``ioc serve-sql`` (so its lifetime is not the demo's), judged up by
``GET /v1/info``, stopped with SIGTERM — on which it ends running queries and commits the
audit before exiting. In production Trino (``infra/trino``) is the service and this is unused.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lakehouse import services
from lakehouse.settings import Settings, get_settings


def _service(settings: Settings) -> services.Service:
    ioc = str(Path(sys.executable).with_name("ioc"))
    url = f"http://{settings.sql_gateway_host}:{settings.sql_gateway_port}"
    command = [ioc, "serve-sql", "--host", settings.sql_gateway_host, "--port", str(settings.sql_gateway_port)]
    env = {"IOC_LAKE_ROOT": settings.lake_root, "IOC_SQL_GATEWAY_TRINO_ETC": str(settings.sql_gateway_trino_etc),
           "IOC_SQL_GATEWAY_SPOOL_DIR": str(settings.sql_gateway_spool_dir),
           "IOC_SQL_GATEWAY_PASSWORD_FILE": settings.sql_gateway_password_file}
    return services.Service("sql-gateway", command, f"{url}/v1/info", Path(settings.sql_gateway_spool_dir), env=env)


def start_gateway(settings: Settings | None = None, *, timeout_s: float = 60.0) -> str:
    """Start (or find running) the gateway on the configured loopback port; returns its URL."""
    settings = settings or get_settings()
    services.start(_service(settings), timeout_s=timeout_s)
    return f"http://{settings.sql_gateway_host}:{settings.sql_gateway_port}"


def stop_gateway(settings: Settings | None = None) -> bool:
    """Stop the gateway ``start_gateway`` started; False if none was running."""
    return services.stop(_service(settings or get_settings()))


__all__ = ["start_gateway", "stop_gateway"]
