"""Set up and run the embedded Superset: the one entry point ``make demo`` and tests use.

:func:`prepare` does everything before serving in one Superset process (~10 s to import
Superset, so it is started once): the serving DuckDB file, ``db upgrade`` + ``init`` + the
admin user, the rendered asset bundle, and the department roles/RLS/users from the
contracts. :func:`start_superset` then serves it with gunicorn, detached (PID and log under
``var/superset``), and returns the URL and the admin login. In production Superset is a
deployed service (``IOC_SUPERSET_METADATA_URI`` on PostgreSQL, ``IOC_SUPERSET_DATABASE=trino``)
and :func:`prepare` is its deployment job.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from lakehouse import services
from lakehouse.settings import Settings, get_settings
from lakehouse.superset.bundle import WriteBack, render_bundle, write_back
from lakehouse.superset.env import ADMIN_USER, BUNDLE_DIR, VENV, SupersetEnv, superset_env
from lakehouse.superset.serving import build_serving_db

GUNICORN_WORKERS = 2  # a dashboard fires its charts' queries at once; 2 cores here
GUNICORN_THREADS = 4


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare` did, as the Superset process reported it."""

    views: list[str]
    report: list[str]  # one line per step from ioc_superset


def _run(env: SupersetEnv, args: list[str], timeout_s: float = 600) -> list[str]:
    if not env.python.exists():
        raise RuntimeError(f"{VENV} is missing: run `make setup` (Superset has its own environment)")
    env.home.mkdir(parents=True, exist_ok=True)
    process = subprocess.run([str(env.python), "-m", "ioc_superset", *args], check=False, cwd=env.home,
                             env={**os.environ, **env.environment()}, capture_output=True, text=True,
                             timeout=timeout_s)
    if process.returncode != 0:
        raise RuntimeError(f"python -m ioc_superset {' '.join(args)} failed ({process.returncode}):\n"
                           f"{process.stderr[-4000:]}")
    return [line for line in process.stdout.splitlines()
            if line.strip() and not line.startswith("Loaded your LOCAL configuration")]


def access_file(env: SupersetEnv, settings: Settings) -> Path:
    """Write the roles/RLS/users spec (it holds the demo passwords: 0600, under var/)."""
    from lakehouse.access import load_policy
    from lakehouse.superset.access import access_spec

    spec = access_spec(load_policy(settings), env)
    path = env.home / "access.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(spec, out, indent=1)
    return path


def prepare(settings: Settings | None = None, *, migrate: bool = True, assets: bool = True,
            roles: bool = True) -> Prepared:
    """Serving views, metadata DB, admin, bundle import and roles, in one Superset process."""
    settings = settings or get_settings()
    env = superset_env(settings)
    views = build_serving_db(env.serving_db, settings) if env.engine == "duckdb" else []
    args = ["--migrate"] if migrate else []
    if assets:
        args += ["--import", str(render_bundle(env))]
    if roles:
        args += ["--access", str(access_file(env, settings))]
    return Prepared(views, _run(env, args) if args else [])


def _service(env: SupersetEnv, *, for_start: bool = True) -> services.Service:
    """The gunicorn service; stopping it needs no secrets (only its PID file)."""
    command = [str(VENV / "bin" / "gunicorn"), "--workers", str(GUNICORN_WORKERS), "--worker-class", "gthread",
               "--threads", str(GUNICORN_THREADS), "--timeout", "120", "--graceful-timeout", "5", "--bind", f"127.0.0.1:{env.port}",
               "--limit-request-line", "0", "--limit-request-field_size", "0", "superset.app:create_app()"]
    return services.Service("superset", command, f"{env.url}/health", env.home,
                            env.environment() if for_start else {}, env.home)


def start_superset(settings: Settings | None = None, *, setup: bool = True) -> tuple[str, str, str]:
    """Prepare (unless ``setup=False``) and serve Superset on loopback; returns
    ``(url, admin user, admin password)``. A Superset already answering is left running."""
    settings = settings or get_settings()
    env = superset_env(settings)
    if setup:
        prepare(settings)
    services.start(_service(env), timeout_s=180)
    return env.url, ADMIN_USER, env.admin_password


def stop_superset(settings: Settings | None = None) -> bool:
    """Stop what :func:`start_superset` started; False if it was not running."""
    return services.stop(_service(superset_env(settings or get_settings()), for_start=False))


def department_logins(settings: Settings | None = None) -> dict[str, str]:
    """Demo users (department code → password), as generated into ``var/superset``."""
    env = superset_env(settings or get_settings())
    return json.loads(env.users_file.read_text(encoding="utf-8")) if env.users_file.exists() else {}


def export_assets(settings: Settings | None = None, *, prune: bool = False, bundle: Path = BUNDLE_DIR) -> WriteBack:
    """Export every asset from Superset and write it back into the bundle
    (``infra/superset/assets``)."""
    env = superset_env(settings or get_settings())
    with tempfile.TemporaryDirectory(prefix="superset-export-") as folder:
        _run(env, ["--export", folder])
        return write_back(Path(folder), env, bundle, prune=prune)


__all__ = ["Prepared", "department_logins", "export_assets", "prepare", "start_superset", "stop_superset"]
