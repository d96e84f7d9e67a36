"""A release pipeline with a human review step, driven by signals and shown by a query."""
