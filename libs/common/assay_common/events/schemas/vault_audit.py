"""The vault's audit of every secret request, and the events of its audit sinks.

`assay.vault.request` is an audit record (subject `<audit prefix>.vault.request`): one per request
the vault answered, written through the outbox after the route answered and before the answer
left (docs/vault.md#audit). It names who asked, what and where, and how it ended; it never holds a
request or response body value, a header, a token or the query string. Refusals (401/403) are
`assay.vault.access_denied` records instead (`schemas.access`).

`audit_sink_enabled` and `audit_sink_disabled` are domain events (`assay.vault._.<name>`): every
replica starts or stops delivering to the sink on hearing them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from assay_common.events.envelope import EventData, event_type


@event_type(
    "vault",
    "request",
    "A request to the vault was answered: who, which operation on what, and how it ended (never a value)",
    audit=True,
)
class VaultRequest(EventData):
    actor_id: str | None = Field(
        default=None,
        description="The caller's principal id (a user's id, a service's name); none if anonymous",
    )
    actor_kind: str = Field(
        description="The principal's kind (`user`, `api_key`, `service`, `external`, `biscuit`, `anonymous`)"
    )
    api_key_id: str | None = Field(default=None, description="The API key presented, for `api_key`")
    client_address: str | None = Field(default=None, description="The client's address")
    target_type: str | None = Field(
        default=None,
        description="What the request acted on, as the permission store names it (`vault_mount`)",
    )
    target_id: str | None = Field(default=None, description="Its id (the mount)")
    dialect: Literal["native", "vault"] = Field(
        description="`native`: Assay's API (`/api/v1/vault/…`); `vault`: Vault's (`/v1/…`)"
    )
    method: str
    path: str = Field(description="The request's path, without the query string")
    operation: str = Field(description="What the route does, e.g. `kv.read`, `kv.write`, `sys.unseal`")
    mount: str | None = Field(default=None, description="The mount the request named")
    secret_path: str | None = Field(default=None, description="The secret's path inside its mount")
    key_name: str | None = Field(default=None, description="The named key (transit) the request named")
    sink: str | None = Field(default=None, description="The audit sink the request named")
    status: int = Field(description="The HTTP status answered")
    outcome: Literal["ok", "error"] = Field(description="`ok` for statuses below 400")
    code: str | None = Field(default=None, description="The problem's code, for errors answered as one")
    request_id: str | None = Field(default=None, description="The request's X-Request-Id")


@event_type(
    "vault", "audit_sink_enabled", "An audit sink was enabled: the vault delivers audit records to it"
)
class AuditSinkEnabled(EventData):
    path: str
    type: str
    description: str
    filter: list[str] = Field(description="Globs on the record type; records of other types are skipped")
    enabled_by: str


@event_type("vault", "audit_sink_disabled", "An audit sink was disabled: nothing more is delivered to it")
class AuditSinkDisabled(EventData):
    path: str
    disabled_by: str
