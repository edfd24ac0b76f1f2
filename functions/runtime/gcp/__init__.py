"""The GCP adapter: the one place in functions/ that names GCP or its client libraries.

- `firestore`: `Table` over Firestore (one database per table, documents in the collection
  named after the table), and the tables of a function built from the ``ANYCLOUD_*`` wiring.

Nothing is imported here: importing the package stays free.
"""
