import re
import subprocess

import polars as pl
import pytest

from lakehouse.pipeline.pii import protect
from lakehouse.settings import REPO_ROOT, Mode, Settings


def test_env_example_documents_every_setting():
    documented = set(re.findall(r"^IOC_([A-Z_]+)=", (REPO_ROOT / ".env.example").read_text(encoding="utf-8"), re.MULTILINE))
    assert {name.upper() for name in Settings.model_fields} == documented


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("IOC_MODE", "production")
    monkeypatch.setenv("IOC_LAKE_ROOT", "s3://ioc-lake/prod")
    monkeypatch.setenv("IOC_STORAGE_OPTIONS", '{"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}')
    settings = Settings(_env_file=None)
    assert settings.mode is Mode.production
    assert not settings.is_local_lake
    assert settings.storage_options == {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}


def test_secrets_are_generated_once_and_never_rotated(tmp_path):
    env = tmp_path / ".env"
    script = REPO_ROOT / "infra" / "scripts" / "generate-secrets.sh"
    subprocess.run(["bash", str(script), str(env)], check=True, capture_output=True)
    first = env.read_text()
    subprocess.run(["bash", str(script), str(env)], check=True, capture_output=True)
    assert env.read_text() == first  # a rotated salt would break joins on hashed ids
    values = dict(line.split("=", 1) for line in first.splitlines())
    assert {"IOC_PII_SALT", "SUPERSET_SECRET_KEY"} <= set(values)
    assert all(len(v) >= 40 for v in values.values())
    assert oct(env.stat().st_mode)[-3:] == "600"
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().splitlines()


def test_pii_without_a_salt_is_refused(catalog, monkeypatch):
    monkeypatch.delenv("IOC_PII_SALT", raising=False)
    assert Settings(_env_file=None).pii_salt.get_secret_value() == ""
    frame = pl.DataFrame({"case_id": ["1"], "citizen_id": ["001234567890"]})
    with pytest.raises(RuntimeError, match="IOC_PII_SALT is not set"):
        protect(frame, catalog["disease_surveillance"], salt="")
