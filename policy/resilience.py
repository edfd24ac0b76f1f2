"""resilience policies."""

POLICIES: list = []
