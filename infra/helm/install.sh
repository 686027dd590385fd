#!/usr/bin/env bash
# Install (or upgrade) the IOC platform on a Kubernetes cluster: the official charts pinned
# in charts.yaml with values/*.yaml, and the platform's own manifests (platform/). Run from
# anywhere; needs helm >= 3.14, kubectl, and the images pushed where the cluster pulls from
# (infra/README.md, "Kubernetes"). Secrets must exist first (render_secrets.py).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
infra="$(dirname "$here")"
ns="${IOC_NAMESPACE:-ioc}"

helm repo add apache-airflow https://airflow.apache.org --force-update
helm repo add superset https://apache.github.io/superset --force-update
helm repo add trino https://trinodb.github.io/charts --force-update
helm repo add spark-operator https://kubeflow.github.io/spark-operator --force-update
helm repo update

kubectl apply -k "$here/platform"

# Trino's TLS key and password file for the platform's users: generated with the platform
# image from the same .env (never committed), once; department users are added to the
# same file with `python -m lakehouse.gateway.auth USER --password-file password.db`.
if ! kubectl -n "$ns" get secret ioc-trino-passwords >/dev/null 2>&1; then
  tmp="$(mktemp -d)"
  set -a; . "$here/.env"; set +a
  docker run --rm -u 0 -e TRINO_DBT_PASSWORD -e TRINO_SUPERSET_PASSWORD -e TRINO_UID_GID="$(id -u):$(id -g)" \
    -v "$tmp:/secrets" ioc/platform:0.1.0 python /opt/ioc/infra/compose/trino_secrets.py /secrets
  kubectl -n "$ns" create secret generic ioc-trino-passwords --from-file=password.db="$tmp/passwords/password.db"
  kubectl -n "$ns" create secret generic ioc-trino-tls --from-file=coordinator.pem="$tmp/tls/coordinator.pem"
  rm -rf "$tmp"
fi

helm upgrade --install spark-operator spark-operator/spark-operator --version 2.3.0 \
  --namespace spark-operator --create-namespace -f "$here/values/spark-operator.yaml" --wait

# Trino's catalog and access rules come from infra/trino/etc (the Trino issue's files), not
# from a copy in the values.
helm upgrade --install trino trino/trino --version 1.40.0 --namespace "$ns" \
  -f "$here/values/trino.yaml" \
  --set-file catalogs.lake="$infra/trino/etc/catalog/lake.properties" \
  --set-file 'accessControl.rules.rules\.json'="$infra/trino/etc/rules.json" --wait

helm upgrade --install airflow apache-airflow/airflow --version 1.22.0 --namespace "$ns" \
  -f "$here/values/airflow.yaml" --wait --timeout 15m

helm upgrade --install superset superset/superset --version 0.15.1 --namespace "$ns" \
  -f "$here/values/superset.yaml" --wait --timeout 15m

echo "IOC platform installed in namespace $ns: kubectl -n $ns get pods"
