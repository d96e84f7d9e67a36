"""`create_app(settings)`: the vault service as an ASGI application."""

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI

from assay_common.problems import problems
from assay_common.service import Runtime, ServiceDefinition, create_service_app
from assay_vault.api import kv, kv_vault, mounts, sys, vault_sys, vault_token
from assay_vault.api.access import access
from assay_vault.api.vault_dialect import document_list_operations, install_vault_errors
from assay_vault.domain.keyring import Keyring
from assay_vault.domain.rewrap import Rewrapper
from assay_vault.domain.sealing import Sealing
from assay_vault.settings import VaultSettings
from assay_vault.store import tables

MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def api_router() -> APIRouter:
    """Every route of the API, each checked against its row of the route permission table."""
    router = APIRouter(dependencies=[Depends(access)], responses=problems(401, 403))
    for module in (sys, vault_sys, vault_token, mounts, kv, kv_vault):
        router.include_router(module.router)
    return router


def create_app(settings: VaultSettings | None = None) -> FastAPI:
    settings = settings or VaultSettings()
    # Sealed until unsealed: the keys live in this process's memory only.
    keyring = Keyring()

    async def start(rt: Runtime, app: FastAPI) -> None:
        sealing = Sealing(rt.store, rt.events, keyring)
        app.state.sealing = sealing
        rewrapper = Rewrapper(rt.store, keyring)
        sealing.on_keys_changed = rewrapper.request
        rt.start_background("rewrap", rewrapper.run())
        rt.start_background("seal-follower", sealing.follow(rt.bus))
        rt.start_background("seal-watch", sealing.watch(settings.seal_check_seconds))
        if settings.auto_unseal_key_file is not None:
            await sealing.auto_unseal(settings.auto_unseal_key_file)

    app = create_service_app(
        ServiceDefinition(
            name="vault",
            description="Sealed secrets: KV v2, transit, dynamic credentials and a Vault-compatible API.",
            settings=settings,
            routers=[api_router()],
            migrations=MIGRATIONS,
            outbox_table=tables.outbox,
            on_start=start,
        )
    )
    app.state.keyring = keyring
    install_vault_errors(app)
    document_list_operations(app)
    return app
