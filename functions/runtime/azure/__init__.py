"""The Azure adapter: `durable` is the generic Durable Functions orchestrator for compiled workflows."""
