"""``skladbridge demo``: the full import on the bundled sandboxes, no account and no network needed.

Starts a MoySklad sandbox with a generated catalog, a retailCRM sandbox whose site loads its catalog
from our feed URL (as the real CRM does), and the feed server, all on loopback sockets (the world of
:func:`.world.open_world`, shared with ``sandbox serve --world demo``); writes the
demo config from ``examples/demo.yaml``; runs the full import twice (the second run shows that
nothing unchanged is written again), then times a stock change through the webhook path
(:mod:`.stock_trip`) and an order from the shop's site to MoySklad and its state back
(:mod:`.order_trip`), and prints what happened.
"""

from __future__ import annotations

from deployments.demo.run import DemoError, run_demo
from deployments.demo.world import DEMO_INTEGRATION, EXAMPLES, MS_LOGIN, DemoWorld, demo_world

__all__ = ["DEMO_INTEGRATION", "EXAMPLES", "MS_LOGIN", "DemoError", "DemoWorld", "demo_world", "run_demo"]
