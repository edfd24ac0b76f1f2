"""The source's ``main.py`` on Cloud Functions (the GCP renderer puts it at the source root):
functions-framework serves ``handle`` for every anycloud function."""

from runtime.gcp.entry import handle  # noqa: F401
