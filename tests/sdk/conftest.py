"""Running the real `assay` command: one-shot commands, and `assay up` in the background."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import psutil
import pytest

from assay.local import free_port
from tests.conftest import NatsServer, Stack, run_subjects
from tests.support import eventually

ASSAY = str(Path(sys.executable).parent / "assay")
#: Settings of the caller's shell that must not leak into what a test asks of the CLI.
_CLI_ENV = (
    "ASSAY_API_URL",
    "ASSAY_OUTPUT",
    "ASSAY_CLI_CONFIG",
    "ASSAY_DATA_DIR",
    "ASSAY_NATS_URL",
    "ASSAY_API_KEY",
    "ASSAY_API_KEY_FILE",
    "ASSAY_CREDENTIALS_FILE",
)


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    def lines(self) -> list[str]:
        return self.stdout.splitlines()


@dataclass(frozen=True)
class Cli:
    """The `assay` console script, with a config directory of its own."""

    config_home: Path
    #: Sent as $ASSAY_API_KEY unless a test sets the environment otherwise.
    api_key: str | None = None

    @property
    def config_file(self) -> Path:
        return self.config_home / "assay" / "config.toml"

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _CLI_ENV}
        if self.api_key is not None:
            env["ASSAY_API_KEY"] = self.api_key
        return {**env, "XDG_CONFIG_HOME": str(self.config_home), **(extra or {})}

    async def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        within: float = 60.0,
        stdin: str | None = None,
    ) -> Result:
        """Run `assay <args>` to completion, stdout and stderr being pipes (not a terminal), with
        `stdin` as its input (none when not given)."""
        process = await asyncio.create_subprocess_exec(
            ASSAY,
            *args,
            env=self.env(env),
            stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        given = None if stdin is None else stdin.encode()
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(given), within)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise AssertionError(f"`assay {' '.join(args)}` did not finish within {within}s") from None
        assert process.returncode is not None
        return Result(process.returncode, stdout.decode(), stderr.decode())


@pytest.fixture
def cli(tmp_path: Path, request: pytest.FixtureRequest) -> Cli:
    """The CLI with a config directory of its own; with the stack's administrator key when the
    test uses the stack, and no credentials otherwise."""
    home = tmp_path / "config"
    home.mkdir()
    stack: Stack | None = request.getfixturevalue("stack") if "stack" in request.fixturenames else None
    return Cli(home, api_key=stack.admin_key if stack else None)


@pytest.fixture
async def isolated_nats(nats_server: NatsServer, unique: str) -> AsyncIterator[NatsServer]:
    """The session's NATS with streams and subjects of their own (removed afterwards), for a
    platform whose consumers must not share the stack's."""
    isolated = NatsServer(nats_server.url, run_subjects(unique))
    yield isolated
    await isolated.delete_streams()


@dataclass
class Up:
    """`assay up` running in the background, its output collected line by line."""

    process: asyncio.subprocess.Process
    url: str
    data_dir: Path
    stdout: list[str] = field(default_factory=list)
    stderr: list[str] = field(default_factory=list)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def output(self) -> str:
        return "\n".join(self.stdout)

    def process_tree(self) -> dict[int, psutil.Process]:
        """`assay up` and every process under it, by pid."""
        root = psutil.Process(self.process.pid)
        return {p.pid: p for p in [root, *root.children(recursive=True)]}

    def service_process(self, name: str) -> psutil.Process:
        for process in self.process_tree().values():
            if f"assay_{name}" in process.cmdline():
                return process
        raise AssertionError(f"no process runs the {name} service")

    async def health(self) -> httpx.Response | None:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                return await client.get(f"{self.url}/api/v1/health")
        except httpx.TransportError:
            return None

    async def wait_healthy(self, within: float = 60.0) -> dict[str, Any]:
        answer: dict[str, Any] = {}

        async def healthy() -> bool:
            assert self.process.returncode is None, f"assay up exited:\n{self.output}\n{self.stderr}"
            # Healthy as seen by a client, and announced by `assay up` (it prints once it has seen
            # the same readiness itself, a moment later).
            if "Assay is ready" not in self.output:
                return False
            response = await self.health()
            if response is not None and response.status_code == 200:
                answer.update(response.json())
                return True
            return False

        await eventually(healthy, within=within, what="every service healthy")
        return answer

    async def signal(self, signum: signal.Signals, within: float = 30.0) -> int:
        """Send `signum`; the exit code once the command has finished."""
        self.process.send_signal(signum)
        code = await asyncio.wait_for(self.process.wait(), within)
        await asyncio.gather(*self.readers)
        return code


async def _collect(stream: asyncio.StreamReader, into: list[str]) -> None:
    async for line in stream:
        into.append(line.decode().rstrip("\n"))


class StartUp(Protocol):
    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> Awaitable[Up]: ...


@pytest.fixture
async def start_up(cli: Cli, tmp_path: Path) -> AsyncIterator[StartUp]:
    """Starts `assay up <args>` on a free port in its own data directory; kills what is left after."""
    started: list[Up] = []

    async def start(*args: str, env: Mapping[str, str] | None = None) -> Up:
        port = free_port()
        data_dir = tmp_path / f"assay-{len(started)}"
        process = await asyncio.create_subprocess_exec(
            ASSAY,
            "up",
            "--data-dir",
            str(data_dir),
            "--port",
            str(port),
            *args,
            env=cli.env(env),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        up = Up(process, f"http://127.0.0.1:{port}", data_dir)
        assert process.stdout is not None and process.stderr is not None
        up.readers = [
            asyncio.create_task(_collect(process.stdout, up.stdout)),
            asyncio.create_task(_collect(process.stderr, up.stderr)),
        ]
        started.append(up)
        return up

    yield start
    for up in started:
        if up.process.returncode is None:
            # A failed test must not leave a platform running: stop it the way a user would.
            up.process.send_signal(signal.SIGINT)
            await asyncio.wait_for(up.process.wait(), 30)
        for reader in up.readers:
            reader.cancel()
