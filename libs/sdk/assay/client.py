"""Talking to Assay over HTTP, through the gateway's `/api/v1`.

```python
async with AssayClient("http://127.0.0.1:8080") as client:
    health = await client.health()
    run = await client.workflows.start("hello", {"name": "ada"}, namespace="payments")
    print(await client.workflows.result(run.workflow_id, namespace="payments"))
    async with client.event_stream(types=["assay.workflow.namespace_created"]) as stream:
        async for event in stream:
            print(event.sequence, event.payload)
```

Errors are `ApiUnreachable` (nothing answered) and `ApiError` (the API answered with a problem),
both `ClientError`s; `WorkflowFailure` is a run that closed without completing.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import logging
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import to_jsonable_python

from assay._event import Event, parse_event
from assay._sse import Frame, Reader
from assay.workflow._history import HistoryEvent
from assay_common.permission_checks import CONSISTENCY_TOKEN_HEADER

log = logging.getLogger("assay.client")

#: Where `assay up` serves the API by default.
DEFAULT_API_URL = "http://127.0.0.1:8080"
#: Where clients find their API key when none is given: the key itself, or a file holding it.
API_KEY_ENV = "ASSAY_API_KEY"
API_KEY_FILE_ENV = "ASSAY_API_KEY_FILE"


def api_key_from_environment() -> str | None:
    """`$ASSAY_API_KEY`, else the contents of `$ASSAY_API_KEY_FILE`, else None."""
    if key := os.environ.get(API_KEY_ENV, "").strip():
        return key
    if path := os.environ.get(API_KEY_FILE_ENV, "").strip():
        with open(path, encoding="utf-8") as file:
            return file.read().strip() or None
    return None


#: Seconds to wait before reconnecting a dropped event stream, when the server gives no advice.
DEFAULT_RETRY_SECONDS = 1.0
#: A live event stream that says nothing (not even a keep-alive) for this long is taken as dead.
STREAM_SILENCE_SECONDS = 60.0
#: Answers that mean "try again shortly" while a platform (re)starts.
_TRANSIENT_STATUSES = frozenset({502, 503, 504})
#: `Workflows.continue_as_new` without an input: the new run gets the closing run's.
SAME_INPUT: Any = object()


class ClientError(Exception):
    """Base of the errors raised by `AssayClient`."""


class ApiUnreachable(ClientError):
    """Nothing answered at the API URL (connection refused, timed out, name not resolved…)."""

    def __init__(self, api_url: str, reason: str) -> None:
        super().__init__(f"cannot reach the Assay API at {api_url} ({reason})")
        self.api_url = api_url
        self.reason = reason


class ApiError(ClientError):
    """The API answered with an error: the fields of its RFC 9457 problem document."""

    def __init__(
        self, status: int, code: str, title: str, detail: str | None, problem: dict[str, Any] | None = None
    ) -> None:
        message = f"{title}: {detail}" if detail else title
        super().__init__(f"{message} ({status} {code})")
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.problem = problem or {}

    @classmethod
    def from_response(cls, response: Answer) -> ApiError:
        """The error a non-2xx answer stands for, problem+json or not."""
        try:
            body = json.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("title"), str):
            detail = body.get("detail")
            return cls(
                response.status,
                str(body.get("code") or f"http_{response.status}"),
                body["title"],
                detail if isinstance(detail, str) else None,
                body,
            )
        text = response.content.decode("utf-8", "replace").strip()
        return cls(
            response.status, f"http_{response.status}", response.reason or "HTTP error", text[:300] or None
        )


@dataclass(frozen=True)
class Answer:
    """An HTTP answer read whole."""

    status: int
    reason: str | None
    content: bytes

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300


class ServiceHealth(BaseModel):
    """One service as the gateway sees it."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="`ok`, `not_ready` or `unreachable`")
    checks: dict[str, str] | None = Field(default=None, description="The service's own readiness checks")
    error: str | None = Field(default=None, description="Why the service could not be asked")
    latency_ms: float | None = None

    @property
    def is_healthy(self) -> bool:
        """True when the service is ready."""
        return self.status == "ok"


class PlatformHealth(BaseModel):
    """`GET /api/v1/health`: every service's readiness."""

    model_config = ConfigDict(extra="allow")

    status: str = Field(description="`ok` when every service is, else `degraded`")
    services: dict[str, ServiceHealth]

    @property
    def is_healthy(self) -> bool:
        """True when the platform and every service in it are ready."""
        return self.status == "ok" and all(s.is_healthy for s in self.services.values())


class WorkflowRun(BaseModel):
    """One run of a workflow, as `GET /api/v1/workflows/{id}` describes it."""

    model_config = ConfigDict(extra="allow")

    namespace: str
    workflow_id: str
    run_id: str
    workflow_type: str
    task_queue: str
    status: str = Field(description="`RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TERMINATED`…")
    input: Any = None
    result: Any = None
    error: Any = None
    search_attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime
    closed_at: datetime | None = None
    purged_at: datetime | None = Field(
        default=None,
        description="When its history, activities, timers and query state were purged after the "
        "namespace's retention (read them back with `Workflows.archive`)",
    )
    archive_uri: str | None = Field(default=None, description="Where they were archived; None: not archived")

    @property
    def is_open(self) -> bool:
        """True while the run is `RUNNING`."""
        return self.status == "RUNNING"


class WorkflowArchive(BaseModel):
    """The archive of a purged run, read back from the bucket: its record, its full history, its
    activities and timers as they ended, and its last query state (docs/operations.md)."""

    model_config = ConfigDict(extra="allow")

    format_version: int
    archive_uri: str
    archived_at: datetime
    purged_at: datetime
    run: WorkflowRun
    history: list[dict[str, Any]]
    activities: list[dict[str, Any]]
    timers: list[dict[str, Any]]
    query_state: dict[str, Any] | None = None

    @property
    def events(self) -> list[HistoryEvent]:
        """The history, parsed like `Workflows.events` parses it."""
        return [HistoryEvent.from_json(event) for event in self.history]


class StartedWorkflow(BaseModel):
    """The ids of a run just started."""

    model_config = ConfigDict(extra="allow")

    workflow_id: str
    run_id: str


class RetriedWorkflow(BaseModel):
    """The run an operator retry started; the failed run stays `FAILED`."""

    model_config = ConfigDict(extra="allow")

    workflow_id: str
    run_id: str = Field(description="The new run, which runs the failed activity again")
    failed_run_id: str
    activity_seq: int = Field(description="The activity that runs again, from attempt 1")
    status: str


class WorkflowPage(BaseModel):
    """A page of runs, newest first."""

    items: list[WorkflowRun]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class QueryState(BaseModel):
    """The query state a run's code recorded last."""

    model_config = ConfigDict(extra="allow")

    run_id: str
    state: dict[str, Any]
    event_seq: int
    updated_at: datetime


class NamespaceUsage(BaseModel):
    """What a namespace holds."""

    runs_by_status: dict[str, int] = Field(
        description="Runs in each status (a status without runs is absent)"
    )
    schedules: int
    workers: int = Field(description="Workers registered in it, live or not")


class Namespace(BaseModel):
    """A namespace: workflows, workers and queues in one are invisible from any other."""

    model_config = ConfigDict(extra="allow")

    name: str
    description: str = ""
    created_at: datetime
    retention_days: int | None = Field(
        default=None, description="How many days its closed runs are kept before they are purged"
    )
    retention_is_default: bool = Field(
        default=False, description="Whether that is the service's default, followed as it changes"
    )
    usage: NamespaceUsage | None = Field(default=None, description="Only on a namespace read alone (`get`)")


class NamespacePage(BaseModel):
    """A page of namespaces, by name."""

    items: list[Namespace]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class Worker(BaseModel):
    """A registered worker: what it runs, where, and when it was last heard from."""

    model_config = ConfigDict(extra="allow")

    worker_id: str
    namespace: str
    identity: str
    task_queue: str
    workflow_types: list[str]
    activity_names: list[str]
    max_concurrent_workflow_tasks: int
    max_concurrent_activities: int
    last_heartbeat: datetime
    registered_at: datetime


class WorkerPage(BaseModel):
    """A page of workers."""

    items: list[Worker]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


class QueueStats(BaseModel):
    """What waits and what runs on one task queue."""

    model_config = ConfigDict(extra="allow")

    task_queue: str
    workflow_tasks_ready: int
    workflow_tasks_leased: int
    activities_scheduled: int
    activities_running: int
    workers: int


#: What a schedule does with a fire that comes while a run it started is open (docs/workflows.md#schedules).
OverlapPolicy = Literal["skip", "buffer_one", "buffer_all", "cancel_other", "terminate_other", "allow_all"]
#: `Schedules.update` leaves each field it is not given as it is.
UNCHANGED: Any = object()


class Schedule(BaseModel):
    """A schedule: when it fires (`expression` read in `timezone`), the run it starts, and how far
    it has got."""

    model_config = ConfigDict(extra="allow")

    namespace: str
    schedule_id: str
    workflow_type: str
    task_queue: str
    input: Any = None
    search_attributes: dict[str, Any] = Field(default_factory=dict)
    run_timeout_seconds: float | None = None
    expression: str = Field(description="A cron expression, a macro (`@daily`…) or `@every <duration>`")
    timezone: str = Field(description="The IANA time zone the expression is read in")
    jitter_seconds: float = Field(description="Each fire waits a part of this, the same on every replica")
    start_at: datetime | None = Field(default=None, description="No fire before this")
    end_at: datetime | None = Field(default=None, description="No fire after this")
    overlap_policy: str = Field(
        description="`skip`, `buffer_one`, `buffer_all`, `cancel_other`, `terminate_other` or `allow_all`"
    )
    catchup_window_seconds: float = Field(description="How late a slot may still fire")
    paused: bool
    note: str = ""
    created_at: datetime
    updated_at: datetime
    next_run_at: datetime | None = Field(default=None, description="The next slot; None: none left or paused")
    last_fired_at: datetime | None = Field(default=None, description="When it last started a run")
    running: list[str] = Field(default_factory=list, description="Workflow ids it started that were open")
    buffered: int = Field(default=0, description="Fires waiting for a run to close")
    missed: int = Field(default=0, description="Slots that came past the catch-up window, not fired")


class ScheduleFire(BaseModel):
    """What one fire of a schedule did."""

    model_config = ConfigDict(extra="allow")

    trigger: str = Field(description="`scheduled` (a slot of its expression), `trigger` or `backfill`")
    nominal_at: datetime = Field(description="The slot; for a trigger, when it was asked for")
    fired_at: datetime
    outcome: str = Field(description="`started`, `skipped`, `buffered` (waits for a run to close), `missed`")
    workflow_id: str | None = None
    run_id: str | None = None


class ScheduleDescription(Schedule):
    """A schedule with its newest fires and its next slots."""

    recent_fires: list[ScheduleFire] = Field(description="The newest first")
    upcoming: list[datetime] = Field(description="The next slots; none while paused")


class SchedulePage(BaseModel):
    """A page of a namespace's schedules, by id."""

    items: list[Schedule]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")


#: The permission store of the platform's own authorization.
PLATFORM_STORE = "platform"

ConsistencyMode = Literal["minimize_latency", "at_least_as_fresh", "fully_consistent"]


class PermissionSchema(BaseModel):
    """A permission store's schema, in the SpiceDB schema language."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    store: str
    text: str = Field(alias="schema", description="The schema text")
    version: int
    written_at: str = Field(description="The zookie of the revision at which it took effect")
    created_by: str | None = None


class RelationshipUpdate(BaseModel):
    """One change of a relationship write: `create` fails if it exists, `touch` writes it
    regardless, `delete` removes it if it exists."""

    operation: Literal["create", "touch", "delete"]
    relationship: str = Field(description="`type:id#relation@type:id[#relation]`")

    @classmethod
    def create(cls, relationship: str) -> RelationshipUpdate:
        return cls(operation="create", relationship=relationship)

    @classmethod
    def touch(cls, relationship: str) -> RelationshipUpdate:
        return cls(operation="touch", relationship=relationship)

    @classmethod
    def delete(cls, relationship: str) -> RelationshipUpdate:
        return cls(operation="delete", relationship=relationship)


class RelationshipFilter(BaseModel):
    """Which relationships: every field given must match; `subject_relation` `...` means none."""

    resource_type: str | None = None
    resource_id: str | None = None
    relation: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    subject_relation: str | None = None


class RelationshipPrecondition(BaseModel):
    """`must_match`: some relationship matches the filter when the write happens; `must_not_match`:
    none does. Otherwise nothing is written (409 `precondition_failed`)."""

    operation: Literal["must_match", "must_not_match"]
    filter: RelationshipFilter


class RelationshipsWritten(BaseModel):
    """What a relationship write did, and its zookie."""

    model_config = ConfigDict(extra="allow")

    written_at: str = Field(description="The zookie of the write: a query with it sees the write")
    created: int
    touched: int
    deleted: int


class RelationshipsDeleted(BaseModel):
    model_config = ConfigDict(extra="allow")

    deleted: int
    written_at: str


class StoredRelationship(BaseModel):
    """A relationship as the store lists it: its text and its fields."""

    model_config = ConfigDict(extra="allow")

    relationship: str
    resource_type: str
    resource_id: str
    relation: str
    subject_type: str
    subject_id: str
    subject_relation: str | None = None


class RelationshipPage(BaseModel):
    """A page of relationships; every page of one listing reads the same revision."""

    items: list[StoredRelationship]
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")
    read_at: str


class PermissionCheck(BaseModel):
    """Whether the subject has the permission, and the revision the answer holds at."""

    model_config = ConfigDict(extra="allow")

    allowed: bool
    checked_at: str


class ExpandNode(BaseModel):
    """A node of a permission's rewrite tree: `leaf` lists the direct subjects of a relation;
    `union`, `intersection`, `exclusion` (base, then subtracted) and `arrow` have children."""

    kind: Literal["union", "intersection", "exclusion", "arrow", "leaf"]
    resource: str
    relation: str
    target: str | None = None
    subjects: list[str] | None = None
    children: list[ExpandNode] | None = None


class Expansion(BaseModel):
    tree: ExpandNode
    expanded_at: str


class ResourceLookup(BaseModel):
    """The ids of the resources on which the subject has the permission."""

    resource_ids: list[str]
    looked_up_at: str


class LookedUpSubject(BaseModel):
    id: str = Field(description="`*`: every subject of the type except `excluded_ids`")
    excluded_ids: list[str] = Field(default_factory=list)


class SubjectLookup(BaseModel):
    """The subjects of a type that have the permission on the resource."""

    subjects: list[LookedUpSubject]
    looked_up_at: str


class WorkflowFailure(ClientError):
    """The run closed without completing (`FAILED`, `CANCELLED`, `TERMINATED`, `TIMED_OUT`…)."""

    def __init__(self, run: WorkflowRun) -> None:
        error = run.error if isinstance(run.error, dict) else {}
        detail = error.get("message") or error.get("reason") or ""
        super().__init__(
            f"workflow {run.workflow_id!r} ended {run.status}" + (f": {detail}" if detail else "")
        )
        self.run = run
        self.status = run.status
        self.error = run.error


class AssayClient:
    """A connection to one Assay platform's API. Close it with `aclose()` or use `async with`."""

    def __init__(
        self, api_url: str = DEFAULT_API_URL, *, api_key: str | None = None, timeout: float = 10.0
    ) -> None:
        """`api_url` is the gateway's base URL; `api_key` (an `assay_…` key or a token from
        `POST /api/v1/auth/token`) authenticates every request, and defaults to
        `$ASSAY_API_KEY` or the file `$ASSAY_API_KEY_FILE` names; `timeout` bounds every request
        (not event streams)."""
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        api_key = api_key if api_key is not None else api_key_from_environment()
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        # Made on first use, on the loop that uses it (aiohttp sessions belong to one loop).
        self._session: aiohttp.ClientSession | None = None
        self.workflows = Workflows(self)
        self.namespaces = Namespaces(self)
        self.workers = Workers(self)
        self.queues = Queues(self)
        self.schedules = Schedules(self)
        self.permissions = Permissions(self)
        #: The zookie of this client's last write to the platform permission store. Sent with every
        #: request (`Assay-Consistency-Token`), so the platform's permission checks see this
        #: client's own grants at once; set it to share a write's visibility with another client.
        self.consistency_token: str | None = None

    async def __aenter__(self) -> AssayClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        """One pool of keep-alive connections for every request, long-polls included. aiohttp
        rather than httpx: a request through httpx's pool costs several times the CPU."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                self.api_url,
                connector=aiohttp.TCPConnector(limit=200, keepalive_timeout=4.0),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers=self._headers,
                trust_env=False,
            )
        return self._session

    async def health(self) -> PlatformHealth:
        """Every service's readiness. A degraded platform is an answer, not an error."""
        response = await self._fetch("GET", "/api/v1/health")
        if response.status in (200, 503):
            try:
                return PlatformHealth.model_validate_json(response.content)
            except ValidationError:
                pass
        raise ApiError.from_response(response)

    def event_stream(
        self,
        *,
        types: Sequence[str] = (),
        namespace: str | None = None,
        service: str | None = None,
        subject: str | None = None,
        workflow_id: str | None = None,
        after: int | None = None,
        reconnect_within: float = 30.0,
    ) -> EventStream:
        """Live events from `/api/v1/events/stream`, optionally replaying from a cursor first.

        Filters combine: `types` (CloudEvents types; any of them), `namespace`, `service`,
        `subject` (the CloudEvents subject) and `workflow_id`. With `after` the stream starts with
        the first matching event whose sequence is greater than `after`; without it, with the next
        new event. A dropped connection is re-established from the last event received, so no
        event is missed or repeated; `reconnect_within` is how many seconds to keep trying before
        giving up with `ApiUnreachable` (0 gives up at once). Raises `ApiError` when the filters
        are invalid (422) or the cursor is older than the stream retains (410).

        Use it as `async with client.event_stream(...) as stream: async for event in stream: ...`.
        """
        params: list[tuple[str, str]] = [("type", t) for t in types]
        for name, value in (
            ("namespace", namespace),
            ("service", service),
            ("subject", subject),
            ("workflow_id", workflow_id),
        ):
            if value is not None:
                params.append((name, value))
        return EventStream(self, params, after, reconnect_within)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | float] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """One JSON request to the API: the decoded answer (None when it has no body). Raises
        `ApiError` for any non-2xx answer and `ApiUnreachable` when nothing answers. `timeout`
        overrides the client's for this request (long-polls need more)."""
        response = await self._fetch(
            method,
            path,
            params={k: str(v) for k, v in (params or {}).items()},
            body=body,
            timeout=timeout,
        )
        if not response.is_success:
            raise ApiError.from_response(response)
        return json.loads(response.content) if response.content else None

    async def _fetch(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Answer:
        """One request, its answer read whole; transport failures become `ApiUnreachable`."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json"} if data is not None else {}
        if self.consistency_token is not None:
            headers[CONSISTENCY_TOKEN_HEADER] = self.consistency_token
        limit = aiohttp.ClientTimeout(total=self.timeout if timeout is None else timeout)
        try:
            async with self._http().request(
                method,
                path,
                params=params,
                data=data,
                headers=headers,
                timeout=limit,
            ) as response:
                return Answer(response.status, response.reason, await response.read())
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiUnreachable(self.api_url, _reason(exc)) from exc

    async def _open_stream(
        self,
        path: str,
        params: Sequence[tuple[str, str]],
        headers: Mapping[str, str],
        timeout: aiohttp.ClientTimeout,
    ) -> aiohttp.ClientResponse:
        """A streamed GET: the open response when it is 200; `ApiError` for any other answer."""
        try:
            response = await self._http().get(path, params=params, headers=headers, timeout=timeout)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiUnreachable(self.api_url, _reason(exc)) from exc
        if response.status != 200:
            try:
                answer = Answer(response.status, response.reason, await response.read())
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise ApiUnreachable(self.api_url, _reason(exc)) from exc
            finally:
                response.release()
            raise ApiError.from_response(answer)
        return response


class Workflows:
    """Starting and managing workflow runs: `client.workflows`. Every method takes the
    `namespace` (default `main`); those addressing a workflow id act on its latest run unless
    `run_id` is given."""

    def __init__(self, client: AssayClient) -> None:
        """Made by `AssayClient`; use `client.workflows`."""
        self._client = client

    async def start(
        self,
        workflow_type: str,
        input: Any = None,
        *,
        namespace: str = "main",
        workflow_id: str | None = None,
        task_queue: str = "main",
        id_reuse_policy: str = "allow_duplicate",
        search_attributes: Mapping[str, Any] | None = None,
        run_timeout: float | None = None,
    ) -> StartedWorkflow:
        """Start a run of `workflow_type` with `input`; without `workflow_id` the engine picks
        one. Raises `ApiError` 409 `workflow_already_running` when that id has an open run, or
        when `id_reuse_policy` (`allow_duplicate`, `allow_duplicate_failed_only`,
        `reject_duplicate`, `terminate_if_running`) refuses a closed one."""
        body: dict[str, Any] = {
            "workflow_type": workflow_type,
            "input": input,
            "namespace": namespace,
            "task_queue": task_queue,
            "id_reuse_policy": id_reuse_policy,
            "search_attributes": dict(search_attributes or {}),
        }
        if workflow_id is not None:
            body["workflow_id"] = workflow_id
        if run_timeout is not None:
            body["run_timeout_seconds"] = run_timeout
        return StartedWorkflow.model_validate(await self._client.call("POST", "/api/v1/workflows", body=body))

    async def get(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None
    ) -> WorkflowRun:
        """The run as it is now. Raises `ApiError` 404 when there is no such workflow."""
        answer = await self._client.call("GET", _path(workflow_id), params=_run(namespace, run_id))
        return WorkflowRun.model_validate(answer)

    async def list(
        self,
        *,
        namespace: str = "main",
        status: str | None = None,
        workflow_type: str | None = None,
        search_attributes: Mapping[str, Any] | None = None,
        task_queue: str | None = None,
        parent_workflow_id: str | None = None,
        worker_id: str | None = None,
        text: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> WorkflowPage:
        """A page of runs, newest first, filtered by status, type, search attribute values (every
        key must equal its value), task queue, parent, the worker holding (or last holding) their
        workflow task and a piece of their id or type (`text`, any case). Pass the page's
        `next_cursor` as `cursor` for the next."""
        params: dict[str, str | int | float] = {"namespace": namespace, "limit": limit}
        filters = {
            "status": status,
            "workflow_type": workflow_type,
            "task_queue": task_queue,
            "parent_workflow_id": parent_workflow_id,
            "worker_id": worker_id,
            "q": text,
            "cursor": cursor,
        }
        for key, value in filters.items():
            if value is not None:
                params[key] = value
        if search_attributes:
            params["search_attributes"] = json.dumps(dict(search_attributes))
        return WorkflowPage.model_validate(await self._client.call("GET", "/api/v1/workflows", params=params))

    async def events(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None, after_seq: int = 0
    ) -> builtins.list[HistoryEvent]:
        """The run's history after `after_seq` (all of it by default), in seq order."""
        events: builtins.list[HistoryEvent] = []
        while True:
            params: dict[str, str | int | float] = {**_run(namespace, run_id), "after_seq": after_seq}
            page = await self._client.call("GET", _path(workflow_id, "events"), params=params)
            batch = [HistoryEvent.from_json(event) for event in page["events"]]
            if not batch:
                return events
            events += batch
            after_seq, run_id = batch[-1].seq, str(page["run_id"])

    async def children(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None
    ) -> builtins.list[WorkflowRun]:
        """The child runs the run started, in the order it started them, each as it is now (read
        from the `ChildWorkflowStarted` events of its history)."""
        run = await self.get(workflow_id, namespace=namespace, run_id=run_id)
        history = await self.events(workflow_id, namespace=namespace, run_id=run.run_id)
        started = [event.attributes for event in history if event.type == "ChildWorkflowStarted"]
        return [
            await self.get(str(child["workflow_id"]), namespace=namespace, run_id=str(child["run_id"]))
            for child in started
        ]

    async def signal(
        self,
        workflow_id: str,
        name: str,
        payload: Any = None,
        *,
        namespace: str = "main",
        run_id: str | None = None,
    ) -> None:
        """Send signal `name` with a JSON `payload` to the open run. Raises `ApiError` 409
        `workflow_closed` when the run is closed."""
        path = _path(workflow_id, "signal", name)
        await self._client.call("POST", path, params=_run(namespace, run_id), body={"payload": payload})

    async def cancel(
        self, workflow_id: str, reason: str = "", *, namespace: str = "main", run_id: str | None = None
    ) -> None:
        """Ask the open run to cancel: its code gets `WorkflowCancelled` at the `await` it waits on
        and may compensate before it ends `CANCELLED`."""
        path = _path(workflow_id, "cancel")
        await self._client.call("POST", path, params=_run(namespace, run_id), body={"reason": reason})

    async def terminate(
        self, workflow_id: str, reason: str = "", *, namespace: str = "main", run_id: str | None = None
    ) -> None:
        """End the open run at once, `TERMINATED`, without running any more of its code."""
        path = _path(workflow_id, "terminate")
        await self._client.call("POST", path, params=_run(namespace, run_id), body={"reason": reason})

    async def continue_as_new(
        self,
        workflow_id: str,
        input: Any = SAME_INPUT,
        *,
        namespace: str = "main",
        run_id: str | None = None,
    ) -> StartedWorkflow:
        """Close the open run `CONTINUED_AS_NEW`, as its code's `ctx.continue_as_new` would, and
        start its successor (same workflow id, type, queue and search attributes, a fresh history)
        with `input`; without `input`, with the closing run's input. Raises `ApiError` 409
        `workflow_closed` when the run is closed."""
        body: dict[str, Any] = {} if input is SAME_INPUT else {"input": input}
        if run_id is not None:
            body["run_id"] = run_id
        answer = await self._client.call(
            "POST", _path(workflow_id, "continue-as-new"), params={"namespace": namespace}, body=body
        )
        return StartedWorkflow.model_validate(answer)

    async def retry(
        self,
        workflow_id: str,
        *,
        requested_by: str,
        reason: str,
        namespace: str = "main",
        run_id: str | None = None,
    ) -> RetriedWorkflow:
        """Retry the workflow's failed latest run from the activity whose failure ended it: a new
        run of the same workflow id takes the failed run's history up to that failure, runs the
        activity again from attempt 1 and goes on from there; the failed run stays `FAILED`.
        `requested_by` and `reason` (neither blank) are recorded in the new run's history. Raises
        `ApiError` 409 `workflow_not_retryable` when the latest run is not `FAILED`, did not fail
        because of an activity, or is a child workflow."""
        answer = await self._client.call(
            "POST",
            _path(workflow_id, "retry"),
            params=_run(namespace, run_id),
            body={"requested_by": requested_by, "reason": reason},
        )
        return RetriedWorkflow.model_validate(answer)

    async def archive(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None
    ) -> WorkflowArchive:
        """The archive of the run, purged after its namespace's retention, read back through the
        service. Raises `ApiError` 404 `workflow_not_archived` when the run has not been purged
        (its history is still served), 410 `workflow_history_purged` when it was purged without
        an archive, 503 `archive_unavailable` when the bucket cannot be read now."""
        answer = await self._client.call("GET", _path(workflow_id, "archive"), params=_run(namespace, run_id))
        return WorkflowArchive.model_validate(answer)

    async def query_state(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None
    ) -> QueryState:
        """The query state the run's code recorded last. Raises `ApiError` 404
        `query_state_not_found` before it records any."""
        answer = await self._client.call("GET", _path(workflow_id, "state"), params=_run(namespace, run_id))
        return QueryState.model_validate(answer)

    async def result(
        self,
        workflow_id: str,
        *,
        namespace: str = "main",
        run_id: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Wait until the run closes and return its result. Raises `WorkflowFailure` when it closed
        any other way than `COMPLETED` (a run that continued as new is followed to its successor),
        and `TimeoutError` when `timeout` seconds pass first (None: wait as long as it takes)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            wait = (
                RESULT_WAIT_SECONDS if deadline is None else min(RESULT_WAIT_SECONDS, deadline - loop.time())
            )
            if wait < 0:
                raise TimeoutError(f"workflow {workflow_id!r} did not close within {timeout}s")
            run = await self.wait_closed(workflow_id, wait, namespace=namespace, run_id=run_id)
            if run.status == "COMPLETED":
                return run.result
            if run.status == "CONTINUED_AS_NEW":
                run_id = None
            elif not run.is_open:
                raise WorkflowFailure(run)
            else:
                run_id = run.run_id

    async def wait_closed(
        self, workflow_id: str, wait: float, *, namespace: str = "main", run_id: str | None = None
    ) -> WorkflowRun:
        """The run as it is once it closes or `wait` seconds (at most 60) pass, whichever is
        first: one long-poll, which returns the moment the run closes."""
        params = {**_run(namespace, run_id), "wait_seconds": wait}
        answer = await self._client.call(
            "GET", _path(workflow_id, "result"), params=params, timeout=wait + self._client.timeout
        )
        return WorkflowRun.model_validate(answer)


class Namespaces:
    """Creating, listing and deleting namespaces: `client.namespaces`."""

    def __init__(self, client: AssayClient) -> None:
        """Made by `AssayClient`; use `client.namespaces`."""
        self._client = client

    async def create(
        self, name: str, description: str = "", *, retention_days: int | None = None
    ) -> Namespace:
        """Create namespace `name` (needs `platform:assay#operate`); platform roles reach it once
        this returns. Its closed runs are kept `retention_days` (None: the service's default).
        Raises `ApiError` 409 when it exists, 422 when the name is not allowed."""
        body: dict[str, Any] = {"name": name, "description": description, "retention_days": retention_days}
        return Namespace.model_validate(await self._client.call("POST", "/api/v1/namespaces", body=body))

    async def update(
        self,
        name: str,
        *,
        description: str | None = None,
        retention_days: int | Literal["default"] | None = None,
    ) -> Namespace:
        """Change what is given of namespace `name` (needs `namespace:<name>#administer`): its
        description, how many days its closed runs are kept (`"default"`: the service's default).
        Raises `ApiError` 404 when there is none, 422 when a value is not allowed."""
        body: dict[str, Any] = {}
        if description is not None:
            body["description"] = description
        if retention_days is not None:
            body["retention_days"] = None if retention_days == "default" else retention_days
        answer = await self._client.call("PATCH", f"/api/v1/namespaces/{quote(name, safe='')}", body=body)
        return Namespace.model_validate(answer)

    async def list(self, *, limit: int = 100, cursor: str | None = None) -> NamespacePage:
        """A page of the namespaces the caller can view, by name; pass the page's `next_cursor` as
        `cursor` for the next."""
        params: dict[str, str | int | float] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        answer = await self._client.call("GET", "/api/v1/namespaces", params=params)
        return NamespacePage.model_validate(answer)

    async def get(self, name: str) -> Namespace:
        """Namespace `name`. Raises `ApiError` 403 `permission_denied` when the caller cannot view
        it, which is also the answer when there is none (nobody holds a permission on it)."""
        answer = await self._client.call("GET", f"/api/v1/namespaces/{quote(name, safe='')}")
        return Namespace.model_validate(answer)

    async def delete(self, name: str) -> None:
        """Delete namespace `name` (needs `namespace:<name>#administer`), and every grant on it.
        Raises `ApiError` 403 when the caller may not (also when there is none), 409 when it is
        still in use."""
        await self._client.call("DELETE", f"/api/v1/namespaces/{quote(name, safe='')}")


class Workers:
    """The workers registered in a namespace: `client.workers`."""

    def __init__(self, client: AssayClient) -> None:
        """Made by `AssayClient`; use `client.workers`."""
        self._client = client

    async def list(
        self, *, namespace: str = "main", limit: int = 100, cursor: str | None = None
    ) -> WorkerPage:
        """A page of the namespace's workers; pass the page's `next_cursor` as `cursor` for the next."""
        params: dict[str, str | int | float] = {"namespace": namespace, "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return WorkerPage.model_validate(await self._client.call("GET", "/api/v1/workers", params=params))


class Queues:
    """The task queues of a namespace: `client.queues`."""

    def __init__(self, client: AssayClient) -> None:
        """Made by `AssayClient`; use `client.queues`."""
        self._client = client

    async def list(self, *, namespace: str = "main") -> builtins.list[QueueStats]:
        """Each task queue of the namespace with its backlog and its workers."""
        answer = await self._client.call("GET", "/api/v1/queues", params={"namespace": namespace})
        return [QueueStats.model_validate(item) for item in answer["items"]]


class Schedules:
    """Schedules that start a workflow at the slots of a cron expression, a macro or an interval:
    `client.schedules`. Every method takes the `namespace` (default `main`). Besides the errors
    each method names, any of them raises `ApiError` 404 `schedule_not_found` when there is no
    such schedule, and 422 when a value is not allowed (`detail` says which and why)."""

    def __init__(self, client: AssayClient) -> None:
        """Made by `AssayClient`; use `client.schedules`."""
        self._client = client

    async def create(
        self,
        schedule_id: str,
        workflow_type: str,
        expression: str,
        input: Any = None,
        *,
        namespace: str = "main",
        timezone: str = "UTC",
        task_queue: str = "main",
        overlap_policy: OverlapPolicy = "skip",
        jitter: float = 0,
        start_at: datetime | None = None,
        end_at: datetime | None = None,
        catchup_window: float | None = None,
        paused: bool = False,
        note: str = "",
        search_attributes: Mapping[str, Any] | None = None,
        run_timeout: float | None = None,
    ) -> Schedule:
        """Create schedule `schedule_id` (letters, digits, `_`, `.`, `-`): at each slot of
        `expression` (`0 2 * * *`, `@daily`, `@every 10m`…; docs/workflows.md#schedules), read in
        the IANA `timezone`, it starts a run of `workflow_type` with `input` on `task_queue`.
        `jitter` delays each fire by up to that many seconds; `start_at` and `end_at` (aware)
        bound the slots; a slot that comes more than `catchup_window` seconds late (the service
        was down) is recorded as missed (None: the service's default, an hour). Raises `ApiError`
        409 `schedule_exists`, 404 when the namespace does not exist, 422 `invalid_schedule` when
        the expression, time zone or window cannot be used."""
        body: dict[str, Any] = {
            "schedule_id": schedule_id,
            "namespace": namespace,
            "workflow_type": workflow_type,
            "task_queue": task_queue,
            "input": input,
            "search_attributes": dict(search_attributes or {}),
            "run_timeout_seconds": run_timeout,
            "expression": expression,
            "timezone": timezone,
            "jitter_seconds": jitter,
            "start_at": start_at,
            "end_at": end_at,
            "overlap_policy": overlap_policy,
            "paused": paused,
            "note": note,
        }
        if catchup_window is not None:
            body["catchup_window_seconds"] = catchup_window
        answer = await self._client.call("POST", "/api/v1/schedules", body=to_jsonable_python(body))
        return Schedule.model_validate(answer)

    async def list(
        self, *, namespace: str = "main", limit: int = 100, cursor: str | None = None
    ) -> SchedulePage:
        """A page of the namespace's schedules, by id; pass the page's `next_cursor` as `cursor`
        for the next."""
        params: dict[str, str | int | float] = {"namespace": namespace, "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return SchedulePage.model_validate(await self._client.call("GET", "/api/v1/schedules", params=params))

    async def describe(
        self, schedule_id: str, *, namespace: str = "main", recent: int = 10, upcoming: int = 5
    ) -> ScheduleDescription:
        """The schedule with its `recent` newest fires and its next `upcoming` slots (each at most
        100)."""
        params: dict[str, str | int | float] = {
            "namespace": namespace,
            "recent": recent,
            "upcoming": upcoming,
        }
        answer = await self._client.call("GET", _schedule(schedule_id), params=params)
        return ScheduleDescription.model_validate(answer)

    async def update(
        self,
        schedule_id: str,
        *,
        namespace: str = "main",
        workflow_type: str = UNCHANGED,
        expression: str = UNCHANGED,
        input: Any = UNCHANGED,
        timezone: str = UNCHANGED,
        task_queue: str = UNCHANGED,
        overlap_policy: OverlapPolicy = UNCHANGED,
        jitter: float = UNCHANGED,
        start_at: datetime | None = UNCHANGED,
        end_at: datetime | None = UNCHANGED,
        catchup_window: float = UNCHANGED,
        note: str = UNCHANGED,
        search_attributes: Mapping[str, Any] = UNCHANGED,
        run_timeout: float | None = UNCHANGED,
    ) -> Schedule:
        """Change the fields given, as `create` names them; the others stay. `input`, `start_at`,
        `end_at` and `run_timeout` may be set to None. A change of the timing (expression, time
        zone, jitter, window) computes the next slot again from now."""
        fields = {
            "workflow_type": workflow_type,
            "task_queue": task_queue,
            "input": input,
            "search_attributes": search_attributes,
            "run_timeout_seconds": run_timeout,
            "expression": expression,
            "timezone": timezone,
            "jitter_seconds": jitter,
            "start_at": start_at,
            "end_at": end_at,
            "overlap_policy": overlap_policy,
            "catchup_window_seconds": catchup_window,
            "note": note,
        }
        body = {name: value for name, value in fields.items() if value is not UNCHANGED}
        answer = await self._client.call(
            "PATCH", _schedule(schedule_id), params={"namespace": namespace}, body=to_jsonable_python(body)
        )
        return Schedule.model_validate(answer)

    async def delete(self, schedule_id: str, *, namespace: str = "main") -> None:
        """Delete the schedule; the runs it started go on."""
        await self._client.call("DELETE", _schedule(schedule_id), params={"namespace": namespace})

    async def pause(self, schedule_id: str, note: str | None = None, *, namespace: str = "main") -> Schedule:
        """Stop firing at its slots (a trigger or a backfill still fires); `note` says why (it
        replaces the schedule's note; None keeps it)."""
        answer = await self._client.call(
            "POST", _schedule(schedule_id, "pause"), params={"namespace": namespace}, body=_note(note)
        )
        return Schedule.model_validate(answer)

    async def resume(self, schedule_id: str, note: str | None = None, *, namespace: str = "main") -> Schedule:
        """Fire again from its first slot after now: the slots of the pause are not caught up.
        `note` replaces the schedule's note (None keeps it)."""
        answer = await self._client.call(
            "POST", _schedule(schedule_id, "resume"), params={"namespace": namespace}, body=_note(note)
        )
        return Schedule.model_validate(answer)

    async def trigger(
        self, schedule_id: str, *, namespace: str = "main", overlap_policy: OverlapPolicy | None = None
    ) -> ScheduleFire:
        """Fire now, paused or not, under `overlap_policy` (None: the schedule's own). The run it
        starts, if any, is the fire's `workflow_id`."""
        answer = await self._client.call(
            "POST",
            _schedule(schedule_id, "trigger"),
            params={"namespace": namespace},
            body={"overlap_policy": overlap_policy},
        )
        return ScheduleFire.model_validate(answer)

    async def backfill(
        self,
        schedule_id: str,
        start_at: datetime,
        end_at: datetime,
        *,
        namespace: str = "main",
        overlap_policy: OverlapPolicy | None = None,
    ) -> builtins.list[ScheduleFire]:
        """Fire now, in order, the slots of its expression from `start_at` to `end_at` (both
        included, aware; at most 1,000 slots), under `overlap_policy` (None: the schedule's own).
        A slot fired before is not fired again. Raises `ApiError` 422 `invalid_schedule` when the
        range runs backwards or holds too many slots."""
        body = {"start_at": start_at, "end_at": end_at, "overlap_policy": overlap_policy}
        answer = await self._client.call(
            "POST",
            _schedule(schedule_id, "backfill"),
            params={"namespace": namespace},
            body=to_jsonable_python(body),
        )
        return [ScheduleFire.model_validate(fire) for fire in answer["fires"]]


def _note(note: str | None) -> dict[str, str]:
    """The body of a pause or a resume: a note replaces the schedule's, none keeps it."""
    return {} if note is None else {"note": note}


def _schedule(schedule_id: str, action: str = "") -> str:
    """`/api/v1/schedules/{schedule_id}[/{action}]`, the id escaped."""
    path = f"/api/v1/schedules/{quote(schedule_id, safe='')}"
    return f"{path}/{action}" if action else path


class Permissions:
    """Permission stores (Zanzibar-style): schema, relationships, checks, expand and lookups —
    `client.permissions`. Every method takes the `store` (default `platform`, the platform's own).
    Questions take a `consistency`; by default `at_least_as_fresh` when a `zookie` (the
    `written_at` of a write) is given, else `minimize_latency`."""

    def __init__(self, client: AssayClient) -> None:
        """Made by `AssayClient`; use `client.permissions`."""
        self._client = client

    async def write_schema(
        self, schema: str, *, force: bool = False, store: str = PLATFORM_STORE
    ) -> PermissionSchema:
        """Replace the store's schema. Raises `ApiError` 422 (`invalid_schema`, with `line` and
        `column`) when it does not parse, 409 when existing relationships would lose their meaning
        (`force` deletes them instead)."""
        body = {"schema": schema, "force": force}
        written = PermissionSchema.model_validate(
            await self._client.call("PUT", _store(store, "schema"), body=body)
        )
        self._wrote(store, written.written_at)
        return written

    async def read_schema(self, *, store: str = PLATFORM_STORE) -> PermissionSchema:
        """The store's schema. Raises `ApiError` 404 when it has none yet."""
        return PermissionSchema.model_validate(await self._client.call("GET", _store(store, "schema")))

    async def write_relationships(
        self,
        updates: Sequence[RelationshipUpdate],
        *,
        preconditions: Sequence[RelationshipPrecondition] = (),
        store: str = PLATFORM_STORE,
    ) -> RelationshipsWritten:
        """Apply `updates` atomically if every precondition holds (up to 1,000 of each)."""
        body = {
            "updates": [u.model_dump() for u in updates],
            "preconditions": [p.model_dump(exclude_none=True) for p in preconditions],
        }
        answer = await self._client.call("POST", _store(store, "relationships"), body=body)
        written = RelationshipsWritten.model_validate(answer)
        self._wrote(store, written.written_at)
        return written

    async def read_relationships(
        self,
        filter: RelationshipFilter | None = None,
        *,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> RelationshipPage:
        """A page of the relationships matching `filter` (all without one); pass the page's
        `next_cursor` as `cursor` for the next. Fully consistent unless told otherwise."""
        params: dict[str, str | int | float] = {
            k: v for k, v in (filter or RelationshipFilter()).model_dump().items() if v is not None
        }
        params["limit"] = limit
        params["consistency"] = consistency or ("at_least_as_fresh" if zookie else "fully_consistent")
        if zookie is not None:
            params["zookie"] = zookie
        if cursor is not None:
            params["cursor"] = cursor
        answer = await self._client.call("GET", _store(store, "relationships"), params=params)
        return RelationshipPage.model_validate(answer)

    async def delete_relationships(
        self,
        filter: RelationshipFilter,
        *,
        preconditions: Sequence[RelationshipPrecondition] = (),
        store: str = PLATFORM_STORE,
    ) -> RelationshipsDeleted:
        """Delete every relationship matching `filter` (at least one field)."""
        body = {
            "filter": filter.model_dump(exclude_none=True),
            "preconditions": [p.model_dump(exclude_none=True) for p in preconditions],
        }
        answer = await self._client.call("POST", _store(store, "relationships/delete"), body=body)
        deleted = RelationshipsDeleted.model_validate(answer)
        self._wrote(store, deleted.written_at)
        return deleted

    def _wrote(self, store: str, zookie: str) -> None:
        """Later requests of the client see a write to the platform store (the platform's own
        checks read only that one)."""
        if store == PLATFORM_STORE:
            self._client.consistency_token = zookie

    async def check(
        self,
        resource: str,
        permission: str,
        subject: str,
        *,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> PermissionCheck:
        """Whether `subject` (`user:ann`, `group:eng#member`) has `permission` (or a relation) on
        `resource` (`namespace:payments`). A denial is an answer, not an error."""
        body = {
            "resource": resource,
            "permission": permission,
            "subject": subject,
            "consistency": _consistency(consistency, zookie),
        }
        return PermissionCheck.model_validate(
            await self._client.call("POST", _store(store, "check"), body=body)
        )

    async def expand(
        self,
        resource: str,
        permission: str,
        *,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> Expansion:
        """One level of the rewrite tree of `permission` on `resource`."""
        body = {
            "resource": resource,
            "permission": permission,
            "consistency": _consistency(consistency, zookie),
        }
        return Expansion.model_validate(await self._client.call("POST", _store(store, "expand"), body=body))

    async def lookup_resources(
        self,
        resource_type: str,
        permission: str,
        subject: str,
        *,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> ResourceLookup:
        """The ids of the resources of `resource_type` on which `subject` has `permission`."""
        body = {
            "resource_type": resource_type,
            "permission": permission,
            "subject": subject,
            "consistency": _consistency(consistency, zookie),
        }
        answer = await self._client.call("POST", _store(store, "lookup/resources"), body=body)
        return ResourceLookup.model_validate(answer)

    async def lookup_subjects(
        self,
        resource: str,
        permission: str,
        subject_type: str,
        *,
        subject_relation: str | None = None,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> SubjectLookup:
        """The subjects of `subject_type` (with `subject_relation`: usersets such as
        `group:x#member`) that have `permission` on `resource`."""
        body: dict[str, Any] = {
            "resource": resource,
            "permission": permission,
            "subject_type": subject_type,
            "consistency": _consistency(consistency, zookie),
        }
        if subject_relation is not None:
            body["subject_relation"] = subject_relation
        answer = await self._client.call("POST", _store(store, "lookup/subjects"), body=body)
        return SubjectLookup.model_validate(answer)


def _store(store: str, path: str) -> str:
    """A route of a permission store: the platform's own under its short prefix."""
    if store == PLATFORM_STORE:
        return f"/api/v1/auth/permissions/{path}"
    return f"/api/v1/auth/permissions/stores/{quote(store, safe='')}/{path}"


def _consistency(mode: ConsistencyMode | None, zookie: str | None) -> dict[str, str]:
    chosen = mode or ("at_least_as_fresh" if zookie else "minimize_latency")
    return {"mode": chosen, **({"zookie": zookie} if zookie is not None else {})}


#: The longest single wait of `Workflows.result` (the API's limit is 60 s).
RESULT_WAIT_SECONDS = 30.0


def _path(workflow_id: str, *rest: str) -> str:
    """`/api/v1/workflows/{workflow_id}/…`, each segment escaped (ids may hold `/`)."""
    return "/".join(["/api/v1/workflows", *(quote(part, safe="") for part in (workflow_id, *rest))])


def _run(namespace: str, run_id: str | None) -> dict[str, str | int | float]:
    return {"namespace": namespace} if run_id is None else {"namespace": namespace, "run_id": run_id}


class EventStream:
    """An open `/api/v1/events/stream`; iterate it for `Event`s. Made by `AssayClient.event_stream`."""

    def __init__(
        self,
        client: AssayClient,
        params: Sequence[tuple[str, str]],
        after: int | None,
        reconnect_within: float,
    ) -> None:
        self._client = client
        self._params = params
        self._reconnect_within = reconnect_within
        self._reader = Reader()
        self._response: aiohttp.ClientResponse | None = None
        self._frames: AsyncGenerator[Frame, None] | None = None
        self._is_open = False
        #: The sequence of the last event received (or the starting cursor): where a reconnect resumes.
        self.last_sequence = after

    async def __aenter__(self) -> EventStream:
        await self._connect()
        self._is_open = True
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._is_open = False
        await self._disconnect()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if not self._is_open:
            raise RuntimeError("iterate the stream inside `async with client.event_stream(...)`")
        while True:
            if self._frames is None:
                await self._reconnect()
                continue
            try:
                frame = await anext(self._frames)
            except (StopAsyncIteration, aiohttp.ClientError, TimeoutError):
                await self._disconnect()
                continue
            if frame.id is None or not frame.id.isdigit():
                continue
            try:
                event = parse_event(int(frame.id), frame.data)
            except ValidationError:
                log.warning("skipping stream event %s: it is not a CloudEvent", frame.id)
                continue
            self.last_sequence = event.sequence
            return event

    async def _connect(self) -> None:
        headers = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if self.last_sequence is not None:
            headers["last-event-id"] = str(self.last_sequence)
        timeout = aiohttp.ClientTimeout(
            total=None, connect=self._client.timeout, sock_read=STREAM_SILENCE_SECONDS
        )
        response = await self._client._open_stream("/api/v1/events/stream", self._params, headers, timeout)
        self._response = response
        self._frames = self._reader.frames(_lines(response))

    async def _reconnect(self) -> None:
        """Connect again after the server's `retry` delay; keep trying while failures are transient."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._reconnect_within
        failure: ClientError = ApiUnreachable(self._client.api_url, "the event stream was interrupted")
        while (remaining := deadline - loop.time()) > 0:
            await asyncio.sleep(min(self._reader.retry_seconds or DEFAULT_RETRY_SECONDS, remaining))
            try:
                await self._connect()
                return
            except ApiUnreachable as exc:
                failure = exc
            except ApiError as exc:
                if exc.status not in _TRANSIENT_STATUSES:
                    raise
                failure = exc
        raise failure

    async def _disconnect(self) -> None:
        frames, self._frames = self._frames, None
        response, self._response = self._response, None
        if frames is not None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await frames.aclose()
        if response is not None:
            response.close()


async def _lines(response: aiohttp.ClientResponse) -> AsyncIterator[str]:
    """The lines of a streamed answer, without their line ends (any length: events can be big)."""
    pending = b""
    async for chunk in response.content.iter_any():
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.removesuffix(b"\r").decode("utf-8")
    if pending:
        yield pending.removesuffix(b"\r").decode("utf-8")


def _reason(exc: BaseException) -> str:
    """Why a request got no answer, in words: the operating system's, when it gave any."""
    if isinstance(exc, TimeoutError):
        return "timed out"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            words = os.strerror(cause.errno) if cause.errno > 0 else (cause.strerror or str(cause))
            return words.lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc).lower() or type(exc).__name__


from assay._sync_client import SyncAssayClient as SyncAssayClient  # noqa: E402
from assay._sync_client import SyncEventStream as SyncEventStream  # noqa: E402
