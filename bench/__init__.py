"""Benchmarks against the bundled sandboxes (see ``bench/full_import.py``)."""
