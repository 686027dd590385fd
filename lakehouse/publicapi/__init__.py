"""The public side of the lake for citizens: a read-only Open311 GeoReport v2 API over gold.

A citizen who reported a broken streetlight sees its latest status, the notes and the agency
handling it; nobody sees anyone's personal data (the served fields are derived from the
contract, see :mod:`lakehouse.publicapi.fields`). The same server publishes the open-data
export (:mod:`lakehouse.opendata`) under ``/opendata/``. Run it with
``python -m lakehouse.publicapi`` or ``ioc public serve``.
"""

from lakehouse.publicapi.app import create_app
from lakehouse.publicapi.fields import served_fields, withheld_columns
from lakehouse.publicapi.server import server_url, start_server, stop_server

__all__ = ["create_app", "served_fields", "server_url", "start_server", "stop_server", "withheld_columns"]
