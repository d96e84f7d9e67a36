"""Reading a Server-Sent Events response the way a browser's EventSource does (WHATWG HTML §9.2)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx


@dataclass(frozen=True)
class Frame:
    """One dispatched event, or (with `is_comment`) one comment line such as a keep-alive."""

    id: str | None
    event: str | None
    data: str
    is_comment: bool = False

    @property
    def sequence(self) -> int:
        assert self.id is not None
        return int(self.id)

    @property
    def cloud_event(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.data)
        return decoded


class EventStream:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()
        #: The last `id` the stream named, with or without an event (what EventSource would send
        #: as Last-Event-ID on reconnecting).
        self.last_id: str | None = None

    async def next(self, within: float = 10.0, *, comments: bool = False) -> Frame:
        """The next event (or comment, when asked for) within `within` seconds."""
        return await asyncio.wait_for(self._next(comments), within)

    async def events(self, count: int, within: float = 10.0) -> list[Frame]:
        return [await self.next(within) for _ in range(count)]

    async def until_idle(self, within: float = 10.0) -> list[Frame]:
        """Every event up to the first keep-alive comment: what the stream had until it went quiet."""
        frames = []
        while not (frame := await self.next(within, comments=True)).is_comment:
            frames.append(frame)
        return frames

    async def _next(self, comments: bool) -> Frame:
        event_id: str | None = None
        event: str | None = None
        data: list[str] = []
        async for line in self._lines:
            if line.startswith(":"):
                if comments:
                    return Frame(None, None, line[1:].strip(), is_comment=True)
                continue
            if line == "":
                if data:
                    return Frame(event_id, event, "\n".join(data))
                event_id, event = None, None
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "id":
                event_id = self.last_id = value
            elif name == "event":
                event = value
            elif name == "data":
                data.append(value)
        raise EOFError("the event stream ended")


@asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    path: str = "/api/v1/events/stream",
    *,
    params: dict[str, Any] | list[tuple[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> AsyncIterator[EventStream]:
    """Connect; once this yields, the gateway's consumer exists and every later event will arrive."""
    async with client.stream("GET", path, params=params, headers=headers, timeout=30) as response:
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield EventStream(response)
