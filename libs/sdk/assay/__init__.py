"""Assay's Python SDK and the `assay` command line.

- `assay.client`: the HTTP API through the gateway (health, the live event stream).
- `assay.events`: durable subscriptions to Assay's events on NATS JetStream, with typed payloads.
- `assay.local`: the whole platform on one machine, as `assay up` runs it.
- `assay.cli`: the `assay` command line.
"""
