"""Every refusal is audited: each 401 and 403 a service answers becomes an `access_denied` record.

The problem handlers (`assay_common.problems`) tell the app's denial listener about every 401/403
they render; `create_service_app` makes an `AccessDeniedAudit` that listener, so every service
(the gateway too) records its own refusals. A refusal a service answers through the gateway is
recorded once, by that service: the gateway passes a service's answer on without rendering it.

The record (`assay_common.events.schemas.access`) names the method, the path (never the query
string, which may carry a secret), the status, the problem's code, the permission the error says
was needed (its `needed` extension), the caller when known and the client's address; never a
header, a cookie, a credential or a token.

**Who the caller was** is read from `request.state.principal` (an
`assay_common.internal_auth.Principal`): services set it from the internal token before any route
runs; the gateway sets it once it has authenticated the caller (`attach_principal`). A refusal
before that (a credential that does not hold) is recorded with the kind `unknown`.

A refusal changes no state, so there is no transaction to write the record in: it is published
straight to JetStream (with `Nats-Msg-Id` = its id, like every record) in a task of its own that
never delays or fails the answer. At most `max_in_flight` publications wait at once; beyond that,
or when NATS does not acknowledge, the record is dropped, counted in
`assay_access_denied_dropped_total` and logged (at most every `WARN_EVERY_SECONDS`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

from nats.errors import Error as NatsError
from prometheus_client import Counter
from starlette.requests import Request

from assay_common.db import utcnow, uuid7
from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent
from assay_common.events.outbox import current_traceparent
from assay_common.events.schemas.access import ACCESS_DENIED, AccessDenied, access_denied_type
from assay_common.internal_auth import Principal
from assay_common.permission_checks import Need

log = logging.getLogger("assay.access_audit")

PUBLISHED = Counter(
    "assay_access_denied_published_total", "Access-denied audit records published", ["service"]
)
DROPPED = Counter(
    "assay_access_denied_dropped_total",
    "Access-denied audit records not published (busy: too many waiting; failed: NATS did not ack)",
    ["service", "reason"],
)

#: Longest path kept in a record (a path is the caller's to choose).
MAX_PATH = 1000
#: Drops are logged at most this often (a flood of refusals must not flood the log too).
WARN_EVERY_SECONDS = 10.0


def attach_principal(request: Request, principal: Principal) -> None:
    """Say who the caller of `request` is, for the access-denied record of a refusal that follows."""
    request.state.principal = principal


def client_address(request: Request, *, behind_gateway: bool = True) -> str | None:
    """The client's address. Behind the gateway: the last hop of X-Forwarded-For, which the gateway
    appends (earlier hops come from the client and prove nothing); the peer's address when there is
    none, and always at the edge (`behind_gateway=False`), where every hop is the client's to write."""
    if behind_gateway:
        forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1][:100]
    return request.client.host if request.client else None


def _text(value: object, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


class AccessDeniedAudit:
    """Publishes the access-denied records of one service (the app's denial listener)."""

    #: Publications waiting for NATS at most; more refusals meanwhile are dropped.
    MAX_IN_FLIGHT = 256

    def __init__(
        self,
        service: str,
        bus: EventBus,
        *,
        behind_gateway: bool,
        max_in_flight: int = MAX_IN_FLIGHT,
        publish_timeout: float = 5.0,
    ) -> None:
        self.service = service
        self.record_type = access_denied_type(service)
        self.bus = bus
        self.subject = bus.subjects.audit(service, ACCESS_DENIED)
        self.behind_gateway = behind_gateway
        self.max_in_flight = max_in_flight
        self.publish_timeout = publish_timeout
        self._in_flight: set[asyncio.Task[None]] = set()
        self._unreported_drops = 0
        self._last_warning = -WARN_EVERY_SECONDS

    def denied(self, request: Request, status: int, code: str, needed: str | None) -> None:
        """Record the refusal of `request` in the background (called as its problem is rendered)."""
        if len(self._in_flight) >= self.max_in_flight:
            self._dropped("busy")
            return
        event = self.event_for(request, status, code, needed)
        task = asyncio.create_task(self._publish(event), name="access-denied-audit")
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    def record_for(self, request: Request, status: int, code: str, needed: str | None) -> AccessDenied:
        principal = getattr(request.state, "principal", None)
        known = principal if isinstance(principal, Principal) else None
        anonymous = known is not None and known.kind == "anonymous"
        need = Need.parse(needed) if needed else None
        return self.record_type(
            actor_id=None if known is None or anonymous else known.id,
            actor_kind=known.kind if known is not None else "unknown",
            api_key_id=known.api_key_id if known is not None else None,
            client_address=client_address(request, behind_gateway=self.behind_gateway),
            target_type=need.resource_type if need else None,
            target_id=need.resource_id if need else None,
            method=request.method,
            path=request.url.path[:MAX_PATH],
            status=status,
            code=code,
            needed=str(need) if need else None,
            request_id=_text(getattr(request.state, "request_id", None), 100),
        )

    def event_for(self, request: Request, status: int, code: str, needed: str | None) -> CloudEvent:
        record = self.record_for(request, status, code, needed)
        return CloudEvent(
            id=str(uuid7()),
            source=f"/assay/{self.service}",
            type=record.type_name(),
            time=utcnow(),
            data=record.model_dump(mode="json"),
            traceparent=current_traceparent(),
        )

    async def _publish(self, event: CloudEvent) -> None:
        headers = {"Nats-Msg-Id": event.id}
        if event.traceparent:
            headers["traceparent"] = event.traceparent
        try:
            await self.bus.js.publish(
                self.subject, event.to_json(), timeout=self.publish_timeout, headers=headers
            )
        except (NatsError, TimeoutError, RuntimeError):
            # RuntimeError: the bus is not connected (yet, or any more).
            self._dropped("failed")
            return
        PUBLISHED.labels(self.service).inc()

    def _dropped(self, reason: str) -> None:
        DROPPED.labels(self.service, reason).inc()
        self._unreported_drops += 1
        now = time.monotonic()
        if now - self._last_warning >= WARN_EVERY_SECONDS:
            log.warning(
                "%d access-denied audit record(s) were not published (last: %s); see "
                "assay_access_denied_dropped_total",
                self._unreported_drops,
                reason,
            )
            self._unreported_drops = 0
            self._last_warning = now

    async def close(self, grace_seconds: float = 2.0) -> None:
        """Give the records still being published `grace_seconds`, then stop waiting for them."""
        pending = set(self._in_flight)
        if pending:
            await asyncio.wait(pending, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        for task in pending:
            with suppress(asyncio.CancelledError):
                await task
