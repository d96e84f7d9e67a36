"""The auth service's own tables and their migrations."""
