"""`create_app(settings)`: the vault service as an ASGI application."""

from pathlib import Path

from fastapi import FastAPI

from assay_common.service import ServiceDefinition, create_service_app
from assay_vault.settings import VaultSettings
from assay_vault.store import tables

MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def create_app(settings: VaultSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="vault",
            description="Sealed secrets: KV v2, transit, dynamic credentials and a Vault-compatible API.",
            settings=settings or VaultSettings(),
            migrations=MIGRATIONS,
            outbox_table=tables.outbox,
        )
    )
