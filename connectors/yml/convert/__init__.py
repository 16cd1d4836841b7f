"""Canonical catalog frames → YML offers (:mod:`.catalog_feed`), and the YML file itself (:mod:`.yml`)."""
