"""Running one piece of work against the API from a (synchronous) command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from assay.cli._settings import CliSettings
from assay.client import AssayClient

T = TypeVar("T")


def ask(settings: CliSettings, action: Callable[[AssayClient], Awaitable[T]]) -> T:
    """Open a client on the settings' API URL, run `action` with it, and return its answer."""

    async def run() -> T:
        async with settings.client() as client:
            return await action(client)

    return asyncio.run(run())
