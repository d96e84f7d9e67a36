"""`assay schedule …`: create, list, describe, change, pause, resume, trigger, backfill and delete
schedules that start workflows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.text import Text

from assay.cli import _output
from assay.cli._api import ask
from assay.cli._inputs import JsonInputOption, parse_attributes, parse_json
from assay.cli._settings import (
    ApiUrlOption,
    CliSettings,
    CursorOption,
    NamespaceOption,
    OutputFormat,
    OutputOption,
    resolve,
)
from assay.client import Schedule, ScheduleDescription, ScheduleFire

schedule = typer.Typer(
    name="schedule",
    help="Start workflows on a schedule: cron expressions, macros (@daily…) and intervals (@every 5m).",
    no_args_is_help=True,
)


class Overlap(StrEnum):
    """What a fire does while a run the schedule started is open (docs/workflows.md#schedules)."""

    skip = "skip"
    buffer_one = "buffer_one"
    buffer_all = "buffer_all"
    cancel_other = "cancel_other"
    terminate_other = "terminate_other"
    allow_all = "allow_all"


def _moment(text: str) -> datetime:
    """An ISO 8601 time with its UTC offset (`2026-03-01T02:00:00+01:00`, `…Z`)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time such as 2026-03-01T02:00:00Z") from None
    if moment.utcoffset() is None:
        raise typer.BadParameter(f"{text!r} has no UTC offset: add Z or one such as +01:00")
    return moment


ScheduleIdArgument = Annotated[str, typer.Argument(metavar="ID", help="The schedule's id.")]
_EXPRESSION_HELP = (
    "When it fires: a cron expression of 5, 6 (seconds first) or 7 (a year last) fields, a macro "
    "(@yearly, @monthly, @weekly, @daily, @hourly) or @every DURATION (30s, 5m, 1h30m, 1d)."
)
OverlapOption = Annotated[
    Overlap | None,
    typer.Option(
        "--overlap",
        case_sensitive=False,
        show_default=False,
        help="What a fire does while a run it started is open; the schedule's own when not given "
        "(skip when it is created).",
    ),
]
TimezoneOption = Annotated[
    str | None,
    typer.Option(
        metavar="TZ",
        show_default=False,
        help="The IANA time zone the expression is read in, e.g. Europe/Paris (UTC when created without).",
    ),
]
TaskQueueOption = Annotated[
    str | None,
    typer.Option(
        metavar="QUEUE", show_default=False, help="The task queue of its runs (main when created without)."
    ),
]
JitterOption = Annotated[
    float | None,
    typer.Option(min=0, metavar="SECONDS", show_default=False, help="Delay each fire by up to this much."),
]
StartAtOption = Annotated[
    datetime | None,
    typer.Option(parser=_moment, metavar="TIME", show_default=False, help="No fire before this (ISO 8601)."),
]
EndAtOption = Annotated[
    datetime | None,
    typer.Option(parser=_moment, metavar="TIME", show_default=False, help="No fire after this (ISO 8601)."),
]
CatchupWindowOption = Annotated[
    float | None,
    typer.Option(
        min=1,
        metavar="SECONDS",
        show_default=False,
        help="A slot that comes later than this (the service was down) is recorded as missed "
        "(an hour when created without).",
    ),
]
NoteOption = Annotated[
    str | None, typer.Option(metavar="TEXT", show_default=False, help="A note for people.")
]
SearchAttributeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--search-attribute",
        "-a",
        metavar="KEY=VALUE",
        show_default=False,
        help="A search attribute of its runs (repeat for several); a VALUE that is JSON is taken as JSON.",
    ),
]
#: The note of a pause or a resume: it replaces the schedule's note; without it the note stays.
NewNoteOption = Annotated[
    str | None, typer.Option("--note", metavar="TEXT", help="Why, for people (replaces the note).")
]


@schedule.command("create")
def create(
    ctx: typer.Context,
    schedule_id: ScheduleIdArgument,
    workflow_type: Annotated[
        str, typer.Option("--type", metavar="TYPE", show_default=False, help="The workflow type it starts.")
    ],
    expression: Annotated[
        str, typer.Option("--cron", metavar="EXPR", show_default=False, help=_EXPRESSION_HELP)
    ],
    timezone: TimezoneOption = None,
    input: JsonInputOption = None,
    task_queue: TaskQueueOption = None,
    overlap: OverlapOption = None,
    jitter: JitterOption = None,
    start_at: StartAtOption = None,
    end_at: EndAtOption = None,
    catchup_window: CatchupWindowOption = None,
    paused: Annotated[
        bool, typer.Option("--paused", help="Create it paused: it fires once resumed.")
    ] = False,
    note: NoteOption = None,
    search_attributes: SearchAttributeOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Create schedule ID: at each slot of --cron it starts a run of --type."""
    fields = _given(
        workflow_type=workflow_type,
        expression=expression,
        timezone=timezone,
        input=input,
        task_queue=task_queue,
        overlap=overlap,
        jitter=jitter,
        start_at=start_at,
        end_at=end_at,
        catchup_window=catchup_window,
        note=note,
        search_attributes=search_attributes,
    )
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        created = ask(
            settings,
            lambda client: client.schedules.create(
                schedule_id, namespace=settings.namespace, paused=paused, **fields
            ),
        )
    _show(settings, created)


@schedule.command("list")
def list_schedules(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=500, metavar="N", help="At most N schedules.")] = 100,
    cursor: CursorOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """List the namespace's schedules by id, with their next run."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        page = ask(
            settings,
            lambda client: client.schedules.list(namespace=settings.namespace, limit=limit, cursor=cursor),
        )
    if settings.output is OutputFormat.table:
        _output.table(
            ["SCHEDULE ID", "TYPE", "EXPRESSION", "TIME ZONE", "OVERLAP", "STATE", "NEXT RUN"],
            [
                [
                    s.schedule_id,
                    s.workflow_type,
                    s.expression,
                    s.timezone,
                    s.overlap_policy,
                    _state(s),
                    _output.timestamp(s.next_run_at) if s.next_run_at else "-",
                ]
                for s in page.items
            ],
        )
        if page.next_cursor:
            _output.err.print(Text(f"More: --cursor {page.next_cursor}"))
    else:
        _output.collection(
            [s.model_dump(mode="json") for s in page.items], settings.output, page.model_dump(mode="json")
        )


@schedule.command("describe")
def describe(
    ctx: typer.Context,
    schedule_id: ScheduleIdArgument,
    recent: Annotated[int, typer.Option(min=0, max=100, metavar="N", help="Show the N newest fires.")] = 10,
    upcoming: Annotated[int, typer.Option(min=0, max=100, metavar="N", help="Show the next N runs.")] = 5,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Show the schedule, its newest fires and its next runs."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        found = ask(
            settings,
            lambda client: client.schedules.describe(
                schedule_id, namespace=settings.namespace, recent=recent, upcoming=upcoming
            ),
        )
    _show(settings, found)


@schedule.command("patch")
def patch(
    ctx: typer.Context,
    schedule_id: ScheduleIdArgument,
    workflow_type: Annotated[
        str | None,
        typer.Option("--type", metavar="TYPE", show_default=False, help="The workflow type it starts."),
    ] = None,
    expression: Annotated[
        str | None, typer.Option("--cron", metavar="EXPR", show_default=False, help=_EXPRESSION_HELP)
    ] = None,
    timezone: TimezoneOption = None,
    input: JsonInputOption = None,
    task_queue: TaskQueueOption = None,
    overlap: OverlapOption = None,
    jitter: JitterOption = None,
    start_at: StartAtOption = None,
    end_at: EndAtOption = None,
    catchup_window: CatchupWindowOption = None,
    note: NoteOption = None,
    search_attributes: SearchAttributeOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Change what is given of schedule ID; the rest stays.

    A change of its timing (--cron, --timezone, --jitter, --start-at, --end-at) computes its next
    run again from now. --search-attribute replaces all of its search attributes."""
    changes = _given(
        workflow_type=workflow_type,
        expression=expression,
        timezone=timezone,
        input=input,
        task_queue=task_queue,
        overlap=overlap,
        jitter=jitter,
        start_at=start_at,
        end_at=end_at,
        catchup_window=catchup_window,
        note=note,
        search_attributes=search_attributes,
    )
    if not changes:
        ctx.fail("nothing to change: give at least one option (see --help)")
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        updated = ask(
            settings,
            lambda client: client.schedules.update(schedule_id, namespace=settings.namespace, **changes),
        )
    _show(settings, updated)


@schedule.command("pause")
def pause(
    ctx: typer.Context,
    schedule_id: ScheduleIdArgument,
    note: NewNoteOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Stop the schedule firing at its slots (trigger and backfill still fire)."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        paused = ask(
            settings, lambda client: client.schedules.pause(schedule_id, note, namespace=settings.namespace)
        )
    _show(settings, paused)


@schedule.command("resume")
def resume(
    ctx: typer.Context,
    schedule_id: ScheduleIdArgument,
    note: NewNoteOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Fire again from the first slot after now; the slots of the pause are not caught up."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        resumed = ask(
            settings, lambda client: client.schedules.resume(schedule_id, note, namespace=settings.namespace)
        )
    _show(settings, resumed)


@schedule.command("trigger")
def trigger(
    ctx: typer.Context,
    schedule_id: ScheduleIdArgument,
    overlap: OverlapOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Fire the schedule now, paused or not, and print what the fire did and the run it started."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        fire = ask(
            settings,
            lambda client: client.schedules.trigger(
                schedule_id, namespace=settings.namespace, overlap_policy=overlap.value if overlap else None
            ),
        )
    if settings.output is OutputFormat.table:
        _output.fields(
            [
                ("Outcome", fire.outcome),
                ("Workflow ID", fire.workflow_id or "-"),
                ("Run ID", fire.run_id or "-"),
                ("Fired", _output.timestamp(fire.fired_at)),
            ]
        )
    else:
        _output.document(fire.model_dump(mode="json"), settings.output)


@schedule.command("backfill")
def backfill(
    ctx: typer.Context,
    schedule_id: ScheduleIdArgument,
    start: Annotated[
        datetime,
        typer.Option(
            parser=_moment, metavar="TIME", show_default=False, help="The first slot's earliest time."
        ),
    ],
    end: Annotated[
        datetime,
        typer.Option(parser=_moment, metavar="TIME", show_default=False, help="The last slot's latest time."),
    ],
    overlap: OverlapOption = None,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Fire now, in order, the schedule's slots from --start to --end.

    Both ends are included, and the range may hold at most 1,000 slots. A slot fired before is not
    fired again."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        fires = ask(
            settings,
            lambda client: client.schedules.backfill(
                schedule_id,
                start,
                end,
                namespace=settings.namespace,
                overlap_policy=overlap.value if overlap else None,
            ),
        )
    if settings.output is OutputFormat.table:
        _output.table(_FIRE_COLUMNS, [_fire_row(fire) for fire in fires])
    else:
        _output.collection([fire.model_dump(mode="json") for fire in fires], settings.output)


@schedule.command("delete")
def delete(
    ctx: typer.Context,
    schedule_id: ScheduleIdArgument,
    namespace: NamespaceOption = None,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Delete the schedule; the runs it started go on."""
    with _output.reported_errors():
        settings = resolve(ctx, api_url, output, namespace)
        ask(settings, lambda client: client.schedules.delete(schedule_id, namespace=settings.namespace))
    if settings.output is OutputFormat.table:
        _output.out.print(Text(f"Schedule {schedule_id!r} deleted."))
    else:
        _output.document({"schedule_id": schedule_id, "status": "deleted"}, settings.output)


def _given(
    *,
    workflow_type: str | None,
    expression: str | None,
    timezone: str | None,
    input: str | None,
    task_queue: str | None,
    overlap: Overlap | None,
    jitter: float | None,
    start_at: datetime | None,
    end_at: datetime | None,
    catchup_window: float | None,
    note: str | None,
    search_attributes: list[str] | None,
) -> dict[str, Any]:
    """The options given, as keyword arguments of `Schedules.create` and `Schedules.update`."""
    given = {
        "workflow_type": workflow_type,
        "expression": expression,
        "timezone": timezone,
        "task_queue": task_queue,
        "overlap_policy": overlap.value if overlap else None,
        "jitter": jitter,
        "start_at": start_at,
        "end_at": end_at,
        "catchup_window": catchup_window,
        "note": note,
        "search_attributes": parse_attributes(search_attributes),
    }
    fields = {name: value for name, value in given.items() if value is not None}
    if input is not None:  # `--input null` is an input too
        fields["input"] = parse_json(input)
    return fields


_FIRE_COLUMNS = ["SLOT", "TRIGGER", "OUTCOME", "FIRED", "WORKFLOW ID"]


def _fire_row(fire: ScheduleFire) -> list[str | Text]:
    return [
        _output.timestamp(fire.nominal_at),
        fire.trigger,
        fire.outcome,
        _output.timestamp(fire.fired_at),
        fire.workflow_id or "-",
    ]


def _state(found: Schedule) -> str:
    return "paused" if found.paused else "active"


def _show(settings: CliSettings, found: Schedule) -> None:
    """The schedule as a document, or as fields; a description also with its next runs and its
    newest fires."""
    if settings.output is not OutputFormat.table:
        _output.document(found.model_dump(mode="json"), settings.output)
        return
    _output.fields(
        [
            ("Schedule ID", found.schedule_id),
            ("Namespace", found.namespace),
            ("Workflow type", found.workflow_type),
            ("Task queue", found.task_queue),
            ("Expression", found.expression),
            ("Time zone", found.timezone),
            ("Overlap", found.overlap_policy),
            ("Jitter", f"{found.jitter_seconds:g} s"),
            ("Not before", _output.timestamp(found.start_at) if found.start_at else "-"),
            ("Not after", _output.timestamp(found.end_at) if found.end_at else "-"),
            ("Catch-up window", f"{found.catchup_window_seconds:g} s"),
            ("State", _state(found)),
            ("Note", found.note or "-"),
            ("Next run", _output.timestamp(found.next_run_at) if found.next_run_at else "-"),
            ("Last fired", _output.timestamp(found.last_fired_at) if found.last_fired_at else "-"),
            ("Running", ", ".join(found.running) or "-"),
            ("Buffered", str(found.buffered)),
            ("Missed", str(found.missed)),
            ("Input", _output.compact(found.input)),
            ("Search attributes", _output.compact(found.search_attributes)),
        ]
    )
    if isinstance(found, ScheduleDescription):
        _output.out.print()
        _output.table(["NEXT RUNS"], [[_output.timestamp(moment)] for moment in found.upcoming])
        _output.out.print()
        _output.table(_FIRE_COLUMNS, [_fire_row(fire) for fire in found.recent_fires])
