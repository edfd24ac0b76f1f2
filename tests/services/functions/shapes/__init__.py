"""Handlers of the shaped test services (tests/services/shapes.py), one module per service."""
