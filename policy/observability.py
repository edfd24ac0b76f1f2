"""observability policies."""

POLICIES: list = []
