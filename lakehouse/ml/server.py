"""The embedded MLflow tracking server ``make demo`` leaves running.

It serves the same store the jobs write (SQLite + local artifacts under
``settings.mlflow_root``), so runs, plots and the ``ioc_forecaster`` registry are browsable at
``http://127.0.0.1:<port>``. In production the tracking server is a deployed service
(``IOC_MLFLOW_TRACKING_URI``) and this is not used.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lakehouse import services
from lakehouse.settings import Settings, get_settings

DEFAULT_PORT = 5000


def server_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def _service(settings: Settings, port: int = DEFAULT_PORT) -> services.Service:
    root = Path(settings.mlflow_root)
    command = [str(Path(sys.executable).with_name("mlflow")), "server",
               "--backend-store-uri", settings.mlflow_uri,
               "--default-artifact-root", (root / "artifacts").resolve().as_uri(),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    return services.Service("server", command, f"{server_url(port)}/health", root,
                            env={"MLFLOW_ENABLE_TELEMETRY": "false", "DO_NOT_TRACK": "true"})


def start_server(settings: Settings | None = None, *, port: int = DEFAULT_PORT, timeout_s: float = 60.0) -> str:
    """Start (or find running) the tracking server on loopback; returns its URL."""
    services.start(_service(settings or get_settings(), port), timeout_s=timeout_s)
    return server_url(port)


def stop_server(settings: Settings | None = None) -> bool:
    """Stop the server ``start_server`` started (its whole process group)."""
    return services.stop(_service(settings or get_settings()))
