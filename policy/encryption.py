"""encryption policies."""

POLICIES: list = []
