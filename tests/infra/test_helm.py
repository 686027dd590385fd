"""Static validation of the Kubernetes side (no cluster here): values for the official Airflow,
Superset, Trino and Spark operator charts and the platform's manifests parse, name the same
pinned images as compose, and point at files and Secrets that exist."""

from __future__ import annotations

import re
from importlib.metadata import version

import pytest
import yaml
from infra_files import (
    COMPOSE_DIR,
    HELM_DIR,
    INFRA,
    PINNED_TAG,
    helm_documents,
    helm_images,
    services,
    split_image,
    walk,
)

CHART_ONLY_IMAGES = {"ghcr.io/kubeflow/spark-operator/controller"}  # the operator itself


def _charts() -> list[dict]:
    return yaml.safe_load((HELM_DIR / "charts.yaml").read_text(encoding="utf-8"))["releases"]


def test_every_helm_file_parses_and_every_manifest_has_a_kind():
    documents = helm_documents()
    assert len(documents) >= 10
    for path, docs in documents.items():
        assert docs, f"{path} is empty"
        if "platform" in path.parts or "spark" in path.parts:
            for doc in docs:
                if path.name != "kustomization.yaml":
                    assert {"apiVersion", "kind", "metadata"} <= set(doc), path


def test_the_official_charts_are_pinned_and_installed_with_their_values():
    install = (HELM_DIR / "install.sh").read_text(encoding="utf-8")
    releases = _charts()
    assert {r["name"] for r in releases} == {"airflow", "superset", "trino", "spark-operator"}
    for release in releases:
        assert re.fullmatch(r"\d+\.\d+\.\d+", str(release["version"])), release
        assert (HELM_DIR / release["values"]).is_file(), release
        line = next((ln for ln in install.split("helm upgrade --install")[1:]
                     if ln.strip().startswith(f"{release['name']} ")), None)
        assert line is not None, f"install.sh does not install {release['name']}"
        assert f"{release['chart']} --version {release['version']}" in line, release["name"]
        assert f'-f "$here/{release["values"]}"' in line, release["name"]


def test_install_passes_trinos_files_from_infra_trino_etc():
    install = (HELM_DIR / "install.sh").read_text(encoding="utf-8")
    files = re.findall(r'--set-file \S+="\$infra/([^"]+)"', install)
    assert {"trino/etc/catalog/lake.properties", "trino/etc/rules.json"} <= set(files)
    missing = [f for f in files if not (INFRA / f).is_file()]
    assert not missing, f"infra/trino/etc lacks what install.sh passes to the Trino chart: {missing}"


def test_images_are_pinned_and_the_same_as_compose():
    compose_images = {}
    for spec in services().values():
        repo, tag = split_image(spec["image"])
        compose_images.setdefault(repo, set()).add(tag)
    found = helm_images()
    assert {"ioc/platform", "ioc/superset", "ioc/hive-metastore", "trinodb/trino", "eclipse-mosquitto"} <= set(found)
    for repo, tags in found.items():
        assert all(t and PINNED_TAG.match(t) for t in tags), f"{repo}: unpinned {tags}"
        if repo in CHART_ONLY_IMAGES:
            continue
        assert repo in compose_images, f"{repo} is deployed on Kubernetes but not in compose"
        assert tags == compose_images[repo], f"{repo}: helm {tags} vs compose {compose_images[repo]}"


def test_kustomization_names_files_that_exist():
    kustomization = yaml.safe_load((HELM_DIR / "platform" / "kustomization.yaml").read_text(encoding="utf-8"))
    for resource in kustomization["resources"]:
        assert (HELM_DIR / "platform" / resource).is_file(), resource
    for generator in kustomization["configMapGenerator"]:
        for entry in generator["files"]:
            assert (HELM_DIR / "platform" / entry.split("=", 1)[1]).is_file(), entry
    # The broker runs the platform's own mosquitto.conf, the metastore compose's core-site.xml.
    assert any("mosquitto/mosquitto.conf" in f for g in kustomization["configMapGenerator"] for f in g["files"])


def test_airflow_values_run_airflow_3_components_on_the_platform_image():
    values = yaml.safe_load((HELM_DIR / "values" / "airflow.yaml").read_text(encoding="utf-8"))
    assert values["airflowVersion"] == version("apache-airflow")
    assert values["images"]["airflow"] == {"repository": "ioc/platform", "tag": "0.1.0", "pullPolicy": "IfNotPresent"}
    assert values["dagProcessor"]["enabled"] and values["triggerer"]["enabled"]
    assert values["executor"] == "LocalExecutor"
    assert values["postgresql"]["enabled"] is False
    assert "ioc-platform" in values["extraEnvFrom"] and "ioc-platform-secrets" in values["extraEnvFrom"]
    # The same executor and DAG folder as compose.
    compose_env = services()["airflow-scheduler"]["environment"]
    assert compose_env["AIRFLOW__CORE__EXECUTOR"] == values["executor"]
    assert values["config"]["core"]["dags_folder"] == "/opt/ioc/dags"


@pytest.mark.parametrize("name", ["forecast.yaml", "video-index.yaml"])
def test_spark_applications_run_the_jobs_on_the_clusters_spark(name):
    app = yaml.safe_load((HELM_DIR / "spark" / name).read_text(encoding="utf-8"))
    assert app["kind"] == "SparkApplication"
    assert app["spec"]["sparkVersion"] == version("pyspark")  # the image's Spark = the lock's pyspark
    script = app["spec"]["mainApplicationFile"].removeprefix("local:///opt/ioc/")
    assert (INFRA.parent / script).is_file(), script
    assert app["spec"]["image"] == services()["spark-master"]["image"]


def test_no_secret_is_written_in_helm_files():
    secretish = re.compile(r"(password|secret|fernet|salt|access.?key)$", re.IGNORECASE)
    for path, docs in helm_documents().items():
        for doc in docs:
            for _, key, value in walk(doc):
                names_a_secret = isinstance(key, str) and re.search(r"SecretName$|FromSecret$|AuthSecret$", key)
                if (isinstance(key, str) and secretish.search(key) and not names_a_secret
                        and isinstance(value, str) and value):
                    pytest.fail(f"{path}: {key} has a literal value")
    assert (COMPOSE_DIR / "generate-env.sh").is_file()
