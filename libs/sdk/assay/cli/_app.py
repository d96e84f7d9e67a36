"""The `assay` command: its global options, its commands, and how it exits."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from importlib.metadata import version
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from assay.cli._completion import completion
from assay.cli._events import events
from assay.cli._login import login, logout
from assay.cli._namespace import namespace
from assay.cli._perm import perm
from assay.cli._schedule import schedule
from assay.cli._settings import (
    EXIT_USAGE,
    ApiKeyFileOption,
    ApiKeyOption,
    ApiUrlOption,
    GlobalOptions,
    NamespaceOption,
    OutputOption,
)
from assay.cli._status import status
from assay.cli._up import up
from assay.cli._workers import queue, worker
from assay.cli._workflow import workflow

#: The exit code Typer gives usage errors (bad option, missing argument, unknown command).
_TYPER_USAGE_EXIT_CODE = 2


class _Commands(TyperGroup):
    """Usage errors exit with 64 (EX_USAGE), so scripts can tell them from a failed command and
    keep 2 for a wait that timed out."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _usage_exit_code():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _usage_exit_code():
            return super().invoke(ctx)


@contextlib.contextmanager
def _usage_exit_code() -> Iterator[None]:
    try:
        yield
    except typer.TyperException as exc:
        if exc.exit_code == _TYPER_USAGE_EXIT_CODE:
            exc.exit_code = EXIT_USAGE
        raise


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"assay {version('assay-sdk')}")
        raise typer.Exit()


app = typer.Typer(
    name="assay",
    cls=_Commands,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Assay: durable workflows, identity, permissions and secrets on one self-hosted platform.",
    epilog="Exit codes: 0 success, 1 error, 2 a wait timed out, 3 a permission check denied, 64 usage error.",
)
app.command("up")(up)
app.command("status")(status)
app.command("login")(login)
app.command("logout")(logout)
app.add_typer(events)
app.add_typer(workflow)
app.add_typer(schedule)
app.add_typer(namespace)
app.add_typer(worker)
app.add_typer(queue)
app.add_typer(perm)
app.command("completion")(completion)


@app.callback()
def _global_options(
    ctx: typer.Context,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
    namespace: NamespaceOption = None,
    api_key: ApiKeyOption = None,
    api_key_file: ApiKeyFileOption = None,
    show_version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="Print the version and exit."),
    ] = False,
) -> None:
    ctx.obj = GlobalOptions(api_url, output, namespace, api_key, api_key_file)


def main() -> None:
    """Run the `assay` command line with `sys.argv` (the `assay` console script)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()
