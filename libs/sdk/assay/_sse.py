"""Reading a Server-Sent Events stream line by line, as the WHATWG HTML standard (§9.2.6) describes."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Frame:
    """One dispatched event: its `id` (the last one seen, as the standard keeps it), type and data."""

    id: str | None
    event: str
    data: str


@dataclass
class Reader:
    """Turns lines into frames; remembers the stream's `retry` advice for reconnecting."""

    retry_seconds: float | None = None
    last_id: str | None = None

    async def frames(self, lines: AsyncIterable[str]) -> AsyncGenerator[Frame, None]:
        event = ""
        data: list[str] = []
        async for line in lines:
            if line == "":
                if data:
                    yield Frame(self.last_id, event or "message", "\n".join(data))
                event, data = "", []
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id" and "\0" not in value:
                self.last_id = value
            elif name == "retry" and value.isdigit():
                self.retry_seconds = int(value) / 1000
