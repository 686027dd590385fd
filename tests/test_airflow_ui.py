"""The Airflow UI the demo leaves running: up, behind the generated login, stopped cleanly."""

from __future__ import annotations

import socket

import httpx
import pytest

from lakehouse import airflow_ui
from lakehouse.demo import prepare_airflow
from lakehouse.settings import generated_secret


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_airflow_ui_serves_the_demo_runs_behind_the_generated_login(tmp_path, monkeypatch):
    home = tmp_path / "airflow"
    prepare_airflow(home)
    port = _free_port()
    monkeypatch.setattr(airflow_ui, "DEFAULT_PORT", port)  # stop() finds the same service
    url, user, password = airflow_ui.start_airflow_ui(home, port=port)
    try:
        assert password == generated_secret("AIRFLOW_ADMIN_PASSWORD") and len(password) >= 32
        refused = httpx.post(f"{url}/auth/token", json={"username": user, "password": "not-it"}, timeout=30)
        assert refused.status_code in (401, 403)
        token = httpx.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=30)
        assert token.status_code in (200, 201), token.text
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        dags = httpx.get(f"{url}/api/v2/dags", headers=headers, timeout=30)
        assert dags.status_code == 200 and "dags" in dags.json()
        assert httpx.get(f"{url}/api/v2/dags", timeout=30).status_code == 401
    finally:
        assert airflow_ui.stop_airflow_ui(home)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/api/v2/monitor/health", timeout=2)
