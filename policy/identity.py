"""identity policies."""

POLICIES: list = []
