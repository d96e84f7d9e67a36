"""`create_app(settings)`: the auth service as an ASGI application."""

import logging
from pathlib import Path

from fastapi import FastAPI

from assay_auth.api import (
    api_keys,
    audit,
    biscuits,
    internal,
    login,
    passkeys,
    permissions,
    sessions,
    setup,
    tokens,
    users,
)
from assay_auth.api.deps import install_error_handlers
from assay_auth.domain.identity import Identity
from assay_auth.domain.permission_answers import PermissionAnswers
from assay_auth.domain.platform_links import LIFECYCLES, PlatformLinks
from assay_auth.settings import AuthSettings
from assay_auth.store import tables
from assay_common.service import Runtime, ServiceDefinition, create_service_app

MIGRATIONS = Path(__file__).parent / "store" / "migrations"

log = logging.getLogger("assay.auth")


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    settings = settings or AuthSettings()

    async def start(rt: Runtime, app: FastAPI) -> None:
        identity = Identity(rt.store, rt.events, settings)
        app.state.identity = identity
        # Before the service is ready: the first administrator's grant needs the schema.
        installed = await identity.platform.install()
        if installed.outcome in ("installed", "upgraded"):
            log.info("platform permission schema %s (version %d)", installed.outcome, installed.version)
        rt.start_background("audit-log", identity.audit.follow(rt.bus))
        rt.start_background("permission-answers", PermissionAnswers(identity.permissions).serve(rt.bus))
        for lifecycle in LIFECYCLES:
            links = PlatformLinks(identity.ctx, identity.permissions, lifecycle)
            rt.start_background(f"{lifecycle.resource_type}-links", links.consumer(rt.bus).run())
        rt.start_background("sweep", identity.sweep_forever())
        rt.start_background("signing-key-rotation", identity.rotate_signing_keys_forever())
        if not identity.signing_keys.sealing:
            log.warning(
                "signing_key_encryption_key is not set: JWT signing keys and biscuit root keys are "
                "stored unencrypted in the database; set it in production"
            )

    async def stop(rt: Runtime) -> None:
        identity: Identity | None = getattr(app.state, "identity", None)
        if identity is not None:
            await identity.recovery.drain()

    app = create_service_app(
        ServiceDefinition(
            name="auth",
            description="Identity: users, passwords, passkeys, sessions, API keys and the audit log.",
            settings=settings,
            routers=[
                login.router,
                setup.router,
                users.router,
                sessions.router,
                passkeys.router,
                api_keys.router,
                audit.router,
                tokens.router,
                tokens.well_known,
                biscuits.router,
                permissions.router,
                internal.router,
            ],
            migrations=MIGRATIONS,
            outbox_table=tables.outbox,
            on_start=start,
            on_stop=stop,
        )
    )
    install_error_handlers(app)
    return app
