"""Mounts: `/api/v1/vault/mounts` (Assay's API) and `/v1/sys/mounts` (Vault's dialect): enable a
KV version 2 or transit engine at a path, list, read, tune and disable mounts. Disabling deletes
the secrets (or keys).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from assay_common.problems import problems
from assay_common.service import distribution_version
from assay_vault.api.kv_deps import mounts, seconds_or_none
from assay_vault.api.kv_vault import VaultBodyRoute
from assay_vault.api.vault_dialect import VAULT_PREFIX, envelope
from assay_vault.domain.kv_mounts import KV_ENGINE, SYSTEM_LEASE_TTL, MountNotFound, Mounts
from assay_vault.store.kv_mounts import MountRow

router = APIRouter()
NATIVE = "/api/v1/vault/mounts"
VAULT = VAULT_PREFIX + "/sys/mounts"
#: Vault answers writes to PUT and POST alike.
WRITE_METHODS = ("POST", "PUT")
RUNNING_VERSION = f"v{distribution_version('assay-vault')}+builtin.assay"

MountName = Annotated[str, Path(min_length=1, max_length=64, description="The mount path, e.g. `secret`")]


# ---- Assay's API -----------------------------------------------------------------------------


class MountOut(BaseModel):
    path: str
    type: str
    version: int
    description: str
    accessor: str
    uuid: str
    default_lease_ttl_seconds: int = Field(description="0: the system's")
    max_lease_ttl_seconds: int = Field(description="0: the system's")
    created_at: datetime

    @classmethod
    def of(cls, row: MountRow) -> MountOut:
        return cls(
            path=row.path,
            type=row.type,
            version=row.version,
            description=row.description,
            accessor=row.accessor,
            uuid=row.uuid,
            default_lease_ttl_seconds=row.default_lease_ttl,
            max_lease_ttl_seconds=row.max_lease_ttl,
            created_at=row.created_at,
        )


class MountList(BaseModel):
    items: list[MountOut]


class MountIn(BaseModel):
    path: str = Field(min_length=1, max_length=64, examples=["secret"])
    type: Literal["kv", "transit"] = "kv"
    version: Literal[2] = Field(default=2, description="The kv engine's version (transit has none)")
    description: str = Field(default="", max_length=1000)
    default_lease_ttl_seconds: int = Field(default=0, ge=0)
    max_lease_ttl_seconds: int = Field(default=0, ge=0)


class MountTuneIn(BaseModel):
    description: str | None = Field(default=None, max_length=1000)
    default_lease_ttl_seconds: int | None = Field(default=None, ge=0)
    max_lease_ttl_seconds: int | None = Field(default=None, ge=0)


@router.get(
    NATIVE, response_model=MountList, responses=problems(503), summary="List mounts", tags=["vault: mounts"]
)
async def list_mounts(domain: Mounts = Depends(mounts)) -> MountList:
    return MountList(items=[MountOut.of(row) for row in await domain.list()])


@router.post(
    NATIVE,
    status_code=201,
    response_model=MountOut,
    responses=problems(409, 422, 503),
    summary="Enable a secrets engine (KV version 2 or transit) at a path",
    tags=["vault: mounts"],
)
async def enable_mount(body: MountIn, domain: Mounts = Depends(mounts)) -> MountOut:
    row = await domain.enable(
        body.path,
        body.type,
        {"version": str(body.version)},
        body.description,
        default_lease_ttl=body.default_lease_ttl_seconds,
        max_lease_ttl=body.max_lease_ttl_seconds,
    )
    return MountOut.of(row)


@router.get(
    NATIVE + "/{mount}",
    response_model=MountOut,
    responses=problems(404, 503),
    summary="Read a mount",
    tags=["vault: mounts"],
)
async def read_mount(mount: MountName, domain: Mounts = Depends(mounts)) -> MountOut:
    return MountOut.of(await domain.get(mount))


@router.patch(
    NATIVE + "/{mount}",
    response_model=MountOut,
    responses=problems(404, 422, 503),
    summary="Tune a mount: its description and lease TTLs",
    tags=["vault: mounts"],
)
async def tune_mount(mount: MountName, body: MountTuneIn, domain: Mounts = Depends(mounts)) -> MountOut:
    row = await domain.tune(
        mount,
        description=body.description,
        default_lease_ttl=body.default_lease_ttl_seconds,
        max_lease_ttl=body.max_lease_ttl_seconds,
    )
    return MountOut.of(row)


@router.delete(
    NATIVE + "/{mount}",
    status_code=204,
    responses=problems(404, 503),
    summary="Disable a mount and delete every secret in it",
    tags=["vault: mounts"],
)
async def disable_mount(mount: MountName, domain: Mounts = Depends(mounts)) -> None:
    if not await domain.disable(mount):
        raise MountNotFound(f"nothing is mounted at {mount!r}")


# ---- Vault's dialect -------------------------------------------------------------------------


class VaultMountConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    default_lease_ttl: str | int | None = None
    max_lease_ttl: str | int | None = None


class VaultMountIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    # hvac sends null for what it was not given.
    description: str | None = None
    config: VaultMountConfig | None = None
    options: dict[str, str | int] | None = None


class VaultTuneIn(VaultMountConfig):
    description: str | None = None


def vault_options(row: MountRow) -> dict[str, str] | None:
    """A mount's options as Vault shows them: a kv engine's version; none for transit."""
    return {"version": str(row.version)} if row.type == KV_ENGINE else None


def vault_mount(row: MountRow) -> dict[str, Any]:
    """A mount as Vault's `sys/mounts` describes one."""
    return {
        "accessor": row.accessor,
        "config": {
            "default_lease_ttl": row.default_lease_ttl,
            "force_no_cache": False,
            "max_lease_ttl": row.max_lease_ttl,
        },
        "deprecation_status": "supported",
        "description": row.description,
        "external_entropy_access": False,
        "local": False,
        "options": vault_options(row),
        "plugin_version": "",
        "running_plugin_version": RUNNING_VERSION,
        "running_sha256": "",
        "seal_wrap": False,
        "type": row.type,
        "uuid": row.uuid,
    }


def vault_tune(row: MountRow) -> dict[str, Any]:
    return {
        "default_lease_ttl": row.default_lease_ttl or SYSTEM_LEASE_TTL,
        "description": row.description,
        "force_no_cache": False,
        "max_lease_ttl": row.max_lease_ttl or SYSTEM_LEASE_TTL,
        **({"options": options} if (options := vault_options(row)) else {}),
    }


def legacy_envelope(data: dict[str, Any]) -> dict[str, Any]:
    """Vault's `sys/mounts` answers repeat the data at the top level, for clients of old."""
    return {**data, **envelope(data)}


def _writes(path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
    for method in WRITE_METHODS:
        router.add_api_route(
            path,
            endpoint,
            methods=[method],
            name=f"{endpoint.__name__}_{method.lower()}",
            tags=["vault: Vault-compatible mounts"],
            route_class_override=VaultBodyRoute,
            **kwargs,
        )


@router.get(VAULT, summary="List mounts (Vault's `sys/mounts`)", tags=["vault: Vault-compatible mounts"])
async def vault_list_mounts(domain: Mounts = Depends(mounts)) -> dict[str, Any]:
    return legacy_envelope({f"{row.path}/": vault_mount(row) for row in await domain.list()})


@router.get(VAULT + "/{mount}", summary="Read a mount", tags=["vault: Vault-compatible mounts"])
async def vault_read_mount(mount: MountName, domain: Mounts = Depends(mounts)) -> dict[str, Any]:
    return legacy_envelope(vault_mount(await domain.get(mount)))


async def vault_enable_mount(
    mount: MountName, body: VaultMountIn, domain: Mounts = Depends(mounts)
) -> Response:
    config = body.config or VaultMountConfig()
    await domain.enable(
        mount,
        body.type,
        {key: str(value) for key, value in (body.options or {}).items()},
        body.description or "",
        default_lease_ttl=seconds_or_none(config.default_lease_ttl, "default_lease_ttl") or 0,
        max_lease_ttl=seconds_or_none(config.max_lease_ttl, "max_lease_ttl") or 0,
    )
    return Response(status_code=204)


_writes(
    VAULT + "/{mount}", vault_enable_mount, status_code=204, summary="Enable a KV version 2 or transit engine"
)


@router.delete(
    VAULT + "/{mount}",
    status_code=204,
    summary="Disable a mount (its secrets are deleted)",
    tags=["vault: Vault-compatible mounts"],
)
async def vault_disable_mount(mount: MountName, domain: Mounts = Depends(mounts)) -> Response:
    await domain.disable(mount)  # Vault answers 204 whether or not anything was mounted
    return Response(status_code=204)


@router.get(VAULT + "/{mount}/tune", summary="Read a mount's tuning", tags=["vault: Vault-compatible mounts"])
async def vault_read_tune(mount: MountName, domain: Mounts = Depends(mounts)) -> JSONResponse:
    return JSONResponse(legacy_envelope(vault_tune(await domain.get(mount))))


async def vault_tune_mount(mount: MountName, body: VaultTuneIn, domain: Mounts = Depends(mounts)) -> Response:
    await domain.tune(
        mount,
        description=body.description,
        default_lease_ttl=seconds_or_none(body.default_lease_ttl, "default_lease_ttl"),
        max_lease_ttl=seconds_or_none(body.max_lease_ttl, "max_lease_ttl"),
    )
    return Response(status_code=204)


_writes(VAULT + "/{mount}/tune", vault_tune_mount, status_code=204, summary="Tune a mount")


# The `vault`/`bao` CLIs' `kv` commands first ask which mount a path is in and its KV version.
UI_MOUNTS = VAULT_PREFIX + "/sys/internal/ui/mounts"


async def vault_mount_of(mount: MountName, domain: Mounts = Depends(mounts)) -> dict[str, Any]:
    row = await domain.get(mount)
    return envelope({**vault_mount(row), "path": f"{row.path}/"})


async def vault_mount_of_path(
    mount: MountName,
    path: Annotated[str, Path(description="A path inside the mount: the answer is the mount's")],
    domain: Mounts = Depends(mounts),
) -> dict[str, Any]:
    return await vault_mount_of(mount, domain)


for _ui_path, _endpoint in (
    (UI_MOUNTS + "/{mount}", vault_mount_of),
    (UI_MOUNTS + "/{mount}/{path:path}", vault_mount_of_path),
):
    router.add_api_route(
        _ui_path,
        _endpoint,
        methods=["GET"],
        summary="The mount a path is in (the CLIs' preflight of `kv` commands)",
        tags=["vault: Vault-compatible mounts"],
    )
