"""What ``lakehouse.superset`` asks of Superset, done inside one Superset app context.

Starting a Python process that imports Superset costs ~10 s here, so one invocation does
every step the platform needs before (or instead of) serving:

* ``migrate`` — ``db upgrade`` + ``init`` (permissions, built-in roles) + the admin user,
  whose password comes from the environment (generated into ``.env``, never committed);
* ``import DIR`` — an *unzipped, already rendered* asset bundle, through Superset's
  ``ImportAssetsCommand`` (the import API's command: overwrites, links by UUID);
* ``export DIR`` — every database, dataset, chart and dashboard (``ExportAssetsCommand``);
* ``access SPEC.json`` — department roles, their dataset access, row-level security filters
  and demo users, exactly as the spec says (computed from the contracts by the platform).

Usage: ``python -m ioc_superset [--migrate] [--import DIR] [--access SPEC] [--export DIR]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

log = logging.getLogger("ioc_superset")
ROLE_PREFIX = "Dept "  # roles this module manages (one per department); others are left alone
RLS_PREFIX = "IOC "  # RLS filters this module manages


def migrate(admin_user: str, admin_password: str) -> None:
    """``superset db upgrade`` + ``superset init`` + create/refresh the admin user."""
    from flask_migrate import upgrade
    from superset import appbuilder, security_manager

    upgrade()
    appbuilder.add_permissions(update_perms=True)
    security_manager.sync_role_definitions()
    admin_role = security_manager.find_role("Admin")
    user = security_manager.find_user(username=admin_user)
    if user is None:
        security_manager.add_user(admin_user, "IOC", "Admin", f"{admin_user}@ioc.local", admin_role,
                                  password=admin_password)
    else:
        user.password = _hash(admin_password)
        user.roles = [admin_role]
        user.active = True
        security_manager.update_user(user)


def _hash(password: str) -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash(password)


def read_bundle(directory: Path) -> dict[str, str]:
    """Every YAML file of an unzipped bundle, keyed by its path inside the bundle."""
    return {str(p.relative_to(directory)): p.read_text(encoding="utf-8")
            for p in sorted(directory.rglob("*.yaml"))}


def import_bundle(directory: Path) -> dict[str, int]:
    """Import (overwrite) the bundle; returns how many of each asset kind it held."""
    from superset.commands.importers.v1.assets import ImportAssetsCommand

    contents = read_bundle(directory)
    ImportAssetsCommand(contents).run()
    link_deck_layers()
    kinds: dict[str, int] = {}
    for name in contents:
        kind = name.split("/", 1)[0]
        if kind != "metadata.yaml":
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def link_deck_layers() -> int:
    """Point multi-layer maps at their layer charts' ids.

    ``deck_multi`` stores its layers as chart *ids* (``deck_slices``), which differ on every
    installation, and the importer does not remap them. The bundle also names the layers by
    UUID (``deck_slice_uuids``, kept by Superset in the chart's params); this resolves them.
    """
    from superset import db
    from superset.models.slice import Slice

    ids = {str(s.uuid): s.id for s in db.session.query(Slice).all()}
    linked = 0
    for chart in db.session.query(Slice).filter(Slice.viz_type == "deck_multi").all():
        params = json.loads(chart.params or "{}")
        uuids = params.get("deck_slice_uuids")
        if not uuids:
            continue
        missing = [u for u in uuids if u not in ids]
        if missing:
            raise KeyError(f"{chart.slice_name}: layer charts {missing} are not in Superset")
        params["deck_slices"] = [ids[u] for u in uuids]
        chart.params = json.dumps(params)
        linked += 1
    return linked


def export_bundle(directory: Path) -> int:
    """Write every asset Superset holds as an unzipped bundle under ``directory``."""
    from superset.commands.export.assets import ExportAssetsCommand

    count = 0
    for name, content in ExportAssetsCommand().run():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content(), encoding="utf-8")
        count += 1
    return count


def apply_access(spec: dict[str, Any]) -> dict[str, int]:
    """Make the managed roles, RLS filters and users exactly what ``spec`` says.

    ``spec``: ``{"roles": [{"name", "datasets": [uuid...], "rls": [{"dataset": uuid,
    "clause"}]}], "users": [{"username", "first_name", "last_name", "email", "role",
    "password"}]}``. Each role gets Gamma's view permissions (dashboards, charts, explore)
    plus ``datasource_access`` on its datasets only.
    """
    from superset import db, security_manager
    from superset.connectors.sqla.models import RowLevelSecurityFilter, SqlaTable
    from superset.utils.core import RowLevelSecurityFilterType

    datasets = {str(t.uuid): t for t in db.session.query(SqlaTable).all()}
    gamma = security_manager.find_role("Gamma")
    wanted = {ROLE_PREFIX + r["name"]: r for r in spec["roles"]}

    roles = {}
    for name, role_spec in wanted.items():
        role = security_manager.find_role(name) or security_manager.add_role(name)
        permissions = list(gamma.permissions)
        for uuid in role_spec["datasets"]:
            dataset = datasets.get(uuid)
            if dataset is None:
                raise KeyError(f"role {name}: no dataset {uuid} in Superset (import the bundle first)")
            pv = security_manager.add_permission_view_menu("datasource_access", dataset.perm)
            permissions.append(pv)
        role.permissions = list(dict.fromkeys(permissions))
        roles[name] = role
    for role in db.session.query(security_manager.role_model).all():
        if role.name.startswith(ROLE_PREFIX) and role.name not in wanted:
            db.session.delete(role)

    # Row-level security: one Regular filter per (role, dataset), named for both.
    existing = {f.name: f for f in db.session.query(RowLevelSecurityFilter).all()
                if f.name.startswith(RLS_PREFIX)}
    keep = set()
    for name, role_spec in wanted.items():
        for rule in role_spec.get("rls", []):
            dataset = datasets[rule["dataset"]]
            filter_name = f"{RLS_PREFIX}{role_spec['name']}: {dataset.schema}.{dataset.table_name}"
            rls = existing.get(filter_name) or RowLevelSecurityFilter(name=filter_name)
            rls.filter_type = RowLevelSecurityFilterType.REGULAR.value
            rls.clause = rule["clause"]
            rls.description = rule.get("description", "")
            rls.roles = [roles[name]]
            rls.tables = [dataset]
            db.session.add(rls)
            keep.add(filter_name)
    for filter_name, rls in existing.items():
        if filter_name not in keep:
            db.session.delete(rls)

    for user_spec in spec.get("users", []):
        role = roles[ROLE_PREFIX + user_spec["role"]]
        user = security_manager.find_user(username=user_spec["username"])
        if user is None:
            security_manager.add_user(user_spec["username"], user_spec["first_name"], user_spec["last_name"],
                                      user_spec["email"], role, password=user_spec["password"])
        else:
            user.roles = [role]
            user.password = _hash(user_spec["password"])
            user.active = True
            user.first_name, user.last_name = user_spec["first_name"], user_spec["last_name"]
            security_manager.update_user(user)
    db.session.commit()
    return {"roles": len(wanted), "rls_filters": len(keep), "users": len(spec.get("users", []))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ioc_superset", description=__doc__.split("\n")[0])
    parser.add_argument("--migrate", action="store_true", help="db upgrade + init + admin user")
    parser.add_argument("--import", dest="bundle", type=Path, help="import this rendered, unzipped bundle")
    parser.add_argument("--access", type=Path, help="apply this roles/RLS/users spec (JSON)")
    parser.add_argument("--export", type=Path, help="export every asset into this folder")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from superset.app import create_app

    app = create_app()
    with app.app_context():
        from superset import db
        from superset.utils.core import override_user

        if args.migrate:
            migrate(os.environ.get("IOC_SUPERSET_ADMIN_USER", "admin"), os.environ["IOC_SUPERSET_ADMIN_PASSWORD"])
            print("migrated; admin ready", flush=True)
        admin = None
        if args.bundle or args.export:
            from superset import security_manager

            admin = security_manager.find_user(username=os.environ.get("IOC_SUPERSET_ADMIN_USER", "admin"))
        if args.bundle:
            with override_user(admin):
                kinds = import_bundle(args.bundle)
            db.session.commit()
            print(f"imported {json.dumps(kinds, sort_keys=True)}", flush=True)
        if args.access:
            counts = apply_access(json.loads(args.access.read_text(encoding="utf-8")))
            print(f"access {json.dumps(counts, sort_keys=True)}", flush=True)
        if args.export:
            with override_user(admin):
                count = export_bundle(args.export)
            print(f"exported {count} files", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
