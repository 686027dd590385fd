"""``ioc superset ...``: run Superset and keep its dashboards as code."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from lakehouse.settings import get_settings

app = typer.Typer(help="Superset: dashboards and the digital map over gold (assets in infra/superset).",
                  no_args_is_help=True)
console = Console(width=None if sys.stdout.isatty() else 160)


@app.command("start")
def start(setup: Annotated[bool, typer.Option(help="Prepare first: serving views, DB, assets, roles")] = True) -> None:
    """Prepare and serve Superset in the background; prints the URL and the admin login."""
    from lakehouse.superset import start_superset

    url, user, password = start_superset(get_settings(), setup=setup)
    console.print(f"[green]✓[/] Superset at {url}  (login {user} / {password})")


@app.command("stop")
def stop() -> None:
    """Stop the background Superset."""
    from lakehouse.superset import stop_superset

    console.print("stopped" if stop_superset(get_settings()) else "Superset was not running")


@app.command("import")
def import_assets() -> None:
    """Rebuild the serving views and import infra/superset/assets (overwrites) into Superset."""
    from lakehouse.superset import prepare

    for line in prepare(get_settings(), migrate=True, roles=False).report:
        console.print(line, markup=False)


@app.command("roles")
def roles() -> None:
    """Generate department roles, row-level security and demo users from the contracts."""
    from lakehouse.superset import department_logins, prepare

    settings = get_settings()
    for line in prepare(settings, migrate=False, assets=False).report:
        console.print(line, markup=False)
    table = Table("user (department)", "password", title="Department demo users (generated, var/superset)")
    for code, password in department_logins(settings).items():
        table.add_row(code, password)
    console.print(table)


@app.command("export")
def export(prune: Annotated[bool, typer.Option(help="Also delete bundle files whose asset is gone")] = False) -> None:
    """Write what Superset holds (edited in the UI) back into infra/superset/assets."""
    from lakehouse.superset import export_assets

    result = export_assets(get_settings(), prune=prune)
    for name in result.written:
        console.print(f"[green]written[/] {name}")
    for name in result.missing:
        console.print(f"[yellow]{'removed' if name in result.removed else 'not in Superset'}[/] {name}")
    console.print(f"{len(result.written)} written, {result.unchanged} unchanged, "
                  f"{len(result.kept_templated)} database file(s) kept templated")


@app.command("check")
def check(
    out: Annotated[Path, typer.Option(help="Screenshots folder")] = Path("var/superset/screenshots"),
    user: Annotated[str | None, typer.Option(help="Log in as (default: admin)")] = None,
) -> None:
    """Open every dashboard in headless chromium; fail if a chart errors or is empty."""
    from lakehouse.superset.browser import check_dashboards, dashboard_slugs
    from lakehouse.superset.bundle import bundle_files
    from lakehouse.superset.env import ADMIN_USER, superset_env
    from lakehouse.superset.server import department_logins

    settings = get_settings()
    env = superset_env(settings)
    user = user or ADMIN_USER
    password = env.admin_password if user == ADMIN_USER else department_logins(settings)[user]
    checks = check_dashboards(env.url, user, password, dashboard_slugs(bundle_files()), out)
    table = Table("dashboard", "charts", "seconds", "problems")
    for c in checks:
        table.add_row(c.slug, str(len(c.charts)), f"{c.seconds:.1f}",
                      "; ".join(f"{f.name}: {f.state} {f.detail}" for f in c.failures) or "[green]none[/]")
    console.print(table)
    console.print(f"screenshots in {out}")
    if any(c.failures for c in checks):
        raise typer.Exit(1)
