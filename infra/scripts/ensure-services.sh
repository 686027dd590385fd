#!/usr/bin/env bash
# Start the local services the test suite talks to, where they are installed but not running.
# On this project's machines they are started before each session; this makes CI and a
# developer's laptop independent of that. Never fails by itself: the tests that need a
# service fail with a clear message if it still cannot be reached.
set -u
up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
if ! up 5432 && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! up 3306 && [ -x /usr/sbin/mariadbd ]; then
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
if ! up 1883 && command -v mosquitto >/dev/null; then
  mosquitto -d -c /etc/mosquitto/mosquitto.conf || true
fi
for port in 5432 3306 1883; do
  for _ in $(seq 1 30); do up "$port" && break; sleep 0.5; done
  up "$port" && echo "service on :$port is up" || echo "service on :$port is NOT reachable"
done
