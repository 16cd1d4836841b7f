"""keyCRM wire JSON ⇄ canonical frames, by concern: :mod:`.orders`, :mod:`.stock`."""
