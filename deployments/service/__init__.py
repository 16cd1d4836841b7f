"""The long-running process of a small shop (``skladbridge serve``) and the servers it is made of.

* :mod:`.serve` — the Prefect runner with every exchange's schedule, the receivers and the polls in one
  process, and its one 10 s stop;
* :mod:`.webhooks` — the stock and order webhook receiver (secret in the path, bare 404 otherwise);
* :mod:`.order_poll` — the seconds-level poll of the channel's order history;
* :mod:`.cycle_trigger`, :mod:`.cycle_runs` — cycles started in the process, and their Prefect runs;
* :mod:`.feed_server` — the catalog feeds at a secret URL; :mod:`.http_server` — the hardened uvicorn
  set-up every one of these servers shares.
"""
