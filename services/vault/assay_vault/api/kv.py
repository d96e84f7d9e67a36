"""`/api/v1/vault/kv/{mount}/…`: KV version 2 secrets in Assay's own API (problem+json errors).

The same domain serves Vault's dialect (`kv_vault`); this one speaks typed JSON: timestamps as
RFC 3339, durations in seconds, a deleted or destroyed version as a 404 problem naming it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from assay_common.problems import problems
from assay_vault.api.kv_deps import key_value, mounts
from assay_vault.domain.kv import (
    MAX_PATH_LENGTH,
    KeyValue,
    MetadataChanges,
    SecretMetadata,
    VersionInfo,
    Written,
)
from assay_vault.domain.kv_mounts import KV_ENGINE, KvConfigChanges, Mounts
from assay_vault.store.kv_mounts import MountRow

router = APIRouter(prefix="/api/v1/vault/kv/{mount}", tags=["vault: kv"])

MountName = Annotated[str, Path(min_length=1, max_length=64, description="The mount, e.g. `secret`")]
SecretPath = Annotated[
    str, Path(min_length=1, max_length=MAX_PATH_LENGTH, description="The secret's path, e.g. `app/db`")
]
CasVersion = Field(
    default=None,
    ge=0,
    description="Check-and-set: write only if this is the current version (0: only if there is none)",
)


class VersionOut(BaseModel):
    version: int
    created_time: datetime
    deletion_time: datetime | None = Field(description="When it is, or will be, deleted")
    destroyed: bool

    @classmethod
    def of(cls, info: VersionInfo) -> VersionOut:
        return cls(
            version=info.version,
            created_time=info.created_time,
            deletion_time=info.deletion_time,
            destroyed=info.destroyed,
        )


class WrittenOut(BaseModel):
    version: VersionOut
    custom_metadata: dict[str, str]

    @classmethod
    def of(cls, written: Written) -> WrittenOut:
        return cls(version=VersionOut.of(written.metadata), custom_metadata=written.custom_metadata)


class SecretOut(BaseModel):
    data: dict[str, Any]
    version: VersionOut
    custom_metadata: dict[str, str]


class SecretIn(BaseModel):
    data: dict[str, Any] = Field(description="The secret's value: any JSON object")
    cas: int | None = CasVersion


class SecretPatchIn(BaseModel):
    data: dict[str, Any] = Field(description="A JSON merge patch (RFC 7386) of the current value")
    cas: int | None = CasVersion


class VersionsIn(BaseModel):
    versions: list[int] = Field(min_length=1, max_length=1000, examples=[[1, 2]])


class MetadataOut(BaseModel):
    path: str
    current_version: int
    oldest_version: int = Field(description="0 until versions were pruned")
    max_versions: int = Field(description="0: the mount's")
    cas_required: bool
    metadata_cas_required: bool
    delete_version_after_seconds: int = Field(description="0: the mount's")
    custom_metadata: dict[str, str]
    current_metadata_version: int
    created_time: datetime
    updated_time: datetime
    versions: list[VersionOut]

    @classmethod
    def of(cls, meta: SecretMetadata) -> MetadataOut:
        return cls(
            path=meta.path,
            current_version=meta.current_version,
            oldest_version=meta.oldest_version,
            max_versions=meta.max_versions,
            cas_required=meta.cas_required,
            metadata_cas_required=meta.metadata_cas_required,
            delete_version_after_seconds=meta.delete_version_after,
            custom_metadata=meta.custom_metadata,
            current_metadata_version=meta.current_metadata_version,
            created_time=meta.created_time,
            updated_time=meta.updated_time,
            versions=[VersionOut.of(v) for v in meta.versions],
        )


class MetadataIn(BaseModel):
    max_versions: int | None = Field(default=None, ge=0, description="Versions kept; 0: the mount's")
    cas_required: bool | None = None
    metadata_cas_required: bool | None = None
    delete_version_after_seconds: int | None = Field(default=None, ge=0)
    custom_metadata: dict[str, str | None] | None = Field(
        default=None, description="Replaces the custom metadata (PATCH: merged; null removes a key)"
    )
    cas: int | None = Field(
        default=None, ge=0, description="Check-and-set on `current_metadata_version`, when required"
    )

    def changes(self, *, merge: bool) -> MetadataChanges:
        return MetadataChanges(
            max_versions=self.max_versions,
            cas_required=self.cas_required,
            metadata_cas_required=self.metadata_cas_required,
            delete_version_after=self.delete_version_after_seconds,
            custom_metadata=self.custom_metadata,
            merge=merge,
        )


class KeysOut(BaseModel):
    keys: list[str] = Field(description="Secrets, and folders ending in `/`, one level below the prefix")


class KvConfigOut(BaseModel):
    max_versions: int = Field(description="Versions each secret keeps; 0: 10")
    cas_required: bool
    metadata_cas_required: bool
    delete_version_after_seconds: int = Field(description="0: versions are never deleted by age")

    @classmethod
    def of(cls, row: MountRow) -> KvConfigOut:
        return cls(
            max_versions=row.max_versions,
            cas_required=row.cas_required,
            metadata_cas_required=row.metadata_cas_required,
            delete_version_after_seconds=row.delete_version_after,
        )


class KvConfigIn(BaseModel):
    max_versions: int | None = Field(default=None, ge=0)
    cas_required: bool | None = None
    metadata_cas_required: bool | None = None
    delete_version_after_seconds: int | None = Field(default=None, ge=0)


@router.get(
    "/config", response_model=KvConfigOut, responses=problems(404, 503), summary="Read a mount's KV settings"
)
async def read_config(mount: MountName, domain: Mounts = Depends(mounts)) -> KvConfigOut:
    return KvConfigOut.of(await domain.get(mount, engine=KV_ENGINE))


@router.put(
    "/config",
    response_model=KvConfigOut,
    responses=problems(404, 422, 503),
    summary="Write a mount's KV settings",
)
async def write_config(mount: MountName, body: KvConfigIn, domain: Mounts = Depends(mounts)) -> KvConfigOut:
    changes = KvConfigChanges(
        max_versions=body.max_versions,
        cas_required=body.cas_required,
        metadata_cas_required=body.metadata_cas_required,
        delete_version_after=body.delete_version_after_seconds,
    )
    return KvConfigOut.of(await domain.configure(mount, changes))


@router.get(
    "/keys", response_model=KeysOut, responses=problems(404, 503), summary="List secrets below a prefix"
)
async def list_keys(
    mount: MountName,
    prefix: Annotated[str, Query(max_length=MAX_PATH_LENGTH, description="A folder, e.g. `app/`")] = "",
    domain: KeyValue = Depends(key_value),
) -> KeysOut:
    return KeysOut(keys=await domain.list(mount, prefix))


@router.get(
    "/secrets/{path:path}",
    response_model=SecretOut,
    responses=problems(404, 422, 503),
    summary="Read a secret (its current version, or `version`)",
)
async def read_secret(
    mount: MountName,
    path: SecretPath,
    version: Annotated[int | None, Query(ge=0, description="0 or absent: the current version")] = None,
    domain: KeyValue = Depends(key_value),
) -> SecretOut:
    found = await domain.read(mount, path, version)
    return SecretOut(
        data=found.value(), version=VersionOut.of(found.metadata), custom_metadata=found.custom_metadata
    )


@router.put(
    "/secrets/{path:path}",
    response_model=WrittenOut,
    responses=problems(404, 409, 422, 503),
    summary="Write a new version of a secret",
)
async def write_secret(
    mount: MountName, path: SecretPath, body: SecretIn, domain: KeyValue = Depends(key_value)
) -> WrittenOut:
    return WrittenOut.of(await domain.write(mount, path, body.data, body.cas))


@router.patch(
    "/secrets/{path:path}",
    response_model=WrittenOut,
    responses=problems(404, 409, 422, 503),
    summary="Write a new version merging a JSON merge patch into the current one",
)
async def patch_secret(
    mount: MountName, path: SecretPath, body: SecretPatchIn, domain: KeyValue = Depends(key_value)
) -> WrittenOut:
    return WrittenOut.of(await domain.patch(mount, path, body.data, body.cas))


@router.delete(
    "/secrets/{path:path}",
    status_code=204,
    responses=problems(404, 503),
    summary="Soft-delete a secret's current version",
)
async def delete_latest(mount: MountName, path: SecretPath, domain: KeyValue = Depends(key_value)) -> None:
    await domain.delete_latest(mount, path)


@router.post(
    "/delete/{path:path}", status_code=204, responses=problems(404, 422, 503), summary="Soft-delete versions"
)
async def delete_versions(
    mount: MountName, path: SecretPath, body: VersionsIn, domain: KeyValue = Depends(key_value)
) -> None:
    await domain.delete_versions(mount, path, body.versions)


@router.post(
    "/undelete/{path:path}",
    status_code=204,
    responses=problems(404, 422, 503),
    summary="Restore soft-deleted versions",
)
async def undelete_versions(
    mount: MountName, path: SecretPath, body: VersionsIn, domain: KeyValue = Depends(key_value)
) -> None:
    await domain.undelete_versions(mount, path, body.versions)


@router.post(
    "/destroy/{path:path}",
    status_code=204,
    responses=problems(404, 422, 503),
    summary="Destroy versions: their values are gone for good",
)
async def destroy_versions(
    mount: MountName, path: SecretPath, body: VersionsIn, domain: KeyValue = Depends(key_value)
) -> None:
    await domain.destroy_versions(mount, path, body.versions)


@router.get(
    "/metadata/{path:path}",
    response_model=MetadataOut,
    responses=problems(404, 503),
    summary="Read a secret's metadata and the state of each version",
)
async def read_metadata(
    mount: MountName, path: SecretPath, domain: KeyValue = Depends(key_value)
) -> MetadataOut:
    return MetadataOut.of(await domain.read_metadata(mount, path))


@router.put(
    "/metadata/{path:path}",
    response_model=MetadataOut,
    responses=problems(404, 409, 422, 503),
    summary="Write a secret's settings and custom metadata",
)
async def write_metadata(
    mount: MountName, path: SecretPath, body: MetadataIn, domain: KeyValue = Depends(key_value)
) -> MetadataOut:
    await domain.write_metadata(mount, path, body.changes(merge=False), body.cas)
    return MetadataOut.of(await domain.read_metadata(mount, path))


@router.patch(
    "/metadata/{path:path}",
    response_model=MetadataOut,
    responses=problems(404, 409, 422, 503),
    summary="Change some of a secret's settings; custom metadata is merged",
)
async def patch_metadata(
    mount: MountName, path: SecretPath, body: MetadataIn, domain: KeyValue = Depends(key_value)
) -> MetadataOut:
    await domain.write_metadata(mount, path, body.changes(merge=True), body.cas)
    return MetadataOut.of(await domain.read_metadata(mount, path))


@router.delete(
    "/metadata/{path:path}",
    status_code=204,
    responses=problems(404, 503),
    summary="Delete a secret: its metadata and every version",
)
async def delete_metadata(mount: MountName, path: SecretPath, domain: KeyValue = Depends(key_value)) -> None:
    await domain.delete_metadata(mount, path)
