"""Superset for the IOC: dashboards and the digital map over gold, as code.

Public API (platform side; Superset itself runs in ``.venv-superset``):

* :func:`start_superset` / :func:`stop_superset` — serve it in the background (``make demo``);
* :func:`prepare` — serving views, metadata DB, admin, asset bundle, roles (no server);
* :func:`export_assets` — write what Superset holds back into ``infra/superset/assets``;
* :func:`department_logins` — the generated demo users, one per department.

See ``infra/superset/`` for the configuration, the Superset-side code and the bundle.
"""

from lakehouse.superset.env import SupersetEnv, superset_env
from lakehouse.superset.server import (
    Prepared,
    department_logins,
    export_assets,
    prepare,
    start_superset,
    stop_superset,
)

__all__ = ["Prepared", "SupersetEnv", "department_logins", "export_assets", "prepare", "start_superset",
           "stop_superset", "superset_env"]
