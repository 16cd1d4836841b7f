"""The hub's web console: the seed modules' admin screens, beside the Prefect UI (not instead of it).

Server-rendered pages (Starlette, Jinja2; one small script for a short poll), served by
``skladbridge serve`` at ``/console/`` and by ``skladbridge console`` on its own:

* *Integrations* (:mod:`.integrations`): systems, their check, the Active switch (pauses and resumes
  the deployments), periods, last runs linked to the Prefect UI, starting a full import, a stock
  reconciliation or an archive backfill;
* *Queue* (:mod:`.queue`), *Journal* (:mod:`.journal`): filtered, keyset-paged, newest first, live;
* *Mappings* and *Undefined* (:mod:`.mappings`): saved values win over the file per key;
* *Links* (:mod:`.links`): search by either id, add and remove by hand.

Login, sessions, CSRF and throttling are in :mod:`.auth`; the rules every page follows in
:mod:`.shell`; the app in :mod:`.app`.
"""

from __future__ import annotations

from deployments.console.app import console_app
from deployments.console.shell import ConsoleOff, console_allowed, is_loopback

__all__ = ["ConsoleOff", "console_allowed", "console_app", "is_loopback"]
