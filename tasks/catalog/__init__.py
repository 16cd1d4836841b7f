"""The catalog exchanges' steps (full import, catalog feed): read the source's catalog into the hub, write
the feed, queue the stock and prices that changed."""
