"""`assay events …`: the platform's events, through the gateway's live stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC
from typing import Annotated

import typer
from rich.text import Text

from assay._event import Event
from assay.cli import _output
from assay.cli._settings import ApiUrlOption, CliSettings, OutputFormat, OutputOption, resolve

events = typer.Typer(name="events", help="Follow what happens in Assay.", no_args_is_help=True)

_TABLE_HEADER = f"{'SEQ':>6}  {'TIME':<24}  {'TYPE':<36}  {'SUBJECT':<24}  DATA"


@events.command("tail")
def tail(
    ctx: typer.Context,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            metavar="TYPE",
            help="Only this CloudEvents type (repeat for several), e.g. assay.workflow.namespace_created.",
        ),
    ] = None,
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", metavar="NS", help="Only this namespace.")
    ] = None,
    service: Annotated[
        str | None, typer.Option(metavar="SERVICE", help="Only events of this service, e.g. workflow.")
    ] = None,
    subject: Annotated[
        str | None,
        typer.Option(
            metavar="SUBJECT", help="Only events with this CloudEvents subject, e.g. namespaces/main."
        ),
    ] = None,
    workflow_id: Annotated[
        str | None, typer.Option(metavar="ID", help="Only events about this workflow.")
    ] = None,
    from_seq: Annotated[
        int | None,
        typer.Option(
            "--from-seq",
            min=1,
            metavar="N",
            help="Start at stream sequence N (replaying retained events) instead of with the next new event.",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, metavar="K", help="Stop after K events.")] = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Print events as they happen (seq, time, type, subject, data) until Ctrl-C or --limit.

    A dropped connection is resumed from the last event printed, so none is missed or repeated.
    """
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output)
        with _output.until_reader_leaves(), contextlib.suppress(KeyboardInterrupt):
            asyncio.run(
                _follow(
                    settings,
                    types or [],
                    namespace,
                    service,
                    subject,
                    workflow_id,
                    None if from_seq is None else from_seq - 1,
                    limit,
                )
            )


async def _follow(
    settings: CliSettings,
    types: list[str],
    namespace: str | None,
    service: str | None,
    subject: str | None,
    workflow_id: str | None,
    after: int | None,
    limit: int | None,
) -> None:
    printed = 0
    async with (
        settings.client() as client,
        client.event_stream(
            types=types,
            namespace=namespace,
            service=service,
            subject=subject,
            workflow_id=workflow_id,
            after=after,
        ) as stream,
    ):
        if settings.output is OutputFormat.table:
            _output.out.print(Text(_TABLE_HEADER, style="bold"))
        async for event in stream:
            if settings.output is OutputFormat.table:
                _output.out.print(_row(event))
            else:
                _output.stream_item(event.to_json_dict(), settings.output)
            printed += 1
            if limit is not None and printed >= limit:
                return


def _row(event: Event) -> Text:
    time = event.time.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return Text(f"{event.sequence:>6}  {time:<24}  {event.type:<36}  {event.subject or '-':<24}  {data}")
