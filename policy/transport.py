"""transport policies."""

POLICIES: list = []
