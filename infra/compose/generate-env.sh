#!/usr/bin/env bash
# infra/compose/.env from env.template: every `<generate:KIND>` replaced by a fresh random
# value, every value already in .env kept (never rotates a secret). Writes 0600, git-ignored.
#   KIND = token (48 url-safe bytes) | key (20 upper-case alphanumerics, an S3 access key id)
#        | fernet (Airflow's Fernet key: 32 bytes, url-safe base64)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
template="${1:-$here/env.template}"
target="${2:-$here/.env}"
umask 077
touch "$target"
chmod 600 "$target"
python3 - "$template" "$target" <<'PY'
import base64, os, re, secrets, string, sys
template, target = sys.argv[1], sys.argv[2]
existing = {}
for line in open(target, encoding="utf-8"):
    if "=" in line and not line.lstrip().startswith("#"):
        key, _, value = line.rstrip("\n").partition("=")
        existing[key.strip()] = value
def make(kind: str) -> str:
    if kind == "token":
        return secrets.token_urlsafe(48)
    if kind == "key":
        return "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(20))
    if kind == "fernet":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    raise SystemExit(f"unknown generator {kind!r} in {template}")
out = []
for line in open(template, encoding="utf-8"):
    line = line.rstrip("\n")
    match = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", line)
    if not match:
        out.append(line)
        continue
    key, value = match.groups()
    if key in existing:
        value = existing[key]
    else:
        generated = re.fullmatch(r"<generate:(\w+)>", value)
        value = make(generated.group(1)) if generated else value
    out.append(f"{key}={value}")
with open(target, "w", encoding="utf-8") as handle:
    handle.write("\n".join(out) + "\n")
PY
echo "secrets ready in $target (mode 600, git-ignored)"
