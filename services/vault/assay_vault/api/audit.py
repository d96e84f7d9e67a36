"""Audit sinks: `/api/v1/vault/audit` (Assay's API) and `/v1/sys/audit` (Vault's dialect, hvac's
`sys.list_enabled_audit_devices`, `enable_audit_device`, `disable_audit_device`): list, enable
and disable the sinks the vault delivers audit records to (docs/vault.md#audit).

In Vault's dialect the filter is the option `event_types` (globs separated by commas): Vault's own
`filter` option is an expression language Assay does not speak, so it is refused rather than
misread.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from assay_common.problems import problems
from assay_common.route_access import Access, access
from assay_common.service import Runtime, runtime
from assay_vault.api.deps import keyring
from assay_vault.api.kv_vault import VaultBodyRoute
from assay_vault.api.mounts import legacy_envelope
from assay_vault.api.vault_dialect import VAULT_PREFIX
from assay_vault.domain.audit_delivery import consumer_name
from assay_vault.domain.audit_sinks import ALL_RECORDS, AuditSinkNotFound, AuditSinks, InvalidAuditSink
from assay_vault.domain.keyring import Keyring
from assay_vault.store.audit_sinks import SinkRow

router = APIRouter()
NATIVE = "/api/v1/vault/audit"
VAULT = VAULT_PREFIX + "/sys/audit"
#: Vault answers writes to PUT and POST alike.
WRITE_METHODS = ("PUT", "POST")

SinkPath = Annotated[
    str, Path(min_length=1, max_length=64, description="The sink's path (its name), e.g. `file`")
]
OptionValue = str | int | float | bool
OPTIONS_DESCRIPTION = (
    "The type's options (docs/vault.md#sinks-and-their-options). file: `file_path` (an absolute "
    "path, `stdout` or `discard`), `mode`, `rotate_bytes`, `rotate_keep`; webhook: `url`, "
    "`hmac_key` (kept sealed, never answered), `timeout_seconds`; syslog: `address`, `protocol` "
    "(`udp`, `tcp`), `facility`, `tag`"
)


async def audit_sinks(
    request: Request, rt: Runtime = Depends(runtime), keys: Keyring = Depends(keyring)
) -> AuditSinks:
    return AuditSinks(rt.store, rt.events, keys, request.app.state.audit_delivery)


def option_texts(options: dict[str, OptionValue] | None) -> dict[str, str]:
    """Options as Vault keeps them: strings (`true`/`false` for booleans)."""
    return {
        name: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for name, value in (options or {}).items()
    }


# ---- Assay's API -------------------------------------------------------------------------------


class AuditSinkIn(BaseModel):
    type: Literal["file", "webhook", "syslog"]
    description: str = Field(default="", max_length=1000)
    options: dict[str, OptionValue] = Field(default_factory=dict, description=OPTIONS_DESCRIPTION)
    filter: list[str] = Field(
        default=list(ALL_RECORDS),
        description="Shell-style globs on the record type (`assay.vault.*`); a record is delivered "
        "if one matches",
    )
    local: bool = Field(default=False, description="Vault's flag: kept and answered, no effect")


class AuditSinkOut(BaseModel):
    path: str
    type: str
    description: str
    options: dict[str, str] = Field(description="The options given, without the HMAC key")
    filter: list[str]
    signed: bool = Field(description="Whether webhook deliveries carry `Assay-Signature`")
    local: bool
    created_at: datetime = Field(description="Records from then on are delivered")
    consumer: str = Field(description="The JetStream consumer on the audit stream that feeds the sink")

    @classmethod
    def of(cls, row: SinkRow) -> AuditSinkOut:
        return cls(
            path=row.path,
            type=row.type,
            description=row.description,
            options=row.options,
            filter=row.filter,
            signed=row.secret is not None,
            local=row.local,
            created_at=row.created_at,
            consumer=consumer_name(row),
        )


class AuditSinkList(BaseModel):
    items: list[AuditSinkOut]


@router.get(
    NATIVE,
    response_model=AuditSinkList,
    responses=problems(503),
    summary="List audit sinks",
    tags=["vault: audit"],
)
async def list_sinks(domain: AuditSinks = Depends(audit_sinks)) -> AuditSinkList:
    return AuditSinkList(items=[AuditSinkOut.of(row) for row in await domain.list()])


@router.put(
    NATIVE + "/{sink}",
    status_code=201,
    response_model=AuditSinkOut,
    responses=problems(400, 409, 422, 503),
    summary="Enable an audit sink: records from now on are delivered to it",
    tags=["vault: audit"],
)
async def enable_sink(
    sink: SinkPath,
    body: AuditSinkIn,
    domain: AuditSinks = Depends(audit_sinks),
    caller: Access = Depends(access),
) -> AuditSinkOut:
    row = await domain.enable(
        sink,
        body.type,
        option_texts(body.options),
        actor=caller.actor,
        description=body.description,
        filter=body.filter,
        local=body.local,
    )
    return AuditSinkOut.of(row)


@router.delete(
    NATIVE + "/{sink}",
    status_code=204,
    responses=problems(404, 503),
    summary="Disable an audit sink: nothing more is delivered to it",
    tags=["vault: audit"],
)
async def disable_sink(
    sink: SinkPath, domain: AuditSinks = Depends(audit_sinks), caller: Access = Depends(access)
) -> None:
    if not await domain.disable(sink, actor=caller.actor):
        raise AuditSinkNotFound(f"no audit sink is enabled at {sink!r}")


# ---- Vault's dialect ---------------------------------------------------------------------------


class VaultAuditIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str = ""
    # hvac leaves out what it was not given; other clients send null.
    description: str | None = None
    options: dict[str, OptionValue] | None = None
    local: bool | None = None


def vault_device(row: SinkRow) -> dict[str, Any]:
    """A sink as Vault's `sys/audit` describes an audit device."""
    return {
        "description": row.description,
        "local": row.local,
        "options": row.options,
        "path": f"{row.path}/",
        "type": row.type,
    }


def vault_filter(options: dict[str, str]) -> list[str]:
    """The filter of a sink enabled in Vault's dialect: the option `event_types`."""
    if "filter" in options:
        raise InvalidAuditSink(
            "Vault's filter expressions are not supported; choose records with the option event_types "
            "(globs on the record type separated by commas, e.g. 'assay.vault.*')"
        )
    given = options.pop("event_types", None)
    if given is None:
        return list(ALL_RECORDS)
    return [glob.strip() for glob in given.split(",") if glob.strip()]


@router.get(VAULT, summary="List audit devices (Vault's `sys/audit`)", tags=["vault: Vault-compatible audit"])
async def vault_list_devices(domain: AuditSinks = Depends(audit_sinks)) -> dict[str, Any]:
    return legacy_envelope({f"{row.path}/": vault_device(row) for row in await domain.list()})


async def vault_enable_device(
    sink: SinkPath,
    body: VaultAuditIn,
    domain: AuditSinks = Depends(audit_sinks),
    caller: Access = Depends(access),
) -> Response:
    options = option_texts(body.options)
    globs = vault_filter(options)
    await domain.enable(
        sink,
        body.type,
        options,
        actor=caller.actor,
        description=body.description or "",
        filter=globs,
        local=bool(body.local),
    )
    return Response(status_code=204)


for _method in WRITE_METHODS:
    router.add_api_route(
        VAULT + "/{sink}",
        vault_enable_device,
        methods=[_method],
        name=f"vault_enable_device_{_method.lower()}",
        status_code=204,
        response_class=Response,
        summary="Enable an audit device (Vault's `sys/audit/:path`)",
        tags=["vault: Vault-compatible audit"],
        route_class_override=VaultBodyRoute,
    )


@router.delete(
    VAULT + "/{sink}",
    status_code=204,
    response_class=Response,
    summary="Disable an audit device",
    tags=["vault: Vault-compatible audit"],
)
async def vault_disable_device(
    sink: SinkPath, domain: AuditSinks = Depends(audit_sinks), caller: Access = Depends(access)
) -> Response:
    await domain.disable(sink, actor=caller.actor)  # Vault answers 204 whether or not one was enabled
    return Response(status_code=204)
