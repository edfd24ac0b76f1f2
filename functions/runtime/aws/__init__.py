"""The AWS adapter: the one place in functions/ that names AWS, boto3 or Powertools.

- `entry`: the Lambda entrypoint of every function (``runtime.aws.entry.handler``), which runs
  the portable handler named by ``ANYCLOUD_HANDLER`` for HTTP API 2.0 events, SQS batches and
  workflow tasks.
- `events`: Lambda event shapes to and from the portable `Request`/`Response`.
- `resources`: `Table`, `Queue`, `Workflow` and `Secret` over DynamoDB, SQS, Step Functions and
  Secrets Manager, and the `Context` built from the ``ANYCLOUD_*`` wiring.
- `idempotency`: Powertools idempotency on the ``idempotency`` table, for routes and consumers.

Nothing is imported here: importing the package stays free.
"""
