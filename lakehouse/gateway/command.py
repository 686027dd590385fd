"""``ioc serve-sql``: run the SQL gateway in the foreground until Ctrl-C / SIGTERM.

Kept here (not in ``lakehouse.cli``) so the CLI module only registers the command.
"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from lakehouse.gateway.server import SqlGateway


def serve_sql(console: Console, *, host: str | None = None, port: int | None = None,
              password_file: Path | None = None) -> None:
    """Start the gateway, tell the user how to connect, serve until a signal, stop cleanly."""
    gateway = SqlGateway(host=host, port=port, password_file=password_file)
    gateway.start()
    auth = "password file " + str(gateway.passwords.path) if gateway.passwords else "no password (loopback)"
    console.print(f"[green]✓[/] SQL gateway on [bold]{gateway.url}[/] — catalog [bold]{gateway.catalog}[/], "
                  f"rules {gateway.rules_file}, {auth}; audit → ops.query_audit")
    host_port = gateway.url.split("://", 1)[1]
    console.print(f"  python:     trino.dbapi.connect(host=..., port={host_port.rsplit(':', 1)[1]}, user='ha_long', "
                  f"catalog='{gateway.catalog}', schema='gold')")
    console.print(f"  SQLAlchemy: trino://ha_long@{host_port}/{gateway.catalog}/gold   (Superset, dbt-trino likewise)")
    console.print(f"  CLI:        trino --server {gateway.url} --user ha_long --catalog {gateway.catalog} --schema gold")
    console.print("Ctrl-C stops (running queries are ended and audited first).")
    try:
        gateway.wait()
    finally:
        gateway.stop()
        console.print("SQL gateway stopped; audit committed.")


__all__ = ["serve_sql"]
