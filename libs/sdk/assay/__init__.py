"""Assay's Python SDK and the `assay` command line.

- `assay.client`: the HTTP API through the gateway (health, workflows, the live event stream),
  async (`AssayClient`) or blocking (`SyncAssayClient`).
- `assay.workflow`: writing durable workflows and their activities.
- `assay.worker`: running them: workers that poll the engine for workflow and activity tasks.
- `assay.events`: durable subscriptions to Assay's events on NATS JetStream, with typed payloads.
- `assay.local`: the whole platform on one machine, as `assay up` runs it.
- `assay.cli`: the `assay` command line.
"""
