"""The exchanges as Prefect deployments, and the Prefect a command needs.

* :mod:`.exchanges` — the table of exchanges (flow, period, fixed parameters, edges needed), read by
  ``deploy``, ``serve`` and ``--write-prefect-yaml`` alike;
* :mod:`.deploy` — registering them on a work pool (``skladbridge deploy``);
* :mod:`.prefect_env`, :mod:`.prefect_server` — Prefect's settings before it is imported, and the
  temporary or whole local server a command starts (:mod:`.die_with_parent` ties it to its parent).
"""
