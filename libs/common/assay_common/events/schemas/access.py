"""Access-denied audit records: every 401 and 403 any service answers (`assay_common.events.access_audit`).

One record type per service, `assay.<service>.access_denied` on the audit subject
`audit.<service>.access_denied`, so a subscriber can follow the refusals of one service or of all
(`audit.*.access_denied`). The payload is the same for all. It never carries a credential, a
cookie, a token or the query string (which may hold one); the record's `time` (the CloudEvent's)
is when the refusal was answered.
"""

from __future__ import annotations

from pydantic import Field

from assay_common.events.envelope import EventData, event_type

#: The CloudEvents name (after `assay.<service>.`) of an access-denied record.
ACCESS_DENIED = "access_denied"


class AccessDenied(EventData):
    """A request was refused with 401 (who is calling is not established) or 403 (not allowed)."""

    actor_id: str | None = Field(
        default=None, description="The caller's principal id (a user's id, a service's name), when known"
    )
    actor_kind: str = Field(
        default="unknown",
        description="The principal's kind (`user`, `api_key`, `service`, `external`, `biscuit`, "
        "`anonymous`); `unknown` when no principal was established (a credential that did not hold)",
    )
    api_key_id: str | None = Field(default=None, description="The API key presented, for `api_key`")
    client_address: str | None = Field(default=None, description="The client's address")
    target_type: str | None = Field(default=None, description="The type of the object of `needed`")
    target_id: str | None = Field(default=None, description="The id of the object of `needed`")
    method: str
    path: str = Field(description="The request's path, without the query string")
    status: int = Field(description="401 or 403")
    code: str = Field(description="The problem's code, e.g. `permission_denied`, `not_signed_in`")
    needed: str | None = Field(
        default=None,
        description="The permission the request lacked (`namespace:payments#operate`), when named",
    )
    request_id: str | None = Field(default=None, description="The request's X-Request-Id")


#: The services that answer requests, each with its record type.
SERVICES = ("gateway", "workflow", "auth", "vault", "dashboard")


def _record_type(service: str) -> type[AccessDenied]:
    """`AccessDenied` registered as `assay.<service>.access_denied` (one subclass per service:
    a registered type belongs to one service)."""
    record = type(f"{service.title()}AccessDenied", (AccessDenied,), {"__module__": __name__})
    summary = f"A request to the {service} service was refused with 401 or 403"
    return event_type(service, ACCESS_DENIED, summary, audit=True)(record)


#: The record type of each service.
BY_SERVICE: dict[str, type[AccessDenied]] = {service: _record_type(service) for service in SERVICES}


def access_denied_type(service: str) -> type[AccessDenied]:
    """The access-denied record type of `service`; a service without one cannot start."""
    try:
        return BY_SERVICE[service]
    except KeyError:
        raise ValueError(
            f"service {service!r} has no access-denied audit record type: register one in "
            "assay_common.events.schemas.access"
        ) from None
