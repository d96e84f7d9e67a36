"""`/v1/{mount}/{data,metadata,delete,undelete,destroy,config}/…`: KV version 2 in Vault's dialect,
for hvac, the `vault`/`bao` CLIs and Vault SDKs. Same domain as the native routes (`kv`); bodies,
envelopes and status codes are Vault's (checked against OpenBao by tests/vault/test_kv_vault_differential.py).

Vault-specific answers: a missing secret or version is `404 {"errors": []}`; a deleted or
destroyed version is a 404 carrying the full envelope with `data: null` and the version's metadata
(hvac's `raise_on_deleted_version=False` reads it); a mount that does not exist is Vault's
"no handler for route"; writes take PUT and POST alike; listing is the `LIST` method or
`GET ?list=true`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response

from assay_vault.api.kv_deps import key_value, mounts, seconds_or_none
from assay_vault.api.vault_dialect import VAULT_PREFIX, envelope, errors_response
from assay_vault.domain.kv import (
    InvalidSecret,
    KeyValue,
    MetadataChanges,
    SecretMetadata,
    SecretNotFound,
    VersionInfo,
    Written,
)
from assay_vault.domain.kv_durations import go_duration
from assay_vault.domain.kv_mounts import KV_ENGINE, KvConfigChanges, MountNotFound, Mounts

#: Vault answers writes to PUT and POST alike.
WRITE_METHODS = ("POST", "PUT")
#: `?list=true` (any of Go's true spellings) turns a GET of metadata into a listing.
_TRUE = frozenset({"1", "t", "true"})


class VaultBodyRoute(APIRoute):
    """A route of Vault's dialect: a body that names no content type is read as JSON, as Vault
    reads it (Vault's Go client, and so the `vault`/`bao` CLIs, send their JSON without one)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            if "content-type" not in request.headers:
                scope = {
                    **request.scope,
                    "headers": [*request.scope["headers"], (b"content-type", b"application/json")],
                }
                request = Request(scope, request.receive)
            return await handler(request)

        return handle


class KvVaultRoute(VaultBodyRoute):
    """A KV route of Vault's dialect, which answers Vault's not-founds as Vault does (other errors
    take Vault's form from `vault_dialect`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except SecretNotFound:
                return errors_response(404, [])
            except MountNotFound:
                route = request.url.path.removeprefix(VAULT_PREFIX + "/")
                return errors_response(404, [f'no handler for route "{route}". route entry not found.'])

        return handle


router = APIRouter(
    prefix=VAULT_PREFIX + "/{mount}", tags=["vault: Vault-compatible KV v2"], route_class=KvVaultRoute
)


def rfc3339(moment: datetime | None) -> str:
    """A time as Vault writes it (RFC 3339, UTC, `Z`); "" for none."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def version_body(info: VersionInfo, custom_metadata: dict[str, str]) -> dict[str, Any]:
    return {
        "created_time": rfc3339(info.created_time),
        "custom_metadata": custom_metadata or None,
        "deletion_time": rfc3339(info.deletion_time),
        "destroyed": info.destroyed,
        "version": info.version,
    }


def written_body(written: Written) -> dict[str, Any]:
    return envelope(version_body(written.metadata, written.custom_metadata))


def metadata_body(meta: SecretMetadata) -> dict[str, Any]:
    return {
        "cas_required": meta.cas_required,
        "created_time": rfc3339(meta.created_time),
        "current_metadata_version": meta.current_metadata_version,
        "current_version": meta.current_version,
        "custom_metadata": meta.custom_metadata or None,
        "delete_version_after": go_duration(meta.delete_version_after),
        "max_versions": meta.max_versions,
        "metadata_cas_required": meta.metadata_cas_required,
        "oldest_version": meta.oldest_version,
        "updated_time": rfc3339(meta.updated_time),
        "versions": {
            str(v.version): {
                "created_time": rfc3339(v.created_time),
                "deletion_time": rfc3339(v.deletion_time),
                "destroyed": v.destroyed,
            }
            for v in meta.versions
        },
    }


class VaultOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cas: int | None = None


class VaultSecretIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    data: dict[str, Any] | None = None
    options: VaultOptions = VaultOptions()

    def value(self) -> dict[str, Any]:
        if self.data is None:
            raise InvalidSecret("no data provided")
        return self.data


class VaultVersionsIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    versions: list[int] = Field(default=[], max_length=1000)


class VaultMetadataIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    max_versions: int | None = None
    cas_required: bool | None = None
    metadata_cas_required: bool | None = None
    delete_version_after: str | int | None = None
    custom_metadata: dict[str, Any] | None = None
    cas: int | None = None

    def changes(self, *, merge: bool) -> MetadataChanges:
        return MetadataChanges(
            max_versions=self.max_versions,
            cas_required=self.cas_required,
            metadata_cas_required=self.metadata_cas_required,
            delete_version_after=seconds_or_none(self.delete_version_after, "delete_version_after"),
            custom_metadata=self.custom_metadata,
            merge=merge,
        )


class VaultConfigIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    max_versions: int | None = None
    cas_required: bool | None = None
    metadata_cas_required: bool | None = None
    delete_version_after: str | int | None = None


Version = Annotated[int | None, Query(ge=0)]
Listing = Annotated[str | None, Query(alias="list")]


def _writes(path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
    """`endpoint` for PUT and POST, as two routes (one OpenAPI operation each)."""
    for method in WRITE_METHODS:
        router.add_api_route(
            path, endpoint, methods=[method], name=f"{endpoint.__name__}_{method.lower()}", **kwargs
        )


# ---- config ----------------------------------------------------------------------------------


@router.get("/config", summary="Read the mount's KV configuration (Vault's `{mount}/config`)")
async def read_config(mount: str, domain: Mounts = Depends(mounts)) -> dict[str, Any]:
    row = await domain.get(mount, engine=KV_ENGINE)
    return envelope(
        {
            "cas_required": row.cas_required,
            "delete_version_after": go_duration(row.delete_version_after),
            "max_versions": row.max_versions,
            "metadata_cas_required": row.metadata_cas_required,
        }
    )


async def write_config(mount: str, body: VaultConfigIn, domain: Mounts = Depends(mounts)) -> Response:
    changes = KvConfigChanges(
        max_versions=body.max_versions,
        cas_required=body.cas_required,
        metadata_cas_required=body.metadata_cas_required,
        delete_version_after=seconds_or_none(body.delete_version_after, "delete_version_after"),
    )
    await domain.configure(mount, changes)
    return Response(status_code=204)


_writes("/config", write_config, status_code=204, summary="Write the mount's KV configuration")


# ---- data --------------------------------------------------------------------------------------


@router.get("/data/{path:path}", summary="Read a secret version (Vault's `{mount}/data/:path`)")
async def read_data(
    mount: str, path: str, version: Version = None, domain: KeyValue = Depends(key_value)
) -> Response:
    found = await domain.read(mount, path, version)
    body = envelope({"data": found.data, "metadata": version_body(found.metadata, found.custom_metadata)})
    return JSONResponse(body, status_code=200 if found.data is not None else 404)


async def write_data(
    mount: str, path: str, body: VaultSecretIn, domain: KeyValue = Depends(key_value)
) -> dict[str, Any]:
    return written_body(await domain.write(mount, path, body.value(), body.options.cas))


_writes("/data/{path:path}", write_data, summary="Write a new version of a secret")


@router.patch(
    "/data/{path:path}", summary="Merge a JSON merge patch into the current version (a new version)"
)
async def patch_data(
    mount: str, path: str, body: VaultSecretIn, domain: KeyValue = Depends(key_value)
) -> dict[str, Any]:
    return written_body(await domain.patch(mount, path, body.value(), body.options.cas))


@router.delete("/data/{path:path}", status_code=204, summary="Soft-delete the current version of a secret")
async def delete_latest(mount: str, path: str, domain: KeyValue = Depends(key_value)) -> Response:
    await domain.delete_latest(mount, path)
    return Response(status_code=204)


# ---- delete, undelete, destroy -------------------------------------------------------------


VersionsEndpoint = Callable[[KeyValue, str, str, list[int]], Awaitable[None]]


def _versions_change(change: VersionsEndpoint, name: str) -> Callable[..., Any]:
    async def endpoint(
        mount: str, path: str, body: VaultVersionsIn, domain: KeyValue = Depends(key_value)
    ) -> Response:
        await change(domain, mount, path, body.versions)
        return Response(status_code=204)

    endpoint.__name__ = name
    return endpoint


for _name, _change, _summary in (
    ("delete", KeyValue.delete_versions, "Soft-delete versions of a secret"),
    ("undelete", KeyValue.undelete_versions, "Restore soft-deleted versions of a secret"),
    ("destroy", KeyValue.destroy_versions, "Destroy versions of a secret for good"),
):
    _writes(
        f"/{_name}/{{path:path}}",
        _versions_change(_change, f"{_name}_versions"),
        status_code=204,
        summary=_summary,
    )


# ---- metadata ----------------------------------------------------------------------------------


async def _listing(domain: KeyValue, mount: str, prefix: str) -> Response:
    keys = await domain.list(mount, prefix)
    if not keys:
        return errors_response(404, [])
    return JSONResponse(envelope({"keys": keys}))


async def read_metadata(
    mount: str, path: str, listing: Listing = None, domain: KeyValue = Depends(key_value)
) -> Response:
    if listing is not None and listing.lower() in _TRUE:
        return await _listing(domain, mount, path)
    return JSONResponse(envelope(metadata_body(await domain.read_metadata(mount, path))))


async def list_metadata(mount: str, path: str, domain: KeyValue = Depends(key_value)) -> Response:
    return await _listing(domain, mount, path)


async def read_root_metadata(
    mount: str, listing: Listing = None, domain: KeyValue = Depends(key_value)
) -> Response:
    if listing is not None and listing.lower() in _TRUE:
        return await _listing(domain, mount, "")
    warning = "Non-listing operations on the root of a K/V v2 mount are not supported."
    return JSONResponse(envelope(None, warnings=[warning]), status_code=404)


async def list_root_metadata(mount: str, domain: KeyValue = Depends(key_value)) -> Response:
    return await _listing(domain, mount, "")


# The mount's root, with and without its slash, before the routes of a path (which would take
# `/metadata/` as the empty path).
for _root in ("/metadata", "/metadata/"):
    _name = "root_slash" if _root.endswith("/") else "root"
    router.add_api_route(
        _root,
        read_root_metadata,
        methods=["GET"],
        name=f"read_{_name}",
        summary="List the mount's root (`?list=true`)",
    )
    router.add_api_route(
        _root, list_root_metadata, methods=["LIST"], name=f"list_{_name}", summary="List the mount's root"
    )
router.add_api_route(
    "/metadata/{path:path}",
    read_metadata,
    methods=["GET"],
    summary="Read a secret's metadata, or list (`?list=true`)",
)
router.add_api_route(
    "/metadata/{path:path}", list_metadata, methods=["LIST"], summary="List secrets below a path"
)


async def write_metadata(
    mount: str, path: str, body: VaultMetadataIn, domain: KeyValue = Depends(key_value)
) -> Response:
    await domain.write_metadata(mount, path, body.changes(merge=False), body.cas)
    return Response(status_code=204)


_writes(
    "/metadata/{path:path}",
    write_metadata,
    status_code=204,
    summary="Write a secret's settings and custom metadata",
)


@router.patch(
    "/metadata/{path:path}", status_code=204, summary="Change some of a secret's settings (merge patch)"
)
async def patch_metadata(
    mount: str, path: str, body: VaultMetadataIn, domain: KeyValue = Depends(key_value)
) -> Response:
    await domain.write_metadata(mount, path, body.changes(merge=True), body.cas)
    return Response(status_code=204)


@router.delete(
    "/metadata/{path:path}", status_code=204, summary="Delete a secret with its metadata and every version"
)
async def delete_metadata(mount: str, path: str, domain: KeyValue = Depends(key_value)) -> Response:
    await domain.delete_metadata(mount, path)
    return Response(status_code=204)
