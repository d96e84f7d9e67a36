"""`/api/v1/vault/sys`: the seal (status, health, init, unseal, seal) and KEK rotation.

The Vault dialect of the same operations is `vault_sys` (`/v1/sys/...`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from assay_common.problems import problems
from assay_common.route_access import Access, access
from assay_vault.api.deps import sealing
from assay_vault.domain import shamir
from assay_vault.domain.sealing import DEFAULT_SHARES, DEFAULT_THRESHOLD, Sealing, SealStatus

router = APIRouter(prefix="/api/v1/vault/sys", tags=["vault: seal"])

#: The health status code of each state, as Vault's `sys/health` answers by default.
HEALTH_CODES = {"unsealed": 200, "sealed": 503, "uninitialized": 501}


class SealStatusOut(BaseModel):
    initialized: bool
    sealed: bool
    secret_shares: int = Field(description="Key shares made at init (0 before)")
    secret_threshold: int = Field(description="Key shares that unseal (0 before init)")
    progress: int = Field(description="Key shares this replica holds towards the threshold")
    nonce: str = Field(description="The current unseal attempt on this replica; empty when none")
    kek_version: int | None = Field(
        description="The KEK version new records are sealed with; null while sealed"
    )
    replica: str = Field(description="The replica that answered (each is unsealed on its own)")

    @classmethod
    def of(cls, status: SealStatus) -> SealStatusOut:
        return cls(
            initialized=status.initialized,
            sealed=status.sealed,
            secret_shares=status.secret_shares,
            secret_threshold=status.secret_threshold,
            progress=status.progress,
            nonce=status.nonce,
            kek_version=status.kek_version,
            replica=status.replica,
        )


class HealthOut(BaseModel):
    state: Literal["uninitialized", "sealed", "unsealed"]
    initialized: bool
    sealed: bool
    replica: str


class InitIn(BaseModel):
    secret_shares: int = Field(default=DEFAULT_SHARES, ge=1, le=shamir.MAX_SHARES)
    secret_threshold: int = Field(default=DEFAULT_THRESHOLD, ge=1, le=shamir.MAX_SHARES)


class InitOut(BaseModel):
    keys: list[str] = Field(description="The key shares in hex; shown this once, never stored")
    keys_base64: list[str] = Field(description="The same key shares in base64")
    secret_shares: int
    secret_threshold: int


class UnsealIn(BaseModel):
    key: str | None = Field(default=None, description="One key share, hex or base64")
    reset: bool = Field(default=False, description="Forget the shares given so far (wins over `key`)")


class RotateOut(BaseModel):
    kek_version: int = Field(description="The new KEK version: new records are sealed with it")


class KeyStatusOut(BaseModel):
    kek_version: int = Field(description="The KEK version new records are sealed with")
    installed_at: datetime = Field(description="When that version was made")
    encryptions: int = Field(description="Records this replica sealed with it since it was unsealed")


async def unseal_with(domain: Sealing, key: str | None, reset: bool) -> SealStatus:
    """A share (or a reset) from a request, for both dialects."""
    if reset:
        return await domain.submit(None, reset=True)
    return await domain.submit(shamir.decode_share(key) if key is not None else None)


@router.get("/seal-status", response_model=SealStatusOut, summary="The seal's state on this replica")
async def seal_status(domain: Sealing = Depends(sealing)) -> SealStatusOut:
    return SealStatusOut.of(await domain.status())


@router.get(
    "/health",
    response_model=HealthOut,
    responses={501: {"model": HealthOut}, 503: {"model": HealthOut}},
    summary="200 unsealed, 503 sealed, 501 not initialized",
)
async def health(domain: Sealing = Depends(sealing)) -> JSONResponse:
    status = await domain.status()
    body = HealthOut(
        state=status.state, initialized=status.initialized, sealed=status.sealed, replica=status.replica
    )
    return JSONResponse(body.model_dump(), status_code=HEALTH_CODES[status.state])


@router.post(
    "/init",
    status_code=201,
    response_model=InitOut,
    responses=problems(409, 422),
    summary="Initialize the vault: make the root key and answer its key shares, once",
)
async def initialize(
    body: InitIn, domain: Sealing = Depends(sealing), caller: Access = Depends(access)
) -> InitOut:
    shares = await domain.initialize(body.secret_shares, body.secret_threshold, caller.actor)
    keys, keys_base64 = shamir.texts(shares)
    return InitOut(
        keys=keys,
        keys_base64=keys_base64,
        secret_shares=body.secret_shares,
        secret_threshold=body.secret_threshold,
    )


@router.post(
    "/unseal",
    response_model=SealStatusOut,
    responses=problems(400),
    summary="Give this replica one key share (or reset the attempt); it unseals at the threshold",
)
async def unseal(body: UnsealIn, domain: Sealing = Depends(sealing)) -> SealStatusOut:
    return SealStatusOut.of(await unseal_with(domain, body.key, body.reset))


@router.post("/seal", status_code=204, summary="Seal the vault: every replica wipes its keys")
async def seal(domain: Sealing = Depends(sealing), caller: Access = Depends(access)) -> None:
    await domain.seal(caller.actor)


@router.post(
    "/rotate",
    response_model=RotateOut,
    responses=problems(409, 503),
    summary="Make a new key-encryption key version for new records",
)
async def rotate(domain: Sealing = Depends(sealing), caller: Access = Depends(access)) -> RotateOut:
    return RotateOut(kek_version=await domain.rotate(caller.actor))


@router.get(
    "/key-status",
    response_model=KeyStatusOut,
    responses=problems(503),
    summary="The KEK new records are sealed with, and when it was made",
)
async def key_status(domain: Sealing = Depends(sealing)) -> KeyStatusOut:
    status = await domain.key_status()
    return KeyStatusOut(
        kek_version=status.kek_version, installed_at=status.installed_at, encryptions=status.encryptions
    )
