"""`/api/v1/events/stream` (Server-Sent Events over ASSAY_EVENTS) and the event catalogue."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse

from assay_common.events.asyncapi import build_document
from assay_common.events.envelope import CATALOGUE
from assay_common.problems import problems
from assay_gateway.authorization import admit
from assay_gateway.feed import EventFeed, EventFilter
from assay_gateway.gateway import Gateway, gateway
from assay_gateway.sse import EventStreamResponse

router = APIRouter(prefix="/api/v1/events", tags=["events"], dependencies=[Depends(admit)])

_STREAM_DESCRIPTION = """\
Domain events as they happen, as Server-Sent Events. Each frame is `id: <stream sequence>`,
`event: <CloudEvents type>`, `data: <the CloudEvent as JSON>`; comment lines keep the connection
alive. Reconnect with the last `id` as `Last-Event-ID` (or `?last_event_id=`) to get every event
after it, then live ones, with no gap and no duplicate. A cursor older than the stream retains
is answered with 410. Without a cursor the stream starts with the next new event; the first block
(`id` without data) names where it starts, so a reconnect before any event misses nothing.
"""


class AsyncApiDocument(BaseModel):
    """An AsyncAPI 3.0 document (https://www.asyncapi.com/docs/reference/specification/v3.0.0)."""

    model_config = ConfigDict(extra="allow")

    asyncapi: str
    info: dict[str, Any]
    channels: dict[str, Any]
    operations: dict[str, Any]
    components: dict[str, Any]


@router.get(
    "/stream",
    response_class=EventStreamResponse,
    status_code=200,
    summary="Live events (Server-Sent Events)",
    description=_STREAM_DESCRIPTION,
    responses={
        200: {
            "description": "An endless event stream",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **problems(410, 422, 503),
    },
)
async def stream_events(
    edge: Gateway = Depends(gateway),
    namespace: Annotated[str | None, Query(description="Only events of this namespace")] = None,
    service: Annotated[str | None, Query(description="Only events of this service, e.g. `workflow`")] = None,
    event_types: Annotated[
        list[str] | None,
        Query(
            alias="type",
            description="Only these CloudEvents types, e.g. `assay.workflow.namespace_created`",
        ),
    ] = None,
    subject: Annotated[str | None, Query(description="Only events with this CloudEvents `subject`")] = None,
    workflow_id: Annotated[str | None, Query(description="Only events about this workflow")] = None,
    last_event_id: Annotated[int | None, Query(ge=0, description="Resume after this event id")] = None,
    last_event_id_header: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            description="Resume after this event id (sent by EventSource)",
        ),
    ] = None,
) -> EventStreamResponse:
    event_filter = EventFilter.of(
        namespace=namespace,
        service=service,
        types=event_types or [],
        subject=subject,
        workflow_id=workflow_id,
    )
    feed = EventFeed(
        edge.bus.nc,
        edge.bus.subjects,
        event_filter.nats_subject(edge.bus.subjects),
        heartbeat=edge.settings.sse_heartbeat_seconds,
    )
    # The header wins: a browser's EventSource sends it on reconnect, newer than the URL's cursor.
    await feed.open(after=last_event_id_header if last_event_id_header is not None else last_event_id)
    return EventStreamResponse(feed, event_filter, edge.settings.sse_keepalive_seconds)


class EventTypeOut(BaseModel):
    type: str = Field(description="The CloudEvents type, also the `event:` name of its stream frames")
    service: str
    summary: str


class EventTypeList(BaseModel):
    types: list[EventTypeOut]


@router.get(
    "/types",
    response_model=EventTypeList,
    summary="The types of event the stream carries",
    description="Their names only: what a browser's EventSource needs to listen to every frame "
    "(the full schemas are in `asyncapi.json`).",
)
async def event_types() -> EventTypeList:
    return EventTypeList(
        types=[
            EventTypeOut(type=name, service=cls.event_service, summary=cls.event_summary)
            for name, cls in sorted(CATALOGUE.items())
            if not cls.event_audit  # audit records go to ASSAY_AUDIT, never to this stream
        ]
    )


@router.get(
    "/asyncapi.json",
    response_model=AsyncApiDocument,
    summary="The event catalogue as an AsyncAPI 3.0 document",
)
async def event_catalogue(edge: Gateway = Depends(gateway)) -> JSONResponse:
    return JSONResponse(build_document(edge.version, edge.bus.subjects))
