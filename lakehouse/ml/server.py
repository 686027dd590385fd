"""The embedded MLflow tracking server ``make demo`` leaves running.

It serves the same store the jobs write (SQLite + local artifacts under
``settings.mlflow_root``), so runs, plots and the ``ioc_forecaster`` registry are browsable at
``http://127.0.0.1:<port>``. In production the tracking server is a deployed service
(``IOC_MLFLOW_TRACKING_URI``) and this is not used.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from lakehouse.settings import Settings, get_settings

DEFAULT_PORT = 5000


def _pid_file(settings: Settings) -> Path:
    return Path(settings.mlflow_root) / "server.pid"


def server_url(port: int = DEFAULT_PORT) -> str:
    return f"http://127.0.0.1:{port}"


def is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def start_server(settings: Settings | None = None, *, port: int = DEFAULT_PORT, timeout_s: float = 60.0) -> str:
    """Start (or find running) the tracking server on loopback; returns its URL."""
    settings = settings or get_settings()
    url = server_url(port)
    if is_up(url):
        return url
    root = Path(settings.mlflow_root)
    root.mkdir(parents=True, exist_ok=True)
    log = open(root / "server.log", "ab")  # noqa: SIM115 - handed to the detached server
    command = [str(Path(sys.executable).with_name("mlflow")), "server",
               "--backend-store-uri", settings.mlflow_uri,
               "--default-artifact-root", (root / "artifacts").resolve().as_uri(),
               "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, "MLFLOW_ENABLE_TELEMETRY": "false", "DO_NOT_TRACK": "true"})
    _pid_file(settings).write_text(str(process.pid), encoding="utf-8")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_up(url):
            return url
        if process.poll() is not None:
            raise RuntimeError(f"mlflow server exited ({process.returncode}); see {root / 'server.log'}")
        time.sleep(0.5)
    raise RuntimeError(f"mlflow server not up after {timeout_s:.0f} s; see {root / 'server.log'}")


def stop_server(settings: Settings | None = None) -> bool:
    """Stop the server ``start_server`` started (its whole process group)."""
    settings = settings or get_settings()
    pid_file = _pid_file(settings)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text(encoding="utf-8"))
    pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True
