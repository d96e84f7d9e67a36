"""`create_app(settings)`: the vault service as an ASGI application."""

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI

from assay_common.problems import problems
from assay_common.route_access import access
from assay_common.service import Runtime, ServiceDefinition, create_service_app
from assay_vault.api import audit, kv, kv_vault, mounts, sys, transit, transit_vault, vault_sys, vault_token
from assay_vault.api.request_audit import install_request_audit
from assay_vault.api.vault_dialect import document_list_operations, install_vault_errors
from assay_vault.domain.audit_delivery import AuditDelivery
from assay_vault.domain.audit_records import AuditRecords
from assay_vault.domain.keyring import Keyring
from assay_vault.domain.rewrap import Rewrapper
from assay_vault.domain.sealing import Sealing
from assay_vault.domain.transit import Transit
from assay_vault.settings import VaultSettings
from assay_vault.store import tables

MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def api_router() -> APIRouter:
    """Every route of the API, each checked against its row of the route permission table."""
    router = APIRouter(dependencies=[Depends(access)], responses=problems(401, 403))
    # The secrets routes first: a request is tried against the routes in this order, and these
    # are the busy ones. The order changes no answer: no path of one module matches another's
    # (`/v1/{mount}/…` routes need a second segment, `data`, `keys`, …, that no `sys` route has).
    for module in (kv_vault, transit_vault, kv, transit, sys, vault_sys, vault_token, mounts, audit):
        router.include_router(module.router)
    return router


def create_app(settings: VaultSettings | None = None) -> FastAPI:
    settings = settings or VaultSettings()
    # Sealed until unsealed: the keys live in this process's memory only.
    keyring = Keyring()

    async def start(rt: Runtime, app: FastAPI) -> None:
        sealing = Sealing(rt.store, rt.events, keyring)
        app.state.sealing = sealing
        app.state.audit_records = AuditRecords(rt.store, rt.events)
        rewrapper = Rewrapper(rt.store, keyring)
        sealing.on_keys_changed = rewrapper.request
        rt.start_background("rewrap", rewrapper.run())
        rt.start_background("seal-follower", sealing.follow(rt.bus))
        rt.start_background("seal-watch", sealing.watch(settings.seal_check_seconds))
        transit = Transit(rt.store, rt.events, keyring)
        rt.start_background(
            "transit-auto-rotate", transit.keep_rotating(settings.transit_rotation_check_seconds)
        )
        if settings.auto_unseal_key_file is not None:
            await sealing.auto_unseal(settings.auto_unseal_key_file)
        delivery = AuditDelivery(
            rt.store,
            rt.bus,
            keyring,
            replica=sealing.replica,
            retry_initial_seconds=settings.audit_retry_initial_seconds,
            retry_max_seconds=settings.audit_retry_max_seconds,
            lease_seconds=settings.audit_lease_seconds,
            reconcile_seconds=settings.audit_reconcile_seconds,
        )
        app.state.audit_delivery = delivery
        rt.start_background("audit-delivery", delivery.run())

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
    install_request_audit(app)
    install_vault_errors(app)
    document_list_operations(app)
    return app
