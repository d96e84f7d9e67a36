"""Talking to Assay over HTTP, through the gateway's `/api/v1`.

```python
async with AssayClient("http://127.0.0.1:8080") as client:
    health = await client.health()
    async with client.event_stream(types=["assay.workflow.namespace_created"]) as stream:
        async for event in stream:
            print(event.sequence, event.payload)
```

Errors are `ApiUnreachable` (nothing answered) and `ApiError` (the API answered with a problem),
both `ClientError`s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, Sequence
from types import TracebackType
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from assay._event import Event, parse_event
from assay._sse import Frame, Reader

log = logging.getLogger("assay.client")

#: Where `assay up` serves the API by default.
DEFAULT_API_URL = "http://127.0.0.1:8080"
#: Seconds to wait before reconnecting a dropped event stream, when the server gives no advice.
DEFAULT_RETRY_SECONDS = 1.0
#: A live event stream that says nothing (not even a keep-alive) for this long is taken as dead.
STREAM_SILENCE_SECONDS = 60.0
#: Answers that mean "try again shortly" while a platform (re)starts.
_TRANSIENT_STATUSES = frozenset({502, 503, 504})


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
    def from_response(cls, response: httpx.Response) -> ApiError:
        """The error a (read) non-2xx response stands for, problem+json or not."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("title"), str):
            detail = body.get("detail")
            return cls(
                response.status_code,
                str(body.get("code") or f"http_{response.status_code}"),
                body["title"],
                detail if isinstance(detail, str) else None,
                body,
            )
        text = response.text.strip()
        return cls(
            response.status_code,
            f"http_{response.status_code}",
            response.reason_phrase or "HTTP error",
            text[:300] or None,
        )


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


class AssayClient:
    """A connection to one Assay platform's API. Close it with `aclose()` or use `async with`."""

    def __init__(self, api_url: str = DEFAULT_API_URL, *, timeout: float = 10.0) -> None:
        """`api_url` is the gateway's base URL; `timeout` bounds every request (not event streams)."""
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.AsyncClient(base_url=self.api_url, timeout=timeout)

    async def __aenter__(self) -> AssayClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's connections."""
        await self._http.aclose()

    async def health(self) -> PlatformHealth:
        """Every service's readiness. A degraded platform is an answer, not an error."""
        response = await self._send(self._http.build_request("GET", "/api/v1/health"))
        if response.status_code in (200, 503):
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
        return EventStream(self, httpx.QueryParams(tuple(params)), after, reconnect_within)

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """Every request goes through here: transport failures become `ApiUnreachable`."""
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise ApiUnreachable(self.api_url, _reason(exc)) from exc
        if stream and response.status_code >= 300:
            await response.aread()
            await response.aclose()
        return response


class EventStream:
    """An open `/api/v1/events/stream`; iterate it for `Event`s. Made by `AssayClient.event_stream`."""

    def __init__(
        self, client: AssayClient, params: httpx.QueryParams, after: int | None, reconnect_within: float
    ) -> None:
        self._client = client
        self._params = params
        self._reconnect_within = reconnect_within
        self._reader = Reader()
        self._response: httpx.Response | None = None
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
            except (StopAsyncIteration, httpx.TransportError):
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
        http = self._client._http
        timeout = httpx.Timeout(self._client.timeout, read=STREAM_SILENCE_SECONDS)
        request = http.build_request(
            "GET", "/api/v1/events/stream", params=self._params, headers=headers, timeout=timeout
        )
        response = await self._client._send(request, stream=True)
        if response.status_code != 200:
            raise ApiError.from_response(response)
        self._response = response
        self._frames = self._reader.frames(response.aiter_lines())

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
            with contextlib.suppress(httpx.HTTPError):
                await frames.aclose()
        if response is not None:
            await response.aclose()


def _reason(exc: httpx.TransportError) -> str:
    """Why a request got no answer, in words: the operating system's, when it gave any."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno is not None:
            words = os.strerror(cause.errno) if cause.errno > 0 else (cause.strerror or str(cause))
            return words.lower()
        cause = cause.__cause__ or cause.__context__
    return str(exc).lower() or type(exc).__name__
