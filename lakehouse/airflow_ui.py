"""The Airflow UI over the demo's runs (Airflow 3's api-server on the demo's SQLite metadata DB).

Airflow 3's simple auth manager reads users from ``[core] simple_auth_manager_users`` and their
passwords from a JSON file; the admin password is the one ``make setup`` generated into
``.env`` (``AIRFLOW_ADMIN_PASSWORD``), so the login the demo prints is stable and never
committed. The api-server's JWT and session secrets come from ``.env`` as well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lakehouse import services
from lakehouse.demo import airflow_environment
from lakehouse.settings import REPO_ROOT, generated_secret

DEFAULT_PORT = 8081  # 8080 is Trino's (the SQL gateway), 8088 Superset's, 5000 MLflow's
ADMIN = "admin"
_SECRETS = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY")



def _service(home: Path, port: int) -> services.Service:
    passwords = home / "simple_auth_manager_passwords.json"
    env = {**airflow_environment(home),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
           "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
           **{name: generated_secret(name) for name in _SECRETS}}
    command = [str(Path(sys.executable).with_name("airflow")), "api-server", "--host", "127.0.0.1",
               "--port", str(port), "--workers", "1"]
    return services.Service("api-server", command, f"http://127.0.0.1:{port}/api/v2/monitor/health", home, env)


def start_airflow_ui(home: Path = REPO_ROOT / "var" / "airflow", *, port: int = DEFAULT_PORT) -> tuple[str, str, str]:
    """Start the UI on loopback over ``home``'s metadata DB; returns (url, user, password)."""
    password = generated_secret("AIRFLOW_ADMIN_PASSWORD")
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "simple_auth_manager_passwords.json"
    passwords.touch(mode=0o600)
    passwords.write_text(json.dumps({ADMIN: password}), encoding="utf-8")
    services.start(_service(home, port), timeout_s=120)
    return f"http://127.0.0.1:{port}", ADMIN, password


def stop_airflow_ui(home: Path = REPO_ROOT / "var" / "airflow") -> bool:
    return services.stop(_service(home, DEFAULT_PORT))


__all__ = ["start_airflow_ui", "stop_airflow_ui"]
