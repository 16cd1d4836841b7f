"""``python -m deployments.cli``: the ``skladbridge`` command without its console script."""

from __future__ import annotations

import sys

from deployments.cli import app

sys.exit(app())
