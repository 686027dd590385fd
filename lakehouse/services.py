"""Background services ``make demo`` leaves running (MLflow, the Airflow UI, Superset, the SQL
gateway, the public API): started detached in their own process group, remembered by a PID
file, judged up by a health URL, stopped as a group.

In production each is a deployed service (``infra/``) and none of this is used.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Service:
    """One background server: how to start it and how to tell it is up."""

    name: str
    command: list[str]
    health_url: str  # answers 2xx once the service is ready
    home: Path  # where its PID file and log live
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None

    @property
    def pid_file(self) -> Path:
        return self.home / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.home / f"{self.name}.log"


def is_up(url: str, timeout_s: float = 1.0) -> bool:
    try:
        return httpx.get(url, timeout=timeout_s).is_success
    except httpx.HTTPError:
        return False


def start(service: Service, *, timeout_s: float = 90.0) -> None:
    """Start ``service`` unless its health URL already answers; wait until it does."""
    if is_up(service.health_url):
        return
    service.home.mkdir(parents=True, exist_ok=True)
    log = open(service.log_file, "ab")  # noqa: SIM115 - handed to the detached process
    process = subprocess.Popen(service.command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                               env={**os.environ, **service.env}, cwd=service.cwd)
    service.pid_file.write_text(str(process.pid), encoding="utf-8")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if is_up(service.health_url):
            return
        if process.poll() is not None:
            service.pid_file.unlink(missing_ok=True)
            raise RuntimeError(f"{service.name} exited ({process.returncode}); see {service.log_file}")
        time.sleep(0.5)
    stop(service)
    raise RuntimeError(f"{service.name} not up after {timeout_s:.0f} s; see {service.log_file}")


def stop(service: Service, *, timeout_s: float = 15.0) -> bool:
    """Stop what :func:`start` started (its whole process group); False if nothing ran."""
    if not service.pid_file.exists():
        return False
    pid = int(service.pid_file.read_text(encoding="utf-8"))
    service.pid_file.unlink()
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:  # reap it if this process started it, or it lingers as a zombie
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.killpg(pid, signal.SIGKILL)
    return True


__all__ = ["Service", "is_up", "start", "stop"]
