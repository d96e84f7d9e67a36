"""`assay up`: the whole platform on this machine, in the foreground, until Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import nats
import nats.errors
import typer
from rich.text import Text

from assay.cli import _output
from assay.cli._settings import API_URL_ENV, OutputOption, resolve
from assay.cli._status import show_health
from assay.client import API_KEY_ENV, DEFAULT_API_URL
from assay.local import BootstrapAdmin, LocalPlatform, PlatformError, PlatformOptions
from assay.local.platform import SERVICES
from assay_common.config import redact_url

_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def up(
    ctx: typer.Context,
    data_dir: Annotated[
        Path,
        typer.Option(
            envvar="ASSAY_DATA_DIR",
            metavar="DIR",
            file_okay=False,
            help="Where NATS, the SQLite files and the logs live.",
        ),
    ] = Path(".assay"),
    port: Annotated[
        int,
        typer.Option(
            min=1,
            max=65535,
            metavar="PORT",
            help="The gateway's port: the API and the console.",
        ),
    ] = 8080,
    host: Annotated[
        str,
        typer.Option(
            metavar="ADDR",
            help="The gateway's address; 0.0.0.0 to reach it from other machines.",
        ),
    ] = "127.0.0.1",
    postgres: Annotated[
        str | None,
        typer.Option(
            "--postgres",
            metavar="URL",
            help="Use this PostgreSQL database instead of SQLite files.",
        ),
    ] = None,
    nats: Annotated[
        str | None,
        typer.Option(
            "--nats",
            metavar="URL",
            help="Use this NATS server (with JetStream) instead of starting one.",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Start nothing: check the platform at --host/--port; exit 0 when it is healthy.",
        ),
    ] = False,
    admin_email: Annotated[
        str,
        typer.Option(
            "--admin-email",
            metavar="EMAIL",
            help="The first administrator's address, when the platform has no user yet.",
        ),
    ] = "admin@localhost",
    replicas: Annotated[
        list[str] | None,
        typer.Option(
            "--replicas",
            metavar="SERVICE=N",
            help="Run N processes of a service (e.g. workflow=3; repeat for others); the gateway "
            "uses them in turn. Several replicas of a service need --postgres.",
        ),
    ] = None,
    output: OutputOption = None,
) -> None:
    """Run NATS and every Assay service on this machine until Ctrl-C (or SIGTERM)."""
    counts = _replica_counts(replicas or [])
    if postgres is None and any(count > 1 for count in counts.values()):
        _output.fail("several replicas of a service share one database: give --postgres URL", code=64)
    url = f"http://{_reachable(host)}:{port}"
    if check:
        with _output.reported_errors():
            code = show_health(url, resolve(ctx, output=output).output)
        raise typer.Exit(code)
    if not _is_free(host, port):
        _output.fail(
            f"{host}:{port} is in use. Is Assay already running there (`assay up --check "
            f"--port {port}`)? Choose another port with --port."
        )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _output.fail(f"cannot use {data_dir} as the data directory: {exc.strerror or exc}")
    # Crashes and restarts are reported from the platform's events below; NATS client noise while
    # the embedded server starts up is expected.
    logging.getLogger("assay.local").setLevel(logging.ERROR)
    logging.getLogger("nats").setLevel(logging.CRITICAL)
    options = PlatformOptions(
        data_dir=data_dir,
        port=port,
        host=host,
        postgres_url=postgres,
        nats_url=nats,
        admin_email=admin_email,
        replicas=counts,
    )
    try:
        asyncio.run(_serve(LocalPlatform(options), url))
    except PlatformError as exc:
        _output.fail(f"Assay did not start: {exc}")


def _replica_counts(given: list[str]) -> dict[str, int]:
    """`--replicas workflow=3` → {"workflow": 3}; a usage error (exit 64) for anything else."""
    counts: dict[str, int] = {}
    for item in given:
        service, _, number = item.partition("=")
        if (
            service not in SERVICES
            or service == "gateway"
            or not number.isdigit()
            or not 1 <= int(number) <= 16
        ):
            _output.fail(
                f"--replicas {item}: give SERVICE=N, SERVICE one of "
                f"{', '.join(s for s in SERVICES if s != 'gateway')} and N from 1 to 16",
                code=64,
            )
        counts[service] = int(number)
    return counts


async def _serve(platform: LocalPlatform, url: str) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    options = platform.options
    await _check_infrastructure(options)
    out = _output.out
    broker = redact_url(options.nats_url) if options.nats_url else "embedded"
    database = redact_url(options.postgres_url) if options.postgres_url else "SQLite"
    out.print(Text(f"Starting Assay in {platform.data_dir} (NATS: {broker}, database: {database})…"))
    began = loop.time()
    starting = asyncio.create_task(platform.start())
    stopping = asyncio.create_task(stop.wait())
    with out.status("Starting NATS and the services…"):
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not starting.done():
        # Interrupted while starting: `start` stops whatever it had started when cancelled.
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        out.print("Stopped before Assay was ready.")
        return
    stopping.cancel()
    starting.result()
    try:
        _announce(platform, url, loop.time() - began)
        await _report_until(stop, platform)
        out.print("Stopping Assay…")
    finally:
        await platform.stop()
    out.print("Stopped.")


def _announce(platform: LocalPlatform, url: str, seconds: float) -> None:
    out = _output.out
    out.print(Text.assemble(("Assay is ready", "bold green"), f" in {seconds:.1f} s.\n"))
    rows = [
        ("API", f"{url}/api/v1"),
        ("Console", f"{url}/"),
        ("Health", f"{url}/api/v1/health"),
        ("API docs", f"{url}/api/v1/docs"),
        ("Logs", f"{platform.log_dir}/<service>.log"),
    ]
    for label, value in rows:
        out.print(Text(f"  {label:<9} {value}"))
    out.print()
    if platform.bootstrap is not None:
        _announce_admin(platform.bootstrap, url)
    if url != DEFAULT_API_URL:
        out.print(
            Text(
                f"Other assay commands use {DEFAULT_API_URL} unless told otherwise; for this "
                f"platform: export {API_URL_ENV}={url}"
            )
        )
    out.print(
        Text(
            "Next: `assay status` shows each service's health, `assay events tail` follows "
            "events as they happen. Press Ctrl-C to stop."
        )
    )


def _announce_admin(admin: BootstrapAdmin, url: str) -> None:
    """The first administrator's credentials: printed this once, kept nowhere else."""
    out = _output.out
    out.print(Text(f"First start: the administrator {admin.email} was made.", style="bold"))
    out.print(Text(f"  API key   {admin.api_key}"))
    out.print(Text(f"  Password  set it at {admin.password_link(url)}"))
    out.print(
        Text(
            "Copy the key now; it is not shown again. Use it with `assay login --api-key-file FILE` "
            f"or `export {API_KEY_ENV}=…`.\n"
        )
    )


async def _report_until(stop: asyncio.Event, platform: LocalPlatform) -> None:
    """Report crashes and restarts as the supervisor sees them, until asked to stop."""
    stopping = asyncio.create_task(stop.wait())
    try:
        while True:
            message = asyncio.create_task(platform.events.get())
            await asyncio.wait({message, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not message.done():
                message.cancel()
                return
            _output.err.print(
                Text.assemble(
                    ("warning: ", "bold yellow"), f"{message.result()} (logs in {platform.log_dir})"
                )
            )
    finally:
        stopping.cancel()


async def _check_infrastructure(options: PlatformOptions) -> None:
    """Fail in a second, not after the start-up timeout, when given NATS or Postgres is unusable."""
    if options.nats_url:
        try:
            # Two attempts in all; NATS retries forever when max_reconnect_attempts is 0 or less.
            connection = await nats.connect(
                options.nats_url, connect_timeout=3, allow_reconnect=False, max_reconnect_attempts=1,
                reconnect_time_wait=0.2, error_cb=_ignore,
            )  # fmt: skip
            try:
                await connection.jetstream().account_info()
            finally:
                await connection.close()
        except (OSError, TimeoutError, nats.errors.Error) as exc:
            raise PlatformError(
                f"cannot use NATS at {redact_url(options.nats_url)} ({type(exc).__name__}: {exc}); "
                "it must be running with JetStream enabled (nats-server -js)"
            ) from None
    address = urlsplit(options.postgres_url or "")
    if address.hostname:
        try:
            _, writer = await asyncio.wait_for(
                asyncio.open_connection(address.hostname, address.port or 5432), 3
            )
            writer.close()
        except (OSError, TimeoutError) as exc:
            raise PlatformError(
                f"cannot reach PostgreSQL at {redact_url(options.postgres_url or '')} ({exc or 'timed out'})"
            ) from None


async def _ignore(error: Exception) -> None:
    """NATS reports connection errors here as well as by raising; raising is enough."""


def _reachable(host: str) -> str:
    """The address to show for `host`: a listener on every interface is reachable on loopback."""
    if host in _WILDCARD_HOSTS:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _is_free(host: str, port: int) -> bool:
    """Whether the gateway could listen on host:port (as it will, with SO_REUSEADDR)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror:
        return True
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError:
            return False
    return True
