"""exposure policies."""

POLICIES: list = []
