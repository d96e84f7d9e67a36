"""The worker: registers with the engine, long-polls workflow and activity tasks, runs them."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
import signal
import socket
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, TypeVar

from assay.client import ApiError, ApiUnreachable, AssayClient, ClientError
from assay.worker._coalesce import Coalescer
from assay.workflow._activity import ActivityContext, ActivityInfo, current_activity
from assay.workflow._context import WorkflowInfo, json_value
from assay.workflow._definitions import ActivityFunction, WorkflowFunction, activity_name, workflow_name
from assay.workflow._errors import ActivityCancelled, ApplicationError
from assay.workflow._history import HistoryEvent, is_contiguous, merge
from assay.workflow._replay import TaskOutcome, replay

log = logging.getLogger("assay.worker")
Json = Any
F = TypeVar("F", bound=Callable[..., Any])

#: Transport failures are retried after 1 s, doubling up to this many seconds.
MAX_BACKOFF_SECONDS = 30.0
#: How often running activities' heartbeats are sent at most (batched; only those that called
#: heartbeat()); more often when an activity's heartbeat timeout needs it.
ACTIVITY_HEARTBEAT_SECONDS = 0.5
#: How often the worker tells the engine it lives (the engine forgets it after 30 s of silence).
WORKER_HEARTBEAT_SECONDS = 10.0
#: A history this short replays on the event loop (a thread hop costs more than the replay);
#: longer ones replay in a thread, so that heartbeats are never held up.
INLINE_REPLAY_EVENTS = 100
#: The engine's most tasks per poll.
MAX_TASKS_PER_POLL = 100


class Worker:
    """Runs workflows and activities of one namespace and task queue.

    ```python
    worker = Worker("http://127.0.0.1:8080", "payments", "main",
                    workflows=[hello], activities=[greet])
    await worker.run()          # until worker.shutdown()
    ```

    Workflow tasks replay workflow code over the run's history (keeping recently used histories
    so the engine sends only what is new); activity tasks run sync activities in a thread pool and
    async ones on the event loop. Up to `max_concurrent_workflow_tasks` and
    `max_concurrent_activities` run at once, polled in batches. `shutdown()` stops polling, gives
    running tasks up to `shutdown_grace` seconds, and deregisters, which hands any task left back
    to the engine at once.
    """

    def __init__(
        self,
        client: AssayClient | str,
        namespace: str = "main",
        task_queue: str = "main",
        *,
        workflows: Iterable[WorkflowFunction] = (),
        activities: Iterable[ActivityFunction] = (),
        max_concurrent_workflow_tasks: int = 10,
        max_concurrent_activities: int = 20,
        identity: str | None = None,
        sticky_cache_size: int = 1000,
        poll_seconds: float = 30.0,
        shutdown_grace: float = 30.0,
        api_key: str | None = None,
    ) -> None:
        """`client` is an `AssayClient` (left open) or the API URL (a client of the worker's own,
        authenticated with `api_key` when given). `poll_seconds` is how long one long-poll waits
        for work (at most 60)."""
        if not 0 < poll_seconds <= 60:
            raise ValueError("poll_seconds must be more than 0 and at most 60")
        self._owns_client = isinstance(client, str)
        self._client = AssayClient(client, api_key=api_key) if isinstance(client, str) else client
        self.namespace = namespace
        self.task_queue = task_queue
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}"
        self._workflows = _by_name(workflows, workflow_name, "workflow")
        self._activities = _by_name(activities, activity_name, "activity")
        for name, function in self._workflows.items():
            if not inspect.iscoroutinefunction(function):
                raise TypeError(f"workflow {name!r} must be an `async def`")
        if not self._workflows and not self._activities:
            raise ValueError("a worker needs at least one workflow or activity to run")
        self._limits = {"workflow": max_concurrent_workflow_tasks, "activity": max_concurrent_activities}
        self._busy = {"workflow": 0, "activity": 0}
        self._room = asyncio.Condition()
        self._cache: OrderedDict[str, list[HistoryEvent]] = OrderedDict()
        self._cache_size = sticky_cache_size
        self._poll_seconds = poll_seconds
        self._shutdown_grace = shutdown_grace
        self._running_activities: dict[str, ActivityContext] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._stopped = asyncio.Event()
        self._registering = asyncio.Lock()
        self._activity_threads = ThreadPoolExecutor(max_concurrent_activities, thread_name_prefix="activity")
        # Long replays run off the event loop so that they never delay heartbeats.
        self._replay_threads = ThreadPoolExecutor(
            min(max_concurrent_workflow_tasks, 8), thread_name_prefix="replay"
        )
        self.worker_id: str | None = None
        self._is_running = False
        # Completions of many runs share requests when they come together (ARCHITECTURE §6).
        self._workflow_completions = Coalescer(self._complete_workflow_tasks, MAX_TASKS_PER_POLL)
        self._activity_completions = Coalescer(self._complete_activities, MAX_TASKS_PER_POLL)

    async def run(self) -> None:
        """Register, then work until `shutdown()` (or a fatal error, which is raised). While the
        API cannot be reached, registration is retried with a backoff."""
        self._is_running = True
        try:
            if not await self._register_patiently():
                return
            pollers = []
            if self._workflows:
                pollers.append(asyncio.create_task(self._poll_workflow_tasks()))
            if self._activities:
                pollers.append(asyncio.create_task(self._poll_activity_tasks()))
            keepers = [
                asyncio.create_task(self._heartbeat_worker()),
                asyncio.create_task(self._heartbeat_activities()),
            ]
            stop = asyncio.create_task(self._stopping.wait())
            await asyncio.wait([stop, *pollers], return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            for poller in pollers:
                poller.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)
            if self._tasks:
                _, late = await asyncio.wait(self._tasks, timeout=self._shutdown_grace)
                # Sync activities cannot be interrupted: their next heartbeat() stops them.
                for context in self._running_activities.values():
                    context.request_cancel()
                for task in late:
                    task.cancel()
                await asyncio.gather(*late, return_exceptions=True)
            for keeper in keepers:
                keeper.cancel()
            await asyncio.gather(*keepers, return_exceptions=True)
            for poller in pollers:
                error = None if poller.cancelled() else poller.exception()
                if error is not None:
                    raise error
        finally:
            await self._deregister()
            self._activity_threads.shutdown(wait=False, cancel_futures=True)
            self._replay_threads.shutdown(wait=False, cancel_futures=True)
            if self._owns_client:
                await self._client.aclose()
            self._stopped.set()

    def request_shutdown(self) -> None:
        """Ask `run()` to stop (safe from a signal handler); `shutdown()` also waits for it."""
        self._stopping.set()

    async def shutdown(self) -> None:
        """Stop polling, let running tasks finish (up to `shutdown_grace` s), deregister, and
        return once `run()` has ended."""
        self.request_shutdown()
        if self._is_running:
            await self._stopped.wait()

    # -- registration ------------------------------------------------------------------------

    async def _register_patiently(self) -> bool:
        """Register, retrying while the API is unreachable or unavailable; False when asked to
        stop first. A refusal (unknown namespace, invalid names…) is raised."""
        backoff = 0.0
        while True:
            try:
                await self._register()
                return True
            except ApiError as exc:
                if exc.status < 500:
                    raise
                reason: ClientError = exc
            except ApiUnreachable as exc:
                reason = exc
            backoff = min(backoff * 2 or 1.0, MAX_BACKOFF_SECONDS)
            log.warning("registering the worker failed (%s); again in %.0f s", reason, backoff)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), backoff)
            if self._stopping.is_set():
                return False

    async def _register(self) -> None:
        answer = await self._client.call(
            "POST",
            "/api/v1/workers",
            body={
                "identity": self.identity,
                "namespace": self.namespace,
                "task_queue": self.task_queue,
                "workflow_types": sorted(self._workflows),
                "activity_names": sorted(self._activities),
                "max_concurrent_workflow_tasks": self._limits["workflow"],
                "max_concurrent_activities": self._limits["activity"],
            },
        )
        self.worker_id = str(answer["worker_id"])
        log.info("worker %s registered on %s/%s", self.worker_id, self.namespace, self.task_queue)

    async def _register_again(self, forgotten: str | None) -> None:
        """The engine forgot worker `forgotten` (it was silent too long): register anew, once."""
        async with self._registering:
            if self.worker_id == forgotten:
                self._cache.clear()
                await self._register()

    async def _deregister(self) -> None:
        if self.worker_id is None:
            return
        with contextlib.suppress(ClientError):
            await self._client.call("DELETE", f"/api/v1/workers/{self.worker_id}")
        self.worker_id = None

    async def _heartbeat_worker(self) -> None:
        while True:
            await asyncio.sleep(WORKER_HEARTBEAT_SECONDS)
            worker_id = self.worker_id
            try:
                await self._client.call("POST", f"/api/v1/workers/{worker_id}/heartbeat")
            except ApiError as exc:
                if exc.status == 404:
                    await self._register_again(worker_id)
            except ClientError as exc:
                log.warning("worker heartbeat failed: %s", exc)

    # -- polling -----------------------------------------------------------------------------

    async def _poll_workflow_tasks(self) -> None:
        async def poll(room: int) -> list[Json]:
            cached = [{"run_id": run_id, "last_seq": h[-1].seq} for run_id, h in self._cache.items()]
            body = {"max_tasks": room, "wait_seconds": self._poll_seconds, "cached": cached}
            return await self._poll("/api/v1/workflow-tasks/poll", body)

        await self._poll_loop("workflow", poll, self._accept_workflow_task)

    async def _poll_activity_tasks(self) -> None:
        async def poll(room: int) -> list[Json]:
            body = {"max_tasks": room, "wait_seconds": self._poll_seconds}
            return await self._poll("/api/v1/activity-tasks/poll", body)

        await self._poll_loop("activity", poll, self._run_activity)

    async def _poll(self, path: str, body: dict[str, Json]) -> list[Json]:
        worker_id = self.worker_id
        try:
            answer = await self._client.call(
                "POST", path, body={"worker_id": worker_id, **body}, timeout=self._poll_seconds + 30
            )
        except ApiError as exc:
            if exc.status == 404 and exc.code == "worker_not_found":
                await self._register_again(worker_id)
                return []
            raise
        tasks: list[Json] = answer["tasks"]
        return tasks

    async def _poll_loop(
        self,
        kind: str,
        poll: Callable[[int], Coroutine[Any, Any, list[Json]]],
        accept: Callable[[Json], Coroutine[Any, Any, None]],
    ) -> None:
        backoff = 0.0
        while True:
            async with self._room:
                await self._room.wait_for(lambda: self._busy[kind] < self._limits[kind])
                room = min(self._limits[kind] - self._busy[kind], MAX_TASKS_PER_POLL)
            try:
                tasks = await poll(room)
            except ClientError as exc:
                backoff = min(backoff * 2 or 1.0, MAX_BACKOFF_SECONDS)
                log.warning("polling %s tasks failed (%s); again in %.0f s", kind, exc, backoff)
                await asyncio.sleep(backoff)
                continue
            backoff = 0.0
            for task in tasks:
                self._start(kind, accept(task))

    def _start(self, kind: str, work: Coroutine[Any, Any, None]) -> None:
        """Run one task in a slot of `kind`; the slot frees when it ends."""
        self._busy[kind] += 1

        async def in_slot() -> None:
            try:
                await work
            except Exception:
                log.exception("a %s task failed in the worker", kind)
            finally:
                self._busy[kind] -= 1
                async with self._room:
                    self._room.notify_all()

        task = asyncio.create_task(in_slot())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- workflow tasks ----------------------------------------------------------------------

    async def _run_workflow_tasks(self, task: Json) -> None:
        """A workflow task, then the run's next ones as long as the engine hands them back."""
        next_task: Json = task
        while next_task is not None:
            next_task = await self._run_workflow_task(next_task)

    async def _run_workflow_task(self, task: Json) -> Json:
        run_id = str(task["run_id"])
        token = str(task["task_token"])
        log.debug(
            "task of run %s: %d events from seq %s", run_id, len(task["history"]), task["history_from_seq"]
        )
        workflow = self._workflows.get(task["workflow_type"])
        if workflow is None:
            await self._fail_workflow_task(
                token, "error", f"workflow {task['workflow_type']!r} is not registered"
            )
            return None
        try:
            history = await self._history(task)
        except ClientError as exc:
            # Without the full history there is nothing to replay; the lease runs out and the
            # engine gives the task out again, with its whole history.
            self._cache.pop(run_id, None)
            log.warning("the history of %s could not be read: %s", task["workflow_id"], exc)
            return None
        info = WorkflowInfo(
            namespace=task["namespace"],
            workflow_id=task["workflow_id"],
            run_id=run_id,
            workflow_type=task["workflow_type"],
            task_queue=task["task_queue"],
            attempt=int(task.get("attempt", 1)),
        )
        seen_through = int(task["history_from_seq"]) - 1
        run_replay = functools.partial(replay, workflow, info, history, seen_through=seen_through)
        try:
            if len(history) <= INLINE_REPLAY_EVENTS:
                outcome: TaskOutcome = run_replay()
            else:
                outcome = await asyncio.get_running_loop().run_in_executor(self._replay_threads, run_replay)
        except Exception as exc:
            self._cache.pop(run_id, None)
            log.exception("workflow task of %s could not be replayed", info.workflow_id)
            await self._fail_workflow_task(token, "error", f"{type(exc).__name__}: {exc}")
            return None
        if outcome.nondeterminism is not None:
            self._cache.pop(run_id, None)
            log.error("workflow %s is nondeterministic: %s", info.workflow_id, outcome.nondeterminism)
            await self._fail_workflow_task(token, "nondeterminism", outcome.nondeterminism)
            return None
        completion = {"task_token": token, "commands": outcome.commands}
        try:
            result = await self._workflow_completions.submit(completion)
        except ClientError as exc:
            # Stale lease or no answer: the engine gives the task out again; our copy may be off.
            self._cache.pop(run_id, None)
            log.warning("completing the workflow task of %s failed: %s", info.workflow_id, exc)
            return None
        if result["status"] != "ok" or outcome.is_terminal:
            self._cache.pop(run_id, None)
        else:
            self._remember(run_id, history)
        for activity in result.get("activity_tasks") or []:
            self._start("activity", self._run_activity(activity))
        return result.get("next_task")

    async def _complete_workflow_tasks(self, completions: list[Json]) -> list[Json]:
        body = {"worker_id": self.worker_id, "completions": completions}
        answer = await self._client.call("POST", "/api/v1/workflow-tasks/complete", body=body)
        results: list[Json] = answer["results"]
        return results

    def _accept_workflow_task(self, task: Json) -> Coroutine[Any, Any, None]:
        """Take a polled task's history into the cache at once, before the next poll says what is
        cached (so that poll's tasks for the same run come with only the new events)."""
        self._absorb(task)
        return self._run_workflow_tasks(task)

    def _absorb(self, task: Json) -> list[HistoryEvent] | None:
        """The run's complete history from the cache and the task's events, remembered; None when
        the cache lacks part of it (evicted, or from before a restart)."""
        run_id = str(task["run_id"])
        events = [HistoryEvent.from_json(event) for event in task["history"]]
        cached = self._cache.get(run_id, []) if int(task["history_from_seq"]) > 1 else []
        history = merge(cached, events)
        if not is_contiguous(history):
            return None
        self._remember(run_id, history)
        return history

    async def _history(self, task: Json) -> list[HistoryEvent]:
        """The run's complete history, read from the API when the cache cannot complete it."""
        history = self._absorb(task)
        if history is not None:
            return history
        run_id = str(task["run_id"])
        log.debug(
            "history of run %s is not cached up to seq %s: reading it", run_id, task["history_from_seq"]
        )
        events = [HistoryEvent.from_json(event) for event in task["history"]]
        fetched = await self._client.workflows.events(
            task["workflow_id"], namespace=task["namespace"], run_id=run_id
        )
        history = merge(fetched, events)
        self._remember(run_id, history)
        return history

    def _remember(self, run_id: str, history: list[HistoryEvent]) -> None:
        self._cache[run_id] = history
        self._cache.move_to_end(run_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    async def _fail_workflow_task(self, token: str, kind: str, message: str) -> None:
        body = {
            "worker_id": self.worker_id,
            "failures": [{"task_token": token, "kind": kind, "message": message[:10_000]}],
        }
        try:
            await self._client.call("POST", "/api/v1/workflow-tasks/fail", body=body)
        except ClientError as exc:
            log.warning("failing a workflow task failed: %s", exc)

    # -- activity tasks ----------------------------------------------------------------------

    async def _run_activity(self, task: Json) -> None:
        token = str(task["task_token"])
        context = ActivityContext(
            ActivityInfo(
                namespace=task["namespace"],
                workflow_id=task["workflow_id"],
                run_id=str(task["run_id"]),
                activity_seq=int(task["activity_seq"]),
                name=task["name"],
                attempt=int(task["attempt"]),
                heartbeat_timeout=task.get("heartbeat_timeout"),
                deadline=_time(task.get("deadline")),
                task_token=token,
            )
        )
        self._running_activities[token] = context
        try:
            outcome = {
                "task_token": token,
                "result": json_value(await self._execute(context, task["input"]), "result"),
            }
        except ActivityCancelled as exc:
            outcome = _error(token, "ActivityCancelled", str(exc), non_retryable=True)
        except ApplicationError as exc:
            outcome = _error(token, exc.type, exc.message, non_retryable=exc.non_retryable)
        except Exception as exc:
            outcome = _error(token, type(exc).__name__, str(exc))
        finally:
            self._running_activities.pop(token, None)
        try:
            status = await self._activity_completions.submit((outcome, context.info.run_id))
        except ApiError as exc:
            if exc.status != 409:
                raise
            status = "stale"
        except ClientError as exc:
            # The engine times the activity out and retries it per its policy.
            log.warning("reporting activity %s failed: %s", context.info.name, exc)
            return
        if status == "stale":
            # The activity timed out, was cancelled with its closed run, or went to another
            # worker; the engine no longer wants this outcome.
            log.info("the outcome of activity %s came too late", context.info.name)

    async def _complete_activities(self, outcomes: list[tuple[Json, str]]) -> list[str]:
        """Report outcomes; when this worker runs workflows, take back the workflow tasks they
        make (carrying only the events past what is cached of each run) instead of polling."""
        body: dict[str, Json] = {"worker_id": self.worker_id, "results": [outcome for outcome, _ in outcomes]}
        if self._workflows:
            cached = [
                {"run_id": run_id, "last_seq": history[-1].seq}
                for run_id in {run_id for _, run_id in outcomes}
                if (history := self._cache.get(run_id))
            ]
            body |= {"max_workflow_tasks": len(outcomes), "cached": cached}
        answer = await self._client.call("POST", "/api/v1/activity-tasks/complete", body=body)
        for task in answer.get("workflow_tasks") or []:
            self._start("workflow", self._accept_workflow_task(task))
        return [result["status"] for result in answer["results"]]

    async def _execute(self, context: ActivityContext, input: Json) -> Json:
        function = self._activities.get(context.info.name)
        if function is None:
            raise ApplicationError(f"no activity {context.info.name!r} is registered with this worker")
        arguments = (input,) if _takes_input(function) else ()
        if inspect.iscoroutinefunction(function):
            current_activity.set(context)  # this task's own context: nothing to reset
            return await function(*arguments)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._activity_threads, _run_sync, context, function, arguments)

    async def _heartbeat_activities(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_interval())
            beats = []
            for token, context in list(self._running_activities.items()):
                has_news, details = context.take_heartbeat()
                if has_news:
                    beats.append({"task_token": token, "details": details})
            if not beats:
                continue
            try:
                answer = await self._client.call(
                    "POST",
                    "/api/v1/activity-tasks/heartbeat",
                    body={"worker_id": self.worker_id, "heartbeats": beats},
                )
            except ApiError as exc:
                # Every token stale, or this worker removed (which handed its activities back):
                # none of these activities is ours any more.
                if exc.status == 409 or exc.code == "worker_not_found":
                    for beat in beats:
                        self._cancel_activity(beat["task_token"])
                continue
            except ClientError as exc:
                log.warning("activity heartbeats failed: %s", exc)
                continue
            for result in answer["results"]:
                if result["cancel_requested"] or result["status"] == "stale":
                    self._cancel_activity(str(result["task_token"]))

    def _heartbeat_interval(self) -> float:
        """A third of the shortest heartbeat timeout running, so a beat never arrives too late."""
        timeouts = [
            c.info.heartbeat_timeout for c in self._running_activities.values() if c.info.heartbeat_timeout
        ]
        return max(min([ACTIVITY_HEARTBEAT_SECONDS, *(t / 3 for t in timeouts)]), 0.01)

    def _cancel_activity(self, token: str) -> None:
        context = self._running_activities.get(token)
        if context is not None:
            context.request_cancel()


def _run_sync(context: ActivityContext, function: Callable[..., Json], arguments: tuple[Json, ...]) -> Json:
    token = current_activity.set(context)
    try:
        return function(*arguments)
    finally:
        current_activity.reset(token)


def _by_name(functions: Iterable[F], name_of: Callable[[F], str], kind: str) -> dict[str, F]:
    named: dict[str, F] = {}
    for function in functions:
        name = name_of(function)
        if name in named:
            raise ValueError(f"two {kind} functions are named {name!r}")
        named[name] = function
    return named


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


def _takes_input(function: Callable[..., Any]) -> bool:
    """Activities take their input as one argument, or no argument when they need none."""
    return bool(inspect.signature(function).parameters)


def _error(token: str, type: str, message: str, *, non_retryable: bool = False) -> dict[str, Json]:
    error = {"type": type[:255], "message": message[:10_000], "non_retryable": non_retryable}
    return {"task_token": token, "error": error}


def run_worker(
    api_url: str,
    namespace: str = "main",
    task_queue: str = "main",
    *,
    workflows: Iterable[WorkflowFunction] = (),
    activities: Iterable[ActivityFunction] = (),
    **options: Any,
) -> None:
    """Run a `Worker` in this process until SIGTERM or SIGINT, then shut it down gracefully
    (stop polling, finish running tasks, deregister). `options` are `Worker`'s."""

    async def main() -> None:
        worker = Worker(api_url, namespace, task_queue, workflows=workflows, activities=activities, **options)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, worker.request_shutdown)
        await worker.run()

    asyncio.run(main())
