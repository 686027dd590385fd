"""Camera thumbnails for dashboards: ``GET /ioc/thumbnails/<path>`` (logged-in users only).

Superset charts cannot read files, and the video index stores each track's and event's
thumbnail as a JPEG under the lake (``{lake}/objects/thumbnails/video/...``). This blueprint
serves that one folder read-only, so a table chart renders ``<img src="/ioc/thumbnails/...">``
from a dataset column — no copy into a web root, no second server, same login and CSP origin
as Superset itself. ``send_from_directory`` refuses paths outside the folder.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, send_from_directory
from flask_login import current_user

URL_PREFIX = "/ioc/thumbnails"


def thumbnails_blueprint(root: str | None) -> Blueprint:
    blueprint = Blueprint("ioc_thumbnails", __name__, url_prefix=URL_PREFIX)

    @blueprint.route("/<path:name>")
    def thumbnail(name: str):
        if not current_user or not current_user.is_authenticated:
            abort(401)
        if not root or not name.lower().endswith((".jpg", ".jpeg", ".png")):
            abort(404)
        response = send_from_directory(Path(root), name, max_age=3600)
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return blueprint


__all__ = ["URL_PREFIX", "thumbnails_blueprint"]
