"""The `assay` command line: `assay up`, `status`, `events tail`, `workflow …`, `namespace …`,
`worker list`, `queue stats` and `completion`.

`app` is the Typer application (embed or test it); `main` runs it as the console script does.
"""

from assay.cli._app import app, main

__all__ = ["app", "main"]
