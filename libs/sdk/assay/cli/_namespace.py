"""`assay namespace …`: create, list, describe, update and delete namespaces."""

from __future__ import annotations

from typing import Annotated, Final, Literal

import typer
from rich.text import Text

from assay.cli import _output
from assay.cli._api import ask
from assay.cli._settings import ApiUrlOption, CursorOption, OutputFormat, OutputOption, resolve
from assay.client import Namespace

namespace = typer.Typer(name="namespace", help="Create, list and delete namespaces.", no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The namespace's name.")]
#: What `--retention-days` takes besides a number of days.
DEFAULT_RETENTION: Final = "default"


@namespace.command("create")
def create(
    ctx: typer.Context,
    name: NameArgument,
    description: Annotated[str, typer.Option(metavar="TEXT", help="What the namespace is for.")] = "",
    retention_days: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="DAYS",
            show_default=False,
            help="Keep closed runs this many days, then purge them; else the service's default.",
        ),
    ] = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Create namespace NAME."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        created = ask(
            settings,
            lambda client: client.namespaces.create(name, description, retention_days=retention_days),
        )
    _show(created, settings.output)


@namespace.command("update")
def update(
    ctx: typer.Context,
    name: NameArgument,
    description: Annotated[
        str | None, typer.Option(metavar="TEXT", show_default=False, help="What the namespace is for.")
    ] = None,
    retention_days: Annotated[
        str | None,
        typer.Option(
            metavar="DAYS",
            show_default=False,
            help=f"Keep closed runs this many days, then purge them; '{DEFAULT_RETENTION}': the "
            "service's default.",
        ),
    ] = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Change the description or the retention of namespace NAME; what is not given stays."""
    retention: int | Literal["default"] | None = None
    if retention_days == DEFAULT_RETENTION:
        retention = DEFAULT_RETENTION
    elif retention_days is not None:
        if not retention_days.isdigit() or int(retention_days) < 1:
            raise typer.BadParameter(
                f"{retention_days!r} is neither a number of days nor '{DEFAULT_RETENTION}'",
                param_hint="--retention-days",
            )
        retention = int(retention_days)
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        updated = ask(
            settings,
            lambda client: client.namespaces.update(name, description=description, retention_days=retention),
        )
    _show(updated, settings.output)


@namespace.command("list")
def list_namespaces(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=500, metavar="N", help="At most N namespaces.")] = 100,
    cursor: CursorOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """List namespaces by name."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        page = ask(settings, lambda client: client.namespaces.list(limit=limit, cursor=cursor))
    if settings.output is OutputFormat.table:
        _output.table(
            ["NAME", "DESCRIPTION", "CREATED"],
            [[n.name, n.description, _output.timestamp(n.created_at)] for n in page.items],
        )
        if page.next_cursor:
            _output.err.print(Text(f"More: --cursor {page.next_cursor}"))
    else:
        _output.collection(
            [n.model_dump(mode="json") for n in page.items], settings.output, page.model_dump(mode="json")
        )


@namespace.command("describe")
def describe(
    ctx: typer.Context, name: NameArgument, api_url: ApiUrlOption = None, output: OutputOption = None
) -> None:
    """Show namespace NAME."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        found = ask(settings, lambda client: client.namespaces.get(name))
    _show(found, settings.output)


@namespace.command("delete")
def delete(
    ctx: typer.Context, name: NameArgument, api_url: ApiUrlOption = None, output: OutputOption = None
) -> None:
    """Delete namespace NAME."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        ask(settings, lambda client: client.namespaces.delete(name))
    if settings.output is OutputFormat.table:
        _output.out.print(Text(f"Namespace {name!r} deleted."))
    else:
        _output.document({"name": name, "status": "deleted"}, settings.output)


def _show(found: Namespace, output: OutputFormat) -> None:
    if output is OutputFormat.table:
        _output.fields(
            [
                ("Name", found.name),
                ("Description", found.description or "-"),
                ("Created", _output.timestamp(found.created_at)),
                ("Retention", _retention(found)),
            ]
        )
    else:
        _output.document(found.model_dump(mode="json"), output)


def _retention(found: Namespace) -> str:
    if found.retention_days is None:
        return "-"
    return f"{found.retention_days} days" + (" (the service's default)" if found.retention_is_default else "")
