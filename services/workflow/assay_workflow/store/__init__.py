"""The workflow service's own tables and their migrations."""
