"""The `assay` command line: `assay up`, `assay status`, `assay events tail`.

`app` is the Typer application (embed or test it); `main` runs it as the console script does.
"""

from assay.cli._app import app, main

__all__ = ["app", "main"]
