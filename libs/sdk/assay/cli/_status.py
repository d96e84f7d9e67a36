"""`assay status`: is every service of the platform healthy?"""

from __future__ import annotations

import asyncio

import typer
from rich.text import Text

from assay.cli import _output
from assay.cli._settings import EXIT_ERROR, EXIT_OK, ApiUrlOption, OutputFormat, OutputOption, resolve
from assay.client import AssayClient, PlatformHealth, ServiceHealth


def status(ctx: typer.Context, api_url: ApiUrlOption = None, output: OutputOption = None) -> None:
    """Show each service's health. Exits 0 when every service is healthy, 1 otherwise."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        code = show_health(settings.api_url, settings.output, api_key=settings.api_key)
    raise typer.Exit(code)


def show_health(api_url: str, output: OutputFormat, *, api_key: str | None = None) -> int:
    """Print the platform's health at `api_url`; the exit code: 0 when all is well, else 1."""
    with _output.reported_errors():
        health = asyncio.run(_fetch(api_url, api_key))
    if output is OutputFormat.table:
        _output.table(
            ["SERVICE", "STATUS", "DETAIL", "LATENCY"],
            [
                [name, _status_cell(service), _detail(service), _latency(service)]
                for name, service in health.services.items()
            ],
        )
        verdict = Text("healthy", "green") if health.is_healthy else Text("degraded", "red")
        _output.out.print(Text.assemble("\nAssay at ", api_url, " is ", verdict, "."))
    else:
        _output.document(health.model_dump(mode="json", exclude_none=True), output)
    return EXIT_OK if health.is_healthy else EXIT_ERROR


async def _fetch(api_url: str, api_key: str | None) -> PlatformHealth:
    async with AssayClient(api_url, api_key=api_key) as client:
        return await client.health()


def _status_cell(service: ServiceHealth) -> Text:
    return Text(service.status, style="green" if service.is_healthy else "red")


def _detail(service: ServiceHealth) -> str:
    if service.error:
        return service.error
    failing = {name: state for name, state in (service.checks or {}).items() if state != "ok"}
    shown = failing or service.checks or {}
    return ", ".join(f"{name} {state}" for name, state in shown.items())


def _latency(service: ServiceHealth) -> str:
    return "" if service.latency_ms is None else f"{service.latency_ms:.0f} ms"
