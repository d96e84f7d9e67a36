"""`/v1/sys/...`: the seal in Vault's dialect (health, seal-status, init, unseal, seal), for hvac
and the `vault`/`bao` CLIs. Bodies and status codes are Vault's; errors take Vault's form
(`vault_dialect`). Vault takes PUT and POST alike on its writes; so do these routes.

`init` answers `root_token` as an empty string: Assay has no Vault tokens. Send an Assay API
key or JWT as `X-Vault-Token` instead (docs/vault.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from starlette.responses import JSONResponse, Response

from assay_common.errors import BadRequest
from assay_common.route_access import Access, access
from assay_common.service import distribution_version
from assay_vault.api.deps import sealing
from assay_vault.api.sys import HEALTH_CODES, unseal_with
from assay_vault.api.vault_dialect import envelope
from assay_vault.domain import shamir
from assay_vault.domain.sealing import DEFAULT_SHARES, DEFAULT_THRESHOLD, Sealing, SealStatus

router = APIRouter(prefix="/v1/sys", tags=["vault: Vault-compatible seal"])
VERSION = distribution_version("assay-vault")
CLUSTER_NAME = "assay-vault"
#: Vault answers writes to PUT and POST alike.
WRITE_METHODS = ("PUT", "POST")

StatusCode = Annotated[int | None, Query(ge=100, le=599)]


class UnsupportedOption(BadRequest):
    code = "unsupported_option"
    title = "Assay's vault does not support this option"


class VaultInitIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    secret_shares: int = DEFAULT_SHARES
    secret_threshold: int = DEFAULT_THRESHOLD
    pgp_keys: list[str] | None = None
    root_token_pgp_key: str | None = None


class VaultUnsealIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    key: str | None = None
    reset: bool = False
    migrate: bool = False


def seal_status_body(status: SealStatus) -> dict[str, Any]:
    return {
        "type": "shamir",
        "initialized": status.initialized,
        "sealed": status.sealed,
        "t": status.secret_threshold,
        "n": status.secret_shares,
        "progress": status.progress,
        "nonce": status.nonce,
        "version": VERSION,
        "build_date": "",
        "migration": False,
        "recovery_seal": False,
        "storage_type": "assay",
    }


def _route_per_method(
    path: str, endpoint: Callable[..., Any], methods: tuple[str, ...], **kwargs: Any
) -> None:
    """`endpoint` for each of `methods`, as a route each (so each is one OpenAPI operation)."""
    for method in methods:
        router.add_api_route(
            path, endpoint, methods=[method], name=f"{endpoint.__name__}_{method.lower()}", **kwargs
        )


async def health(
    standbyok: bool = False,
    perfstandbyok: bool = False,
    activecode: StatusCode = None,
    sealedcode: StatusCode = None,
    uninitcode: StatusCode = None,
    standbycode: StatusCode = None,
    drsecondarycode: StatusCode = None,
    performancestandbycode: StatusCode = None,
    domain: Sealing = Depends(sealing),
) -> Response:
    """Vault's health check: 200 unsealed, 503 sealed, 501 not initialized; the `*code` query
    parameters choose other codes. Every unsealed replica is active (none is a standby serving
    reads for another), so the standby options change nothing."""
    status = await domain.status()
    chosen = {"unsealed": activecode, "sealed": sealedcode, "uninitialized": uninitcode}[status.state]
    body = {
        "initialized": status.initialized,
        "sealed": status.sealed,
        "standby": status.sealed,  # as Vault's: a replica that is not unsealed is not active
        "performance_standby": False,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": int(time.time()),
        "version": VERSION,
        "cluster_name": CLUSTER_NAME,
    }
    return JSONResponse(body, status_code=chosen or HEALTH_CODES[status.state])


_route_per_method(
    "/health", health, ("GET", "HEAD"), summary="Health (Vault's sys/health)", response_class=JSONResponse
)


@router.get("/seal-status", summary="Seal status (Vault's sys/seal-status)")
async def seal_status(domain: Sealing = Depends(sealing)) -> dict[str, Any]:
    return seal_status_body(await domain.status())


@router.get("/init", summary="Whether the vault is initialized (Vault's sys/init)")
async def init_status(domain: Sealing = Depends(sealing)) -> dict[str, bool]:
    return {"initialized": (await domain.config()) is not None}


async def initialize(
    body: VaultInitIn, domain: Sealing = Depends(sealing), caller: Access = Depends(access)
) -> dict[str, Any]:
    """Initialize (Vault's sys/init): `keys`, `keys_base64` and an empty `root_token`."""
    if body.pgp_keys or body.root_token_pgp_key:
        raise UnsupportedOption("PGP-encrypted key shares and root tokens are not supported")
    shares = await domain.initialize(body.secret_shares, body.secret_threshold, caller.actor)
    keys, keys_base64 = shamir.texts(shares)
    return {"keys": keys, "keys_base64": keys_base64, "root_token": ""}


async def unseal(body: VaultUnsealIn, domain: Sealing = Depends(sealing)) -> dict[str, Any]:
    """One key share, or a reset (Vault's sys/unseal); answers the seal status."""
    if body.migrate:
        raise UnsupportedOption("seal migration is not supported")
    return seal_status_body(await unseal_with(domain, body.key, body.reset))


async def seal(domain: Sealing = Depends(sealing), caller: Access = Depends(access)) -> Response:
    """Seal every replica (Vault's sys/seal)."""
    await domain.seal(caller.actor)
    return Response(status_code=204)


_route_per_method("/init", initialize, WRITE_METHODS, summary="Initialize (Vault's sys/init)")
_route_per_method("/unseal", unseal, WRITE_METHODS, summary="Unseal (Vault's sys/unseal)")
_route_per_method(
    "/seal", seal, WRITE_METHODS, summary="Seal (Vault's sys/seal)", status_code=204, response_class=Response
)


@router.get("/key-status", summary="The current key-encryption key (Vault's sys/key-status)")
async def key_status(domain: Sealing = Depends(sealing)) -> dict[str, Any]:
    """Vault's "term" is Assay's KEK version; `encryptions` counts this replica's since it was
    unsealed. Vault repeats the fields beside the envelope's `data`; so does this."""
    status = await domain.key_status()
    data = {
        "term": status.kek_version,
        "install_time": status.installed_at.isoformat().replace("+00:00", "Z"),
        "encryptions": status.encryptions,
    }
    return data | envelope(data)


async def rotate(domain: Sealing = Depends(sealing), caller: Access = Depends(access)) -> Response:
    """Make a new key-encryption key version (Vault's sys/rotate); records are rewrapped under it
    in the background."""
    await domain.rotate(caller.actor)
    return Response(status_code=204)


_route_per_method(
    "/rotate",
    rotate,
    WRITE_METHODS,
    summary="Rotate the key-encryption key (Vault's sys/rotate)",
    status_code=204,
    response_class=Response,
)
