"""A real S3 endpoint for the production code path: moto's server, over HTTP on loopback.

No S3 server (MinIO, SeaweedFS…) is installable on these machines; moto's server mode speaks
the S3 REST API, including conditional writes (``If-None-Match``) that delta-rs commits with.
It runs in its own process, not as moto's ``ThreadedMotoServer``: delta-rs' pyarrow file
system handler holds the GIL while it waits on a request, so a server thread in the same
interpreter would never answer it (a listing timed out after 180 s that way).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from lakehouse.settings import Settings, get_settings, reset_settings_cache

REGION = "us-east-1"
# moto accepts any credentials; these are test placeholders, not secrets.
ACCESS_KEY = "ioc-test-access-key"
SECRET_KEY = "ioc-test-secret-key"


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION)

    def storage_options(self) -> dict[str, str]:
        """What an operator puts in IOC_STORAGE_OPTIONS for MinIO, pointed at this server.
        No AWS_S3_ALLOW_UNSAFE_RENAME: delta-rs commits with conditional puts."""
        return {"AWS_ENDPOINT_URL": self.endpoint, "AWS_ACCESS_KEY_ID": ACCESS_KEY,
                "AWS_SECRET_ACCESS_KEY": SECRET_KEY, "AWS_REGION": REGION, "AWS_ALLOW_HTTP": "true"}

    def new_bucket(self) -> str:
        name = f"ioc-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        found: list[str] = []
        for page in self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            found += [o["Key"] for o in page.get("Contents", [])]
        return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    port = _free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{endpoint}/moto-api/", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto server did not start: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield S3Server(endpoint)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def s3_lake(s3_server: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """Production storage through settings alone: the lake on ``s3://<new bucket>/lake``;
    landing zone, warehouse file and GX project stay local folders, as they do in infra/."""
    bucket = s3_server.new_bucket()
    env = {
        "IOC_MODE": "production",
        "IOC_LAKE_ROOT": f"s3://{bucket}/lake",
        "IOC_STORAGE_OPTIONS": json.dumps(s3_server.storage_options()),
        "IOC_LANDING_ROOT": str(tmp_path / "landing"),
        "IOC_WAREHOUSE_PATH": str(tmp_path / "warehouse" / "ioc.duckdb"),
        "IOC_GX_ROOT": str(tmp_path / "gx"),
        "IOC_PII_SALT": "test-salt-not-a-secret",
        "IOC_MQTT_URL": "", "IOC_POSTGRES_URL": "", "IOC_MYSQL_URL": "",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    yield get_settings()
    reset_settings_cache()
