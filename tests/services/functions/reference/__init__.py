"""Handlers of the reference test service (tests/services/reference.py): the example's shape,
small and frozen, written against functions/runtime's contracts only."""
