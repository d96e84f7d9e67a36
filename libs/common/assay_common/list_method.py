"""uvicorn's httptools protocol (with `assay_common.coalesced_writes`), taught Vault's `LIST` method.

httptools (llhttp) parses only the methods it knows, and `LIST` is not one of them: a request
with it is refused as malformed before the app sees it. h11 takes any method but parses several
times slower. This protocol keeps httptools and renames the method on the way in: a request that
starts with `LIST ` is fed to the parser as `LINK ` (a method llhttp knows, of the same length, so
nothing else moves), and the request's scope says `LIST` again before the app runs. A genuine
`LINK` request stays `LINK`.

The method is recognised at the start of each request on a connection (the first bytes of a
connection, and those after each complete request), also when those first bytes arrive in pieces.
Not recognised: a `LIST` pipelined behind another request in the same packet (HTTP/1.1 pipelining,
which clients do not use); it is refused as malformed, as without this protocol.
"""

from __future__ import annotations

import asyncio
from typing import Any

from assay_common.coalesced_writes import CoalescingHttpToolsProtocol

_LIST = b"LIST "
_STAND_IN = b"LINK "


class ListMethodProtocol(CoalescingHttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Whether the next byte received starts a request.
        self._at_request_start = True
        #: The first bytes of a request, while too few to tell whether it is a `LIST`.
        self._held = b""
        #: Whether the request being parsed came as `LIST`.
        self._listing = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._at_request_start, self._held, self._listing = True, b"", False

    def data_received(self, data: bytes) -> None:
        if self._at_request_start:
            data = self._held + data
            if len(data) < len(_LIST) and _LIST.startswith(data):
                self._held = data
                return
            self._held = b""
            self._at_request_start = False
            if data.startswith(_LIST):
                self._listing = True
                data = _STAND_IN + data[len(_LIST) :]
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A request pipelined behind the last one began inside bytes already parsed: what comes
        # next continues it.
        self._at_request_start = False

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The request's task has been created but has not run yet: it reads the method later.
        if self._listing:
            self.scope["method"] = "LIST"

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._at_request_start, self._listing = True, False
