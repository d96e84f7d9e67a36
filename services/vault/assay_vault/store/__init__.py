"""The vault service's own tables and their migrations."""
