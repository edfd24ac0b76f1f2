"""The GCP adapter: the one place in functions/ that names GCP or its client libraries.

- `entry`: `handle`, the functions-framework target of every function (``main.py`` at the
  source root re-exports it): routes, Pub/Sub push consumers and workflow tasks.
- `events`: what API Gateway, Pub/Sub push and Workflows send, as the portable contracts.
- `firestore`: `Table` over Firestore (one database per table, documents in the collection
  named after the table), and the tables of a function built from the ``ANYCLOUD_*`` wiring.
- `messaging`: queues and workflow starts on Pub/Sub, secrets on Secret Manager.

Nothing is imported here: importing the package stays free.
"""
