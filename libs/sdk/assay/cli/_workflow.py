"""`assay workflow …`: start, inspect, signal, stop, continue, retry and await workflow runs."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

import typer
from rich.text import Text

from assay.cli import _output
from assay.cli._api import ask
from assay.cli._inputs import JSON_INPUT_HELP, JsonInputOption, parse_attributes, parse_json
from assay.cli._settings import (
    EXIT_TIMEOUT,
    ApiUrlOption,
    CliSettings,
    CursorOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    resolve,
)
from assay.client import SAME_INPUT, AssayClient, StartedWorkflow, WorkflowArchive, WorkflowRun
from assay.workflow._history import HistoryEvent

workflow = typer.Typer(
    name="workflow", help="Start, inspect and control workflow runs.", no_args_is_help=True
)

WorkflowIdArgument = Annotated[str, typer.Argument(metavar="ID", help="The workflow id.")]
ReasonOption = Annotated[str, typer.Option(metavar="TEXT", help="Why, for the run's history.")]
#: How long `events --follow` waits for the run to close before it looks for new events again.
_FOLLOW_POLL_SECONDS = 0.5


@workflow.command("start")
def start(
    ctx: typer.Context,
    workflow_type: Annotated[str, typer.Argument(metavar="TYPE", help="The workflow type to run.")],
    workflow_id: Annotated[
        str | None,
        typer.Option(
            "--id", metavar="ID", show_default=False, help="The workflow id; else the engine picks one."
        ),
    ] = None,
    input: JsonInputOption = None,
    task_queue: Annotated[
        str, typer.Option(metavar="QUEUE", help="The task queue its workers poll.")
    ] = "main",
    search_attributes: Annotated[
        list[str] | None,
        typer.Option(
            "--search-attribute",
            "-a",
            metavar="KEY=VALUE",
            show_default=False,
            help="A search attribute (repeat for several); a VALUE that is JSON is taken as JSON.",
        ),
    ] = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Start a run of TYPE and print its workflow id and run id."""
    payload = parse_json(input)
    attributes = parse_attributes(search_attributes)
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        started = ask(
            settings,
            lambda client: client.workflows.start(
                workflow_type,
                payload,
                namespace=settings.namespace,
                workflow_id=workflow_id,
                task_queue=task_queue,
                search_attributes=attributes,
            ),
        )
    _started(settings, started)


@workflow.command("list")
def list_runs(
    ctx: typer.Context,
    status: Annotated[
        str | None,
        typer.Option(
            metavar="STATUS",
            show_default=False,
            help="Only runs with this status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, "
            "TIMED_OUT or CONTINUED_AS_NEW.",
        ),
    ] = None,
    workflow_type: Annotated[
        str | None, typer.Option("--type", metavar="TYPE", show_default=False, help="Only runs of this type.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, metavar="N", help="At most N runs.")] = 50,
    cursor: CursorOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """List runs, newest first."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        page = ask(
            settings,
            lambda client: client.workflows.list(
                namespace=settings.namespace,
                status=status.upper() if status else None,
                workflow_type=workflow_type,
                limit=limit,
                cursor=cursor,
            ),
        )
    if settings.output is OutputFormat.table:
        _output.table(
            ["WORKFLOW ID", "TYPE", "STATUS", "QUEUE", "STARTED"],
            [
                [r.workflow_id, r.workflow_type, r.status, r.task_queue, _output.timestamp(r.created_at)]
                for r in page.items
            ],
        )
        if page.next_cursor:
            _output.err.print(Text(f"More: --cursor {page.next_cursor}"))
    else:
        _output.collection(
            [r.model_dump(mode="json") for r in page.items], settings.output, page.model_dump(mode="json")
        )


@workflow.command("describe")
def describe(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    archived: Annotated[
        bool,
        typer.Option(
            "--archived",
            help="Read the run's archive instead (a run purged after its namespace's retention): "
            "its record, history, activities, timers and query state.",
        ),
    ] = False,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Show the workflow's latest run: type, status, input, result, error, attributes."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        if archived:
            archive = ask(
                settings, lambda client: client.workflows.archive(workflow_id, namespace=settings.namespace)
            )
            _archive(settings, archive)
            return
        run = ask(settings, lambda client: client.workflows.get(workflow_id, namespace=settings.namespace))
    if settings.output is not OutputFormat.table:
        _output.document(run.model_dump(mode="json"), settings.output)
        return
    purged = []
    if run.purged_at is not None:
        purged = [("Purged", _output.timestamp(run.purged_at)), ("Archive", run.archive_uri or "-")]
    _output.fields(_run_fields(run) + purged)


def _run_fields(run: WorkflowRun) -> list[tuple[str, str]]:
    return [
        ("Workflow ID", run.workflow_id),
        ("Run ID", run.run_id),
        ("Type", run.workflow_type),
        ("Status", run.status),
        ("Namespace", run.namespace),
        ("Task queue", run.task_queue),
        ("Started", _output.timestamp(run.created_at)),
        ("Closed", _output.timestamp(run.closed_at) if run.closed_at else "-"),
        ("Input", _output.compact(run.input)),
        ("Result", _output.compact(run.result)),
        ("Error", _output.compact(run.error) if run.error is not None else "-"),
        ("Search attributes", _output.compact(run.search_attributes)),
    ]


def _archive(settings: CliSettings, archive: WorkflowArchive) -> None:
    """The archive as a document, or as the run's fields followed by its history."""
    if settings.output is not OutputFormat.table:
        _output.document(archive.model_dump(mode="json"), settings.output)
        return
    _output.fields(
        [
            *_run_fields(archive.run),
            ("Purged", _output.timestamp(archive.purged_at)),
            ("Archive", archive.archive_uri),
            ("Activities", str(len(archive.activities))),
            ("Query state", _output.compact(archive.query_state["state"]) if archive.query_state else "-"),
        ]
    )
    _output.out.print()
    _output.table(_EVENT_COLUMNS, [_event_row(event) for event in archive.events])


@workflow.command("state")
def state(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", show_default=False, help="Only this entry of the state.")
    ] = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Show the query state the run's code recorded last, or one entry of it."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        found = ask(
            settings, lambda client: client.workflows.query_state(workflow_id, namespace=settings.namespace)
        )
    if name is not None:
        if name not in found.state:
            known = ", ".join(sorted(found.state)) or "none"
            _output.fail(f"the state of workflow {workflow_id!r} has no entry {name!r} (entries: {known})")
        value = found.state[name]
        if settings.output is OutputFormat.table:
            _output.out.print(Text(_output.compact(value)))
        else:
            _output.document(value, settings.output)
    elif settings.output is OutputFormat.table:
        _output.fields([(key, _output.compact(value)) for key, value in found.state.items()])
    else:
        _output.document(found.model_dump(mode="json"), settings.output)


@workflow.command("events")
def history(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events until the run closes.")
    ] = False,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Show the history of the workflow's latest run: seq, time, type and attributes of each event."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        if not follow:
            events = ask(
                settings, lambda client: client.workflows.events(workflow_id, namespace=settings.namespace)
            )
            if settings.output is OutputFormat.table:
                _output.table(_EVENT_COLUMNS, [_event_row(event) for event in events])
            else:
                _output.collection([_event_json(event) for event in events], settings.output)
            return
        with _output.until_reader_leaves(), contextlib.suppress(KeyboardInterrupt):
            ask(settings, lambda client: _follow(client, settings, workflow_id))


_EVENT_COLUMNS = ["SEQ", "TIME", "TYPE", "ATTRIBUTES"]
_FOLLOW_HEADER = f"{'SEQ':>5}  {'TIME':<20}  {'TYPE':<28}  ATTRIBUTES"


async def _follow(client: AssayClient, settings: CliSettings, workflow_id: str) -> None:
    """Print the run's events as they are appended, until it closes (and its last event is out)."""
    ns = settings.namespace
    run = await client.workflows.get(workflow_id, namespace=ns)
    if settings.output is OutputFormat.table:
        _output.out.print(Text(_FOLLOW_HEADER, style="bold"))
    after = 0
    while True:
        for event in await client.workflows.events(
            workflow_id, namespace=ns, run_id=run.run_id, after_seq=after
        ):
            if settings.output is OutputFormat.table:
                line = f"{event.seq:>5}  {_output.timestamp(event.timestamp):<20}  {event.type:<28}  "
                _output.out.print(Text(line + _output.compact(event.attributes)))
            else:
                _output.stream_item(_event_json(event), settings.output)
            after = event.seq
        if not run.is_open:
            return
        # Returns at once when the run closes; otherwise after a short wait, to look for new events.
        run = await client.workflows.wait_closed(
            workflow_id, _FOLLOW_POLL_SECONDS, namespace=ns, run_id=run.run_id
        )


@workflow.command("children")
def children(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """List the child runs the workflow's latest run started, with their status."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        runs = ask(
            settings, lambda client: client.workflows.children(workflow_id, namespace=settings.namespace)
        )
    if settings.output is OutputFormat.table:
        _output.table(
            ["WORKFLOW ID", "RUN ID", "TYPE", "STATUS", "STARTED"],
            [
                [r.workflow_id, r.run_id, r.workflow_type, r.status, _output.timestamp(r.created_at)]
                for r in runs
            ],
        )
    else:
        _output.collection([r.model_dump(mode="json") for r in runs], settings.output)


@workflow.command("signal")
def signal(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The signal's name.")],
    payload: Annotated[
        str | None,
        typer.Option(metavar="JSON", show_default=False, help=f"The signal's payload. {JSON_INPUT_HELP}"),
    ] = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Send signal NAME to the workflow's open run."""
    value = parse_json(payload, "--payload")
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        ask(
            settings,
            lambda client: client.workflows.signal(workflow_id, name, value, namespace=settings.namespace),
        )
    _accepted(settings, workflow_id, f"Signal {name!r} sent to workflow {workflow_id!r}.")


@workflow.command("cancel")
def cancel(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    reason: ReasonOption = "",
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Ask the workflow's open run to cancel; its code may clean up before it ends CANCELLED."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        ask(
            settings,
            lambda client: client.workflows.cancel(workflow_id, reason, namespace=settings.namespace),
        )
    _accepted(settings, workflow_id, f"Cancellation of workflow {workflow_id!r} requested.")


@workflow.command("terminate")
def terminate(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    reason: ReasonOption = "",
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """End the workflow's open run at once, TERMINATED, without running any more of its code."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        ask(
            settings,
            lambda client: client.workflows.terminate(workflow_id, reason, namespace=settings.namespace),
        )
    _accepted(settings, workflow_id, f"Workflow {workflow_id!r} terminated.")


@workflow.command("continue-as-new")
def continue_as_new(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    input: Annotated[
        str | None,
        typer.Option(
            "--input",
            "-i",
            metavar="JSON",
            show_default=False,
            help=f"The new run's input; without it, the closing run's. {JSON_INPUT_HELP}",
        ),
    ] = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Close the workflow's open run CONTINUED_AS_NEW and start its successor; print its ids."""
    payload = SAME_INPUT if input is None else parse_json(input)
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        started = ask(
            settings,
            lambda client: client.workflows.continue_as_new(
                workflow_id, payload, namespace=settings.namespace
            ),
        )
    _started(settings, started)


@workflow.command("retry")
def retry(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    requested_by: Annotated[
        str, typer.Option(metavar="NAME", show_default=False, help="Who asks for the retry, for the history.")
    ],
    reason: Annotated[str, typer.Option(metavar="TEXT", show_default=False, help="Why, for the history.")],
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Retry the workflow's FAILED latest run from the activity whose failure ended it.

    A new run of the same workflow id takes the failed run's history up to that failure and runs
    the activity again from attempt 1; the failed run stays FAILED."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        retried = ask(
            settings,
            lambda client: client.workflows.retry(
                workflow_id, requested_by=requested_by, reason=reason, namespace=settings.namespace
            ),
        )
    if settings.output is OutputFormat.table:
        _output.fields(
            [
                ("Workflow ID", retried.workflow_id),
                ("Run ID", retried.run_id),
                ("Failed run ID", retried.failed_run_id),
                ("Activity", str(retried.activity_seq)),
                ("Status", retried.status),
            ]
        )
    else:
        _output.document(retried.model_dump(mode="json"), settings.output)


@workflow.command("wait")
def wait(
    ctx: typer.Context,
    workflow_id: WorkflowIdArgument,
    timeout: Annotated[
        float | None,
        typer.Option(min=0, metavar="SECONDS", show_default=False, help="Give up after this long (exit 2)."),
    ] = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Wait until the workflow closes and print its result.

    A run that continued as new is followed to its successor. Exits 1 with the error when the
    workflow ends other than COMPLETED, 2 when --timeout passes first."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        try:
            result = ask(
                settings,
                lambda client: client.workflows.result(
                    workflow_id, namespace=settings.namespace, timeout=timeout
                ),
            )
        except TimeoutError:
            _output.fail(f"workflow {workflow_id!r} did not close within {timeout:g} s", EXIT_TIMEOUT)
    if settings.output is OutputFormat.table:
        _output.out.print(Text(_output.compact(result)))
    else:
        _output.document(result, settings.output)


def _started(settings: CliSettings, started: StartedWorkflow) -> None:
    if settings.output is OutputFormat.table:
        _output.fields([("Workflow ID", started.workflow_id), ("Run ID", started.run_id)])
    else:
        _output.document(started.model_dump(mode="json"), settings.output)


def _accepted(settings: CliSettings, workflow_id: str, message: str) -> None:
    if settings.output is OutputFormat.table:
        _output.out.print(Text(message))
    else:
        _output.document({"workflow_id": workflow_id, "status": "accepted"}, settings.output)


def _event_row(event: HistoryEvent) -> list[str | Text]:
    return [str(event.seq), _output.timestamp(event.timestamp), event.type, _output.compact(event.attributes)]


def _event_json(event: HistoryEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "type": event.type,
        "attributes": event.attributes,
        "created_at": event.timestamp.isoformat(),
    }
