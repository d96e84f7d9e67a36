"""`SyncAssayClient`: `AssayClient` for code without an event loop.

It owns a private event loop running in a daemon thread and an `AssayClient` made on that loop;
each method runs the async client's matching coroutine there and waits for its answer. Results
and errors are the async client's own (`ApiError`, `ApiUnreachable`, `WorkflowFailure`…).
Import it from `assay.client`, which exports it.
"""

from __future__ import annotations

import asyncio
import builtins
import threading
from collections.abc import Coroutine, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, TypeVar

from assay._event import Event
from assay.client import (
    DEFAULT_API_URL,
    PLATFORM_STORE,
    SAME_INPUT,
    UNCHANGED,
    AssayClient,
    ConsistencyMode,
    EventStream,
    Expansion,
    Namespace,
    NamespacePage,
    Namespaces,
    OverlapPolicy,
    PermissionCheck,
    Permissions,
    PermissionSchema,
    PlatformHealth,
    QueryState,
    Queues,
    QueueStats,
    RelationshipFilter,
    RelationshipPage,
    RelationshipPrecondition,
    RelationshipsDeleted,
    RelationshipsWritten,
    RelationshipUpdate,
    ResourceLookup,
    RetriedWorkflow,
    Schedule,
    ScheduleDescription,
    ScheduleFire,
    SchedulePage,
    Schedules,
    StartedWorkflow,
    SubjectLookup,
    WorkerPage,
    Workers,
    WorkflowArchive,
    WorkflowPage,
    WorkflowRun,
    Workflows,
)
from assay.workflow._history import HistoryEvent

T = TypeVar("T")


class _Loop:
    """The private event loop and the daemon thread that runs it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="assay-sync-client", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and wait for its result (or exception). Interrupting the wait
        (Ctrl-C) cancels it."""
        if self.loop.is_closed():
            coro.close()
            raise RuntimeError("the client is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


async def _open(api_url: str, api_key: str | None, timeout: float) -> AssayClient:
    return AssayClient(api_url, api_key=api_key, timeout=timeout)


class SyncAssayClient:
    """`AssayClient`, blocking: the same methods, arguments, results and errors, without `await`.
    Close it with `close()` or use `with`. One client may be shared by several threads."""

    def __init__(
        self, api_url: str = DEFAULT_API_URL, *, api_key: str | None = None, timeout: float = 10.0
    ) -> None:
        """As `AssayClient`: `api_url` is the gateway's base URL, `api_key` authenticates every
        request, `timeout` bounds every request (not event streams)."""
        self._loop = _Loop()
        self._run = self._loop.run
        try:
            self._client = self._run(_open(api_url, api_key, timeout))
        except BaseException:
            self._loop.stop()
            raise
        self.api_url = self._client.api_url
        self.timeout = self._client.timeout
        self.workflows = SyncWorkflows(self._client.workflows, self._loop)
        self.namespaces = SyncNamespaces(self._client.namespaces, self._loop)
        self.workers = SyncWorkers(self._client.workers, self._loop)
        self.queues = SyncQueues(self._client.queues, self._loop)
        self.schedules = SyncSchedules(self._client.schedules, self._loop)
        self.permissions = SyncPermissions(self._client.permissions, self._loop)

    def __enter__(self) -> SyncAssayClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connections and stop its thread. Closing twice does nothing."""
        if self._loop.loop.is_closed():
            return
        try:
            self._run(self._client.aclose())
            self._run(self._loop.loop.shutdown_asyncgens())
            self._run(self._loop.loop.shutdown_default_executor())
        finally:
            self._loop.stop()

    def health(self) -> PlatformHealth:
        """See `AssayClient.health`."""
        return self._run(self._client.health())

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
    ) -> SyncEventStream:
        """See `AssayClient.event_stream`. Use it as
        `with client.event_stream(...) as stream: for event in stream: ...`."""
        stream = self._client.event_stream(
            types=types,
            namespace=namespace,
            service=service,
            subject=subject,
            workflow_id=workflow_id,
            after=after,
            reconnect_within=reconnect_within,
        )
        return SyncEventStream(stream, self._loop)

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int | float] | None = None,
        body: Any = None,
        timeout: float | None = None,
    ) -> Any:
        """See `AssayClient.call`."""
        return self._run(self._client.call(method, path, params=params, body=body, timeout=timeout))


class SyncEventStream:
    """An open live event stream; iterate it for `Event`s. Made by `SyncAssayClient.event_stream`."""

    def __init__(self, stream: EventStream, loop: _Loop) -> None:
        self._stream = stream
        self._run = loop.run
        self._is_open = False

    @property
    def last_sequence(self) -> int | None:
        """The sequence of the last event received (or the starting cursor)."""
        return self._stream.last_sequence

    def __enter__(self) -> SyncEventStream:
        self._run(self._stream.__aenter__())
        self._is_open = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the stream's connection. Closing twice does nothing."""
        if self._is_open:
            self._is_open = False
            self._run(self._stream.__aexit__(None, None, None))

    def __iter__(self) -> SyncEventStream:
        return self

    def __next__(self) -> Event:
        if not self._is_open:
            raise RuntimeError("iterate the stream inside `with client.event_stream(...)`")
        try:
            return self._run(self._stream.__anext__())
        except StopAsyncIteration:
            raise StopIteration from None


class SyncWorkflows:
    """`client.workflows` of a `SyncAssayClient`: each method is `Workflows`' own, blocking."""

    def __init__(self, workflows: Workflows, loop: _Loop) -> None:
        self._async = workflows
        self._run = loop.run

    def start(
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
        """See `Workflows.start`."""
        return self._run(
            self._async.start(
                workflow_type,
                input,
                namespace=namespace,
                workflow_id=workflow_id,
                task_queue=task_queue,
                id_reuse_policy=id_reuse_policy,
                search_attributes=search_attributes,
                run_timeout=run_timeout,
            )
        )

    def get(self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None) -> WorkflowRun:
        """See `Workflows.get`."""
        return self._run(self._async.get(workflow_id, namespace=namespace, run_id=run_id))

    def list(
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
        """See `Workflows.list`."""
        return self._run(
            self._async.list(
                namespace=namespace,
                status=status,
                workflow_type=workflow_type,
                search_attributes=search_attributes,
                task_queue=task_queue,
                parent_workflow_id=parent_workflow_id,
                worker_id=worker_id,
                text=text,
                limit=limit,
                cursor=cursor,
            )
        )

    def events(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None, after_seq: int = 0
    ) -> builtins.list[HistoryEvent]:
        """See `Workflows.events`."""
        return self._run(
            self._async.events(workflow_id, namespace=namespace, run_id=run_id, after_seq=after_seq)
        )

    def children(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None
    ) -> builtins.list[WorkflowRun]:
        """See `Workflows.children`."""
        return self._run(self._async.children(workflow_id, namespace=namespace, run_id=run_id))

    def signal(
        self,
        workflow_id: str,
        name: str,
        payload: Any = None,
        *,
        namespace: str = "main",
        run_id: str | None = None,
    ) -> None:
        """See `Workflows.signal`."""
        self._run(self._async.signal(workflow_id, name, payload, namespace=namespace, run_id=run_id))

    def cancel(
        self, workflow_id: str, reason: str = "", *, namespace: str = "main", run_id: str | None = None
    ) -> None:
        """See `Workflows.cancel`."""
        self._run(self._async.cancel(workflow_id, reason, namespace=namespace, run_id=run_id))

    def terminate(
        self, workflow_id: str, reason: str = "", *, namespace: str = "main", run_id: str | None = None
    ) -> None:
        """See `Workflows.terminate`."""
        self._run(self._async.terminate(workflow_id, reason, namespace=namespace, run_id=run_id))

    def continue_as_new(
        self,
        workflow_id: str,
        input: Any = SAME_INPUT,
        *,
        namespace: str = "main",
        run_id: str | None = None,
    ) -> StartedWorkflow:
        """See `Workflows.continue_as_new`."""
        return self._run(self._async.continue_as_new(workflow_id, input, namespace=namespace, run_id=run_id))

    def retry(
        self,
        workflow_id: str,
        *,
        requested_by: str,
        reason: str,
        namespace: str = "main",
        run_id: str | None = None,
    ) -> RetriedWorkflow:
        """See `Workflows.retry`."""
        return self._run(
            self._async.retry(
                workflow_id, requested_by=requested_by, reason=reason, namespace=namespace, run_id=run_id
            )
        )

    def archive(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None
    ) -> WorkflowArchive:
        """See `Workflows.archive`."""
        return self._run(self._async.archive(workflow_id, namespace=namespace, run_id=run_id))

    def query_state(
        self, workflow_id: str, *, namespace: str = "main", run_id: str | None = None
    ) -> QueryState:
        """See `Workflows.query_state`."""
        return self._run(self._async.query_state(workflow_id, namespace=namespace, run_id=run_id))

    def result(
        self,
        workflow_id: str,
        *,
        namespace: str = "main",
        run_id: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """See `Workflows.result`: blocks until the run closes (or `timeout` seconds pass)."""
        return self._run(self._async.result(workflow_id, namespace=namespace, run_id=run_id, timeout=timeout))

    def wait_closed(
        self, workflow_id: str, wait: float, *, namespace: str = "main", run_id: str | None = None
    ) -> WorkflowRun:
        """See `Workflows.wait_closed`."""
        return self._run(self._async.wait_closed(workflow_id, wait, namespace=namespace, run_id=run_id))


class SyncNamespaces:
    """`client.namespaces` of a `SyncAssayClient`: each method is `Namespaces`' own, blocking."""

    def __init__(self, namespaces: Namespaces, loop: _Loop) -> None:
        self._async = namespaces
        self._run = loop.run

    def create(self, name: str, description: str = "", *, retention_days: int | None = None) -> Namespace:
        """See `Namespaces.create`."""
        return self._run(self._async.create(name, description, retention_days=retention_days))

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        retention_days: int | Literal["default"] | None = None,
    ) -> Namespace:
        """See `Namespaces.update`."""
        return self._run(self._async.update(name, description=description, retention_days=retention_days))

    def list(self, *, limit: int = 100, cursor: str | None = None) -> NamespacePage:
        """See `Namespaces.list`."""
        return self._run(self._async.list(limit=limit, cursor=cursor))

    def get(self, name: str) -> Namespace:
        """See `Namespaces.get`."""
        return self._run(self._async.get(name))

    def delete(self, name: str) -> None:
        """See `Namespaces.delete`."""
        self._run(self._async.delete(name))


class SyncWorkers:
    """`client.workers` of a `SyncAssayClient`: each method is `Workers`' own, blocking."""

    def __init__(self, workers: Workers, loop: _Loop) -> None:
        self._async = workers
        self._run = loop.run

    def list(self, *, namespace: str = "main", limit: int = 100, cursor: str | None = None) -> WorkerPage:
        """See `Workers.list`."""
        return self._run(self._async.list(namespace=namespace, limit=limit, cursor=cursor))


class SyncQueues:
    """`client.queues` of a `SyncAssayClient`: each method is `Queues`' own, blocking."""

    def __init__(self, queues: Queues, loop: _Loop) -> None:
        self._async = queues
        self._run = loop.run

    def list(self, *, namespace: str = "main") -> builtins.list[QueueStats]:
        """See `Queues.list`."""
        return self._run(self._async.list(namespace=namespace))


class SyncSchedules:
    """`client.schedules` of a `SyncAssayClient`: each method is `Schedules`' own, blocking."""

    def __init__(self, schedules: Schedules, loop: _Loop) -> None:
        self._async = schedules
        self._run = loop.run

    def create(
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
        """See `Schedules.create`."""
        return self._run(
            self._async.create(
                schedule_id,
                workflow_type,
                expression,
                input,
                namespace=namespace,
                timezone=timezone,
                task_queue=task_queue,
                overlap_policy=overlap_policy,
                jitter=jitter,
                start_at=start_at,
                end_at=end_at,
                catchup_window=catchup_window,
                paused=paused,
                note=note,
                search_attributes=search_attributes,
                run_timeout=run_timeout,
            )
        )

    def list(self, *, namespace: str = "main", limit: int = 100, cursor: str | None = None) -> SchedulePage:
        """See `Schedules.list`."""
        return self._run(self._async.list(namespace=namespace, limit=limit, cursor=cursor))

    def describe(
        self, schedule_id: str, *, namespace: str = "main", recent: int = 10, upcoming: int = 5
    ) -> ScheduleDescription:
        """See `Schedules.describe`."""
        return self._run(
            self._async.describe(schedule_id, namespace=namespace, recent=recent, upcoming=upcoming)
        )

    def update(
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
        """See `Schedules.update`."""
        return self._run(
            self._async.update(
                schedule_id,
                namespace=namespace,
                workflow_type=workflow_type,
                expression=expression,
                input=input,
                timezone=timezone,
                task_queue=task_queue,
                overlap_policy=overlap_policy,
                jitter=jitter,
                start_at=start_at,
                end_at=end_at,
                catchup_window=catchup_window,
                note=note,
                search_attributes=search_attributes,
                run_timeout=run_timeout,
            )
        )

    def delete(self, schedule_id: str, *, namespace: str = "main") -> None:
        """See `Schedules.delete`."""
        self._run(self._async.delete(schedule_id, namespace=namespace))

    def pause(self, schedule_id: str, note: str | None = None, *, namespace: str = "main") -> Schedule:
        """See `Schedules.pause`."""
        return self._run(self._async.pause(schedule_id, note, namespace=namespace))

    def resume(self, schedule_id: str, note: str | None = None, *, namespace: str = "main") -> Schedule:
        """See `Schedules.resume`."""
        return self._run(self._async.resume(schedule_id, note, namespace=namespace))

    def trigger(
        self, schedule_id: str, *, namespace: str = "main", overlap_policy: OverlapPolicy | None = None
    ) -> ScheduleFire:
        """See `Schedules.trigger`."""
        return self._run(self._async.trigger(schedule_id, namespace=namespace, overlap_policy=overlap_policy))

    def backfill(
        self,
        schedule_id: str,
        start_at: datetime,
        end_at: datetime,
        *,
        namespace: str = "main",
        overlap_policy: OverlapPolicy | None = None,
    ) -> builtins.list[ScheduleFire]:
        """See `Schedules.backfill`."""
        return self._run(
            self._async.backfill(
                schedule_id, start_at, end_at, namespace=namespace, overlap_policy=overlap_policy
            )
        )


class SyncPermissions:
    """`client.permissions` of a `SyncAssayClient`: each method is `Permissions`' own, blocking."""

    def __init__(self, permissions: Permissions, loop: _Loop) -> None:
        self._async = permissions
        self._run = loop.run

    def write_schema(
        self, schema: str, *, force: bool = False, store: str = PLATFORM_STORE
    ) -> PermissionSchema:
        """See `Permissions.write_schema`."""
        return self._run(self._async.write_schema(schema, force=force, store=store))

    def read_schema(self, *, store: str = PLATFORM_STORE) -> PermissionSchema:
        """See `Permissions.read_schema`."""
        return self._run(self._async.read_schema(store=store))

    def write_relationships(
        self,
        updates: Sequence[RelationshipUpdate],
        *,
        preconditions: Sequence[RelationshipPrecondition] = (),
        store: str = PLATFORM_STORE,
    ) -> RelationshipsWritten:
        """See `Permissions.write_relationships`."""
        return self._run(self._async.write_relationships(updates, preconditions=preconditions, store=store))

    def read_relationships(
        self,
        filter: RelationshipFilter | None = None,
        *,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> RelationshipPage:
        """See `Permissions.read_relationships`."""
        return self._run(
            self._async.read_relationships(
                filter, consistency=consistency, zookie=zookie, limit=limit, cursor=cursor, store=store
            )
        )

    def delete_relationships(
        self,
        filter: RelationshipFilter,
        *,
        preconditions: Sequence[RelationshipPrecondition] = (),
        store: str = PLATFORM_STORE,
    ) -> RelationshipsDeleted:
        """See `Permissions.delete_relationships`."""
        return self._run(self._async.delete_relationships(filter, preconditions=preconditions, store=store))

    def check(
        self,
        resource: str,
        permission: str,
        subject: str,
        *,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> PermissionCheck:
        """See `Permissions.check`."""
        return self._run(
            self._async.check(
                resource, permission, subject, consistency=consistency, zookie=zookie, store=store
            )
        )

    def expand(
        self,
        resource: str,
        permission: str,
        *,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> Expansion:
        """See `Permissions.expand`."""
        return self._run(
            self._async.expand(resource, permission, consistency=consistency, zookie=zookie, store=store)
        )

    def lookup_resources(
        self,
        resource_type: str,
        permission: str,
        subject: str,
        *,
        consistency: ConsistencyMode | None = None,
        zookie: str | None = None,
        store: str = PLATFORM_STORE,
    ) -> ResourceLookup:
        """See `Permissions.lookup_resources`."""
        return self._run(
            self._async.lookup_resources(
                resource_type, permission, subject, consistency=consistency, zookie=zookie, store=store
            )
        )

    def lookup_subjects(
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
        """See `Permissions.lookup_subjects`."""
        return self._run(
            self._async.lookup_subjects(
                resource,
                permission,
                subject_type,
                subject_relation=subject_relation,
                consistency=consistency,
                zookie=zookie,
                store=store,
            )
        )
