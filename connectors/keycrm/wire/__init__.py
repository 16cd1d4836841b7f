"""keyCRM's wire conventions, read by the client and the sandbox alike."""
