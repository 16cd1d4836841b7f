"""keyCRM's capabilities by concern: :mod:`.stock` (stock writes), :mod:`.orders` (orders and statuses)."""
