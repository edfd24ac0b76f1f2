"""The example's own tests: the orders service in app.py and functions/orders/.

A team replacing the example replaces these (and app.py, functions/orders/, the stack files'
overrides); everything else under tests/ is the framework's and runs on its own test services
(tests/services), so it stays green. The end-to-end tests drive the example through the
framework's per-cloud harnesses in tests/support (moto_stack, gcp_stack, azure_stack), which a
team's own end-to-end tests use the same way.
"""
