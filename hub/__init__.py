"""The hub: canonical model, integration config and the store (links, mappings, cursors, queue)."""
