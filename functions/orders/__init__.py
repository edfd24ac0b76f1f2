"""The example orders service: HTTP routes (api), the queue consumer (consumer) and the
fulfil-order workflow's tasks (tasks), written against functions/runtime's contracts only."""
