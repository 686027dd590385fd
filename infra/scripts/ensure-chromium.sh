#!/usr/bin/env bash
# Make sure Debian's chromium is installed: the Superset browser tests (tests/superset) and
# `ioc superset check` drive it through playwright's client. No browser is ever downloaded by
# playwright (`playwright install` is never run): this uses the distribution's package.
set -euo pipefail
for candidate in /usr/bin/chromium "$(command -v chromium 2>/dev/null || true)"; do
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then
    echo "chromium: $("$candidate" --version 2>/dev/null | head -1) ($candidate)"
    exit 0
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "chromium is missing. Install it as root:" >&2
  echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
echo "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1) (installed)"
