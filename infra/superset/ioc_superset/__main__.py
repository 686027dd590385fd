"""``python -m ioc_superset``: see :mod:`ioc_superset.setup`."""

import sys

from ioc_superset.setup import main

sys.exit(main())
