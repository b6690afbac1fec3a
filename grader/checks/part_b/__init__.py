"""Hidden checks of Part B's notebooks."""
