"""Hidden checks of Part A's notebooks."""
