"""`create_app(settings)`: the dashboard as an ASGI application."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware

from assay_common.service import ServiceDefinition, create_service_app
from assay_dashboard import console, consoles
from assay_dashboard.api import assets
from assay_dashboard.rendering import Rendering
from assay_dashboard.settings import DashboardSettings
from assay_dashboard.whitelabel import WhitelabelSettings


def create_app(
    settings: DashboardSettings | None = None, whitelabel: WhitelabelSettings | None = None
) -> FastAPI:
    app: FastAPI = create_service_app(
        ServiceDefinition(
            name="dashboard",
            description=(
                "The web console: server-rendered pages and their assets, reached through the gateway."
            ),
            settings=settings or DashboardSettings(),
            routers=[assets.router, console.router(consoles.declared())],
        )
    )
    app.state.rendering = Rendering(whitelabel or WhitelabelSettings())
    # Pages, scripts and the stylesheet are text: compressed, a first visit moves a quarter of
    # the bytes. (The gateway passes compressed bodies on as they are.)
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    return app
