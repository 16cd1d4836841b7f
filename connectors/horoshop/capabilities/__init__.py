"""What a Horoshop shop does for the hub, by concern."""
