"""The rules of the workflow engine, free of HTTP and SQL."""
