"""Horoshop wire JSON ⇄ canonical frames, by concern."""
