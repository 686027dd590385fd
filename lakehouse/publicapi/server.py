"""The public API as a background service (``make demo``, ``ioc public serve``).

Started detached by :mod:`lakehouse.services` as ``python -m lakehouse.publicapi``, judged up
by ``/health``, stopped as a process group. In production the same module runs under a
process manager behind the province's reverse proxy (``infra/``), and this is not used.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lakehouse import services
from lakehouse.settings import REPO_ROOT, Settings, get_settings

DEFAULT_HOME = REPO_ROOT / "var" / "publicapi"  # PID file and log


def _service(settings: Settings, home: Path | None = None) -> services.Service:
    host, port = settings.public_api_host, settings.public_api_port
    command = [sys.executable, "-m", "lakehouse.publicapi", "--host", host, "--port", str(port)]
    return services.Service("publicapi", command, f"http://{host}:{port}/health", home or DEFAULT_HOME)


def server_url(settings: Settings | None = None) -> str:
    settings = settings or get_settings()
    return f"http://{settings.public_api_host}:{settings.public_api_port}"


def start_server(settings: Settings | None = None, *, home: Path | None = None, timeout_s: float = 60.0) -> str:
    """Start (or find running) the public API; returns its base URL."""
    settings = settings or get_settings()
    services.start(_service(settings, home), timeout_s=timeout_s)
    return server_url(settings)


def stop_server(settings: Settings | None = None, *, home: Path | None = None) -> bool:
    """Stop what :func:`start_server` started; False if nothing was running."""
    return services.stop(_service(settings or get_settings(), home))


__all__ = ["DEFAULT_HOME", "server_url", "start_server", "stop_server"]
