#!/usr/bin/env bash
# Generate the platform's secrets into an env file (default .env), keeping any already there.
# Idempotent: re-running never rotates a secret that exists (PII hashes must stay joinable).
set -euo pipefail
file="${1:-.env}"
touch "$file"
chmod 600 "$file"
add() {
  local key="$1"
  grep -q "^${key}=" "$file" || printf '%s=%s\n' "$key" "$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" >> "$file"
}
add IOC_PII_SALT
add SUPERSET_SECRET_KEY
add SUPERSET_ADMIN_PASSWORD
add AIRFLOW__API_AUTH__JWT_SECRET
add AIRFLOW__API__SECRET_KEY
add AIRFLOW_ADMIN_PASSWORD
echo "secrets ready in $file"
