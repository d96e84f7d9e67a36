"""`create_app(settings)`: the auth service as an ASGI application."""

from pathlib import Path

from fastapi import FastAPI

from assay_auth.settings import AuthSettings
from assay_auth.store import tables
from assay_common.service import ServiceDefinition, create_service_app

MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def create_app(settings: AuthSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="auth",
            description="Identity, sessions, API keys, tokens, permissions and audit.",
            settings=settings or AuthSettings(),
            migrations=MIGRATIONS,
            outbox_table=tables.outbox,
        )
    )
