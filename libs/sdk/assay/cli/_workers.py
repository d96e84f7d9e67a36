"""`assay worker list` and `assay queue stats`: who runs the work of a namespace, and what waits."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from assay.cli import _output
from assay.cli._api import ask
from assay.cli._settings import (
    ApiUrlOption,
    CursorOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    resolve,
)

worker = typer.Typer(name="worker", help="The workers registered in a namespace.", no_args_is_help=True)
queue = typer.Typer(name="queue", help="The task queues of a namespace.", no_args_is_help=True)


@worker.command("list")
def list_workers(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=500, metavar="N", help="At most N workers.")] = 100,
    cursor: CursorOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """List the namespace's workers: identity, queue, what they run, when last heard from."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        page = ask(
            settings,
            lambda client: client.workers.list(namespace=settings.namespace, limit=limit, cursor=cursor),
        )
    if settings.output is OutputFormat.table:
        _output.table(
            ["WORKER ID", "IDENTITY", "QUEUE", "WORKFLOW TYPES", "ACTIVITIES", "LAST HEARTBEAT"],
            [
                [
                    w.worker_id,
                    w.identity,
                    w.task_queue,
                    ",".join(w.workflow_types),
                    ",".join(w.activity_names),
                    _output.timestamp(w.last_heartbeat),
                ]
                for w in page.items
            ],
        )
        if page.next_cursor:
            _output.err.print(Text(f"More: --cursor {page.next_cursor}"))
    else:
        _output.collection(
            [w.model_dump(mode="json") for w in page.items], settings.output, page.model_dump(mode="json")
        )


@queue.command("stats")
def stats(
    ctx: typer.Context,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Show each task queue of the namespace: workflow tasks and activities waiting and running,
    and its workers."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        queues = ask(settings, lambda client: client.queues.list(namespace=settings.namespace))
    if settings.output is OutputFormat.table:
        _output.table(
            [
                "QUEUE",
                "WF TASKS READY",
                "WF TASKS LEASED",
                "ACTIVITIES SCHEDULED",
                "ACTIVITIES RUNNING",
                "WORKERS",
            ],
            [
                [
                    q.task_queue,
                    str(q.workflow_tasks_ready),
                    str(q.workflow_tasks_leased),
                    str(q.activities_scheduled),
                    str(q.activities_running),
                    str(q.workers),
                ]
                for q in queues
            ],
        )
    else:
        _output.collection([q.model_dump(mode="json") for q in queues], settings.output)
