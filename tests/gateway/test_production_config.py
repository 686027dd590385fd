"""What the gateway shares with the production Trino configuration in ``infra/trino/``: the
lake catalog (its name and connector), and the access control files it enforces. (Every
property's name, value and mount is checked by ``tests/infra/test_trino_config.py``.)"""

from __future__ import annotations

from pathlib import Path

from lakehouse.gateway import lake_catalog_name, load_rules
from lakehouse.settings import REPO_ROOT

TRINO = REPO_ROOT / "infra" / "trino"
ETC = TRINO / "etc"


def properties(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path}:{number}: not key=value"
        assert key.strip() not in values, f"{path}:{number}: {key} set twice"
        values[key.strip()] = value.strip()
    return values


def test_the_lake_catalog_is_delta_lake_on_a_hive_metastore_and_s3():
    lake = properties(ETC / "catalog" / "lake.properties")
    assert lake["connector.name"] == "delta_lake"
    assert lake["hive.metastore.uri"].startswith("thrift://")
    assert lake["fs.native-s3.enabled"] == "true" and lake["s3.path-style-access"] == "true"
    assert lake["s3.endpoint"].startswith("${ENV:")
    assert lake["delta.register-table-procedure.enabled"] == "true"


def test_the_catalog_name_is_the_one_the_rules_and_dbt_use():
    from lakehouse.codegen.trino_rules import LAKE_CATALOG

    assert lake_catalog_name(ETC) == LAKE_CATALOG
    assert "{{ env_var('IOC_TRINO_CATALOG', '" + LAKE_CATALOG + "') }}" in \
        (REPO_ROOT / "dbt_project" / "profiles.yml").read_text(encoding="utf-8")


def test_access_control_is_the_generated_file_the_gateway_enforces():
    access = properties(ETC / "access-control.properties")
    assert access["access-control.name"] == "file"
    assert Path(access["security.config-file"]).name == "rules.json" and (ETC / "rules.json").exists()
    groups = properties(ETC / "group-provider.properties")
    assert groups["group-provider.name"] == "file" and Path(groups["file.group-file"]).name == "group.txt"
    assert load_rules(ETC / "rules.json", ETC / "group.txt").tables
