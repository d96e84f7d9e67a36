"""`create_app(settings)`: the gateway as an ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from assay_common.errors import ConfigError
from assay_common.internal_auth import InternalTokenMinter, load_private_key
from assay_common.service import (
    Runtime,
    ServiceDefinition,
    create_service_app,
    distribution_version,
    shutting_down,
)
from assay_common.vault_errors import install_vault_errors
from assay_gateway.api import events, openapi, proxy, status
from assay_gateway.authentication import Authenticator
from assay_gateway.authorization import Gatekeeper
from assay_gateway.bearer_tokens import JwtVerifier
from assay_gateway.biscuits import BiscuitVerifier
from assay_gateway.gateway import Gateway
from assay_gateway.openapi_merge import OpenApiCatalog
from assay_gateway.proxy import Proxy
from assay_gateway.settings import GatewaySettings
from assay_gateway.upstreams import Upstreams


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    signing_key = settings.internal_signing_key.get_secret_value()
    if not signing_key:
        raise ConfigError("the gateway needs ASSAY_GATEWAY_INTERNAL_SIGNING_KEY (or _FILE) to call services")
    minter = InternalTokenMinter(load_private_key(signing_key))
    version = distribution_version("assay-gateway")

    async def on_start(rt: Runtime, app: FastAPI) -> None:
        upstreams = Upstreams.of(settings)
        forwarder = Proxy(upstreams, minter)
        rt.start_background("proxy-stop", forwarder.stop_on(shutting_down(app)))
        authenticator = Authenticator(
            upstreams,
            minter,
            settings.auth_cache_seconds,
            JwtVerifier.for_gateway(settings, upstreams, minter),
        )
        biscuits = BiscuitVerifier(upstreams, minter, settings.biscuit_cache_seconds)
        app.state.gateway = Gateway(
            settings=settings,
            version=version,
            bus=rt.bus,
            upstreams=upstreams,
            proxy=forwarder,
            authenticator=authenticator,
            biscuits=biscuits,
            gatekeeper=Gatekeeper(authenticator, rt.checks, biscuits, settings.max_authorized_body_bytes),
            catalog=OpenApiCatalog(
                upstreams,
                app.openapi,
                title="Assay API",
                version=version,
                cache_seconds=settings.openapi_cache_seconds,
                fetch_timeout=settings.health_timeout_seconds,
            ),
        )
        rt.start_background("credential-revocations", authenticator.forget_on(rt.bus))
        rt.start_background("biscuit-revocations", biscuits.forget_on(rt.bus))

    async def on_stop(rt: Runtime) -> None:
        await app.state.gateway.authenticator.jwts.close()
        await app.state.gateway.upstreams.close()

    app = create_service_app(
        ServiceDefinition(
            name="gateway",
            description=(
                "The public edge: one API for every service, the live event stream, the merged OpenAPI."
            ),
            settings=settings,
            public_routers=[status.public_router],
            # The proxy's catch-all route comes last so that every route of the gateway's own wins.
            routers=[status.router, openapi.router, events.router, proxy.router],
            on_start=on_start,
            on_stop=on_stop,
            uses_internal_token=False,
        )
    )
    # hvac and the Vault CLIs read refusals on `/v1` (401, 403, 404) in Vault's form.
    install_vault_errors(app)
    return app
