"""What every service's `create_app` builds on: lifespan (db, bus, outbox relay, background loops),
the standard endpoints (`/healthz`, `/readyz`, `/version`, `/metrics`, `/openapi.json`), problem+json
errors, telemetry, and the internal-token check on every other route.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import platform
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from pathlib import Path
from types import FrameType
from typing import Any, Literal

import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from assay_common import telemetry
from assay_common.coalesced_writes import CoalescingHttpToolsProtocol
from assay_common.config import CommonSettings
from assay_common.db import Database, wait_until_reachable
from assay_common.events.access_audit import AccessDeniedAudit
from assay_common.events.bus import EventBus
from assay_common.events.outbox import Outbox
from assay_common.events.relay import OutboxRelay
from assay_common.events.subjects import Subjects
from assay_common.events.wakeups import Wakeups
from assay_common.internal_auth import (
    INTERNAL_TOKEN_HEADER,
    InternalTokenVerifier,
    Principal,
    load_public_keys,
)
from assay_common.list_method import ListMethodProtocol
from assay_common.permission_checks import PermissionChecks
from assay_common.problems import install_problem_handlers, install_problem_openapi, listen_for_denials
from assay_common.route_index import install_route_index

log = logging.getLogger("assay.service")
#: How many more container objects than were freed make the collector look at the youngest ones.
YOUNG_COLLECTION_THRESHOLD = 10_000


def distribution_version(distribution: str) -> str:
    try:
        return package_version(distribution)
    except PackageNotFoundError:
        return "0.0.0"


@dataclass
class Runtime:
    """The live parts of a running service, shared by its routes and background loops."""

    settings: CommonSettings
    bus: EventBus
    db: Database | None = None
    outbox: Outbox | None = None
    wakeups: Wakeups | None = None
    permissions: PermissionChecks | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start_background(self, name: str, loop: Coroutine[Any, Any, None]) -> None:
        """Run `loop` until shutdown; a crash is logged and the loop restarted after a pause."""
        self.tasks.append(asyncio.create_task(_supervised(name, loop), name=name))

    @property
    def store(self) -> Database:
        if self.db is None:
            raise RuntimeError("this service has no database")
        return self.db

    @property
    def checks(self) -> PermissionChecks:
        if self.permissions is None:
            raise RuntimeError("the service has not started")
        return self.permissions

    @property
    def events(self) -> Outbox:
        if self.outbox is None:
            raise RuntimeError("this service has no outbox")
        return self.outbox


async def _supervised(name: str, loop: Coroutine[Any, Any, None]) -> None:
    try:
        await loop
    except asyncio.CancelledError:
        raise
    except Exception:
        # A background loop must not die silently: crash the process so the supervisor restarts it.
        log.exception("background loop %s crashed; stopping the service", name)
        raise SystemExit(3) from None


@dataclass
class ServiceDefinition:
    """Everything that makes one service different from another."""

    name: str
    description: str
    settings: CommonSettings
    routers: list[APIRouter] = field(default_factory=list)
    public_routers: list[APIRouter] = field(default_factory=list)
    migrations: Path | None = None
    outbox_table: sa.Table | None = None
    on_start: Callable[[Runtime, FastAPI], Awaitable[None]] | None = None
    on_stop: Callable[[Runtime], Awaitable[None]] | None = None
    readiness: list[Callable[[Runtime], Awaitable[str | None]]] = field(default_factory=list)
    uses_internal_token: bool = True


class Health(BaseModel):
    status: Literal["ok"]
    service: str


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    service: str
    checks: dict[str, str]


class VersionInfo(BaseModel):
    service: str
    version: str
    python: str
    build: str = Field(description="What the service was built from (setting `build`); empty when not told")


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def permission_checks(request: Request) -> PermissionChecks:
    """The service's permission checks (`assay_common.permission_checks`)."""
    rt: Runtime = request.app.state.runtime
    return rt.checks


async def caller(request: Request) -> Principal:
    """The principal the gateway vouched for (set by the internal-token check)."""
    principal: Principal = request.state.principal
    return principal


def _internal_token_check(verifier: InternalTokenVerifier) -> Callable[[Request], Awaitable[None]]:
    async def check(request: Request) -> None:
        request.state.principal = verifier.verify(request.headers.get(INTERNAL_TOKEN_HEADER))

    return check


def build_subjects(settings: CommonSettings) -> Subjects:
    return Subjects(
        events_prefix=settings.subject_prefix,
        audit_prefix=settings.audit_subject_prefix,
        events_stream=settings.events_stream,
        audit_stream=settings.audit_stream,
    )


def create_service_app(definition: ServiceDefinition) -> FastAPI:
    settings = definition.settings
    name = definition.name
    version = distribution_version(f"assay-{name}")
    telemetry.configure(
        name, log_level=settings.log_level, log_json=settings.log_json, otlp_endpoint=settings.otlp_endpoint
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bus = EventBus(
            settings.nats_url,
            build_subjects(settings),
            events_max_age=settings.events_max_age_seconds,
            audit_max_age=settings.audit_max_age_seconds,
            name=f"assay-{name}",
        )
        rt = Runtime(settings=settings, bus=bus)
        app.state.runtime = rt
        log.info("starting %s %s with %s", name, version, settings.redacted())
        if definition.migrations is not None and definition.outbox_table is not None:
            rt.db = Database(settings.resolved_database_url(), schema=settings.db_schema or name)
            await wait_until_reachable(rt.db, timeout=60)
            await rt.db.migrate(definition.migrations)
        await bus.connect()
        await bus.ensure_streams()
        # Every 401/403 of this service becomes an audit record; the gateway is the edge, where
        # X-Forwarded-For is the client's own.
        denials = AccessDeniedAudit(name, bus, behind_gateway=definition.uses_internal_token)
        listen_for_denials(app, denials)
        rt.wakeups = Wakeups(bus, name)
        await rt.wakeups.start()
        rt.permissions = PermissionChecks(bus, cache_seconds=settings.permission_cache_seconds)
        await rt.permissions.start()
        if rt.db is not None and definition.outbox_table is not None:
            rt.outbox = Outbox(name, definition.outbox_table, bus.subjects)
            relay = OutboxRelay(rt.db, bus, rt.outbox, sweep_seconds=settings.outbox_sweep_seconds)
            if settings.outbox_relay_enabled:
                rt.start_background("outbox-relay", relay.run())
        rt.start_background("release-on-shutdown", _release_waiters_on_shutdown(app, rt.wakeups))
        if definition.on_start is not None:
            await definition.on_start(rt, app)
        log.info("%s ready on %s:%s", name, settings.host, settings.port)
        # What start-up made (modules, the app, table metadata) lives as long as the process: out
        # of the collector's sight, a full collection no longer walks it on every run.
        gc.freeze()
        # A request's objects die by reference counting once it is answered; at the default
        # threshold (700 objects) the collector ran every few requests, over the objects of the
        # requests in flight (4-6 % of the gateway's CPU under load, none of it freeing anything).
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
        try:
            yield
        finally:
            for task in rt.tasks:
                task.cancel()
            for task in rt.tasks:
                with suppress(asyncio.CancelledError, SystemExit):
                    await task
            if definition.on_stop is not None:
                await definition.on_stop(rt)
            listen_for_denials(app, None)
            await denials.close()
            await rt.wakeups.stop()
            await rt.permissions.stop()
            await bus.close()
            if rt.db is not None:
                await rt.db.dispose()

    app = FastAPI(
        title=f"Assay {name}",
        version=version,
        description=definition.description,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        # Our TelemetryMiddleware makes the request span and the metrics; FastAPI's own would
        # make a second set of both on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.shutting_down = asyncio.Event()
    install_problem_handlers(app)
    install_problem_openapi(app)
    app.add_middleware(telemetry.TelemetryMiddleware, service=name)
    app.include_router(_standard_router(definition, version))
    for router in definition.public_routers:
        app.include_router(router)
    if definition.uses_internal_token:
        verifier = InternalTokenVerifier(load_public_keys(settings.internal_verify_keys), audience=name)
        dependencies = [Depends(_internal_token_check(verifier))]
    else:
        dependencies = []
    for router in definition.routers:
        app.include_router(router, dependencies=dependencies)
    install_route_index(app.router)
    return app


def _standard_router(definition: ServiceDefinition, version: str) -> APIRouter:
    router = APIRouter(tags=["service"])
    name = definition.name

    @router.get("/healthz", response_model=Health, summary="Liveness")
    async def healthz() -> Health:
        return Health(status="ok", service=name)

    @router.get(
        "/readyz",
        response_model=Readiness,
        summary="Readiness: database, NATS, migrations",
        responses={503: {"model": Readiness}},
    )
    async def readyz(request: Request) -> Response:
        rt: Runtime | None = getattr(request.app.state, "runtime", None)
        checks = await _readiness_checks(definition, rt)
        ready = all(v == "ok" for v in checks.values())
        body = Readiness(status="ready" if ready else "not_ready", service=name, checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @router.get("/version", response_model=VersionInfo, summary="Version")
    async def version_info() -> VersionInfo:
        return VersionInfo(
            service=name, version=version, python=platform.python_version(), build=definition.settings.build
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return telemetry.metrics_response()

    return router


async def _readiness_checks(definition: ServiceDefinition, rt: Runtime | None) -> dict[str, str]:
    if rt is None:
        return {"startup": "starting"}
    checks: dict[str, str] = {"nats": "ok" if rt.bus.is_connected else "disconnected"}
    if rt.db is not None:
        try:
            await asyncio.wait_for(rt.db.ping(), timeout=2)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable ({type(exc).__name__})"
        checks["migrations"] = "ok" if rt.db.is_migrated else "pending"
    for check in definition.readiness:
        problem = await check(rt)
        checks[check.__name__.removeprefix("check_")] = problem or "ok"
    return checks


def shutting_down(app: FastAPI) -> asyncio.Event:
    """Set when the server has been asked to stop: long-lived responses (event streams,
    long-polls) end on it, because the server waits for open connections before shutting down."""
    event: asyncio.Event = app.state.shutting_down
    return event


async def _release_waiters_on_shutdown(app: FastAPI, wakeups: Wakeups) -> None:
    # The server waits for open requests before it shuts down; long-polls must answer now.
    await shutting_down(app).wait()
    wakeups.release_all()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Called from a signal handler: hand the wake-up to the loop instead of touching it here.
        with suppress(RuntimeError):
            asyncio.get_running_loop().call_soon_threadsafe(shutting_down(self._app).set)
        super().handle_exit(sig, frame)


def serve(app: FastAPI, settings: CommonSettings, *, list_method: bool = False) -> None:
    """Run the service with uvicorn (the body of every `python -m assay_<service>`).

    `list_method`: take Vault's `LIST` method too (the gateway and the vault), which httptools
    alone refuses (`assay_common.list_method`)."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        loop="uvloop",
        http=ListMethodProtocol if list_method else CoalescingHttpToolsProtocol,
        timeout_graceful_shutdown=10,
        # Clients that keep connections (Vault clients, browsers) reuse one after pauses of many
        # seconds; a request sent just as the server closes an idle connection is reset, and
        # clients resend only idempotent requests.
        timeout_keep_alive=settings.http_idle_timeout_seconds,
        server_header=False,
        proxy_headers=settings.proxy_headers,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
    _Server(config, app).run()
