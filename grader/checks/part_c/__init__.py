"""Hidden checks of Part C's notebooks."""
