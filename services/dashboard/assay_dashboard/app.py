"""`create_app(settings)`: the dashboard as an ASGI application."""

from __future__ import annotations

from fastapi import FastAPI

from assay_common.service import ServiceDefinition, create_service_app
from assay_dashboard.api import pages
from assay_dashboard.settings import DashboardSettings


def create_app(settings: DashboardSettings | None = None) -> FastAPI:
    app: FastAPI = create_service_app(
        ServiceDefinition(
            name="dashboard",
            description=(
                "The web console: server-rendered pages and their assets, reached through the gateway."
            ),
            settings=settings or DashboardSettings(),
            routers=[pages.router],
        )
    )
    return app
