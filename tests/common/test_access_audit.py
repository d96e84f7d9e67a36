"""Every 401/403 a service answers becomes an `access_denied` audit record on the audit stream
(`assay_common.events.access_audit`), published beside the answer, never carrying a secret."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request
from nats.js.api import RawStreamMsg
from prometheus_client import REGISTRY

from assay_common.errors import NotFound, Unauthorized
from assay_common.events.access_audit import AccessDeniedAudit, attach_principal
from assay_common.events.bus import EventBus
from assay_common.events.subjects import Subjects
from assay_common.internal_auth import Principal
from assay_common.permission_checks import PermissionDenied, namespace
from assay_common.problems import install_problem_handlers, listen_for_denials
from tests.support import eventually, stream_messages

SECRETS = ("assay_s3cr3t-api-key", "s3cr3t-session", "s3cr3t-csrf", "s3cr3t-query", "s3cr3t-internal")
#: A request carrying every kind of secret a client sends.
SECRET_HEADERS = {
    "authorization": f"Bearer {SECRETS[0]}",
    "cookie": f"assay_session={SECRETS[1]}; assay_csrf={SECRETS[2]}",
    "x-csrf-token": SECRETS[2],
    "x-assay-internal-token": SECRETS[4],
    "x-forwarded-for": "203.0.113.9, 10.0.0.7",
    "x-request-id": "req-1",
}
ANN = Principal(id="0190c8e2-0000-7000-8000-000000000001", kind="api_key", scopes=("x",), api_key_id="k-1")


def make_app(audit: AccessDeniedAudit) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    listen_for_denials(app, audit)

    @app.get("/workflows")
    async def workflows(request: Request) -> None:
        attach_principal(request, ANN)
        raise PermissionDenied(
            "this needs namespace:payments#view", needed=str(namespace("payments", "view"))
        )

    @app.get("/whoami")
    async def whoami() -> None:
        raise Unauthorized("sign in first")

    @app.get("/plain")
    async def plain() -> None:
        raise HTTPException(403)

    @app.get("/missing")
    async def missing() -> None:
        raise NotFound("no such thing")

    return app


@pytest.fixture
async def audit(bus: EventBus) -> AsyncIterator[AccessDeniedAudit]:
    recorder = AccessDeniedAudit("workflow", bus, behind_gateway=True)
    yield recorder
    await recorder.close()


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def audited(bus: EventBus, count: int) -> list[RawStreamMsg]:
    found: list[RawStreamMsg] = []

    async def arrived() -> bool:
        found[:] = await stream_messages(bus, bus.subjects.audit_stream)
        return len(found) >= count

    await eventually(arrived, what=f"{count} access-denied record(s) on the audit stream")
    return found


def dropped(service: str, reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "assay_access_denied_dropped_total", {"service": service, "reason": reason}
    )
    return value or 0.0


async def test_a_refusal_is_an_audit_record_without_any_secret(
    bus: EventBus, audit: AccessDeniedAudit
) -> None:
    async with client(make_app(audit)) as http:
        refused = await http.get(f"/workflows?namespace=payments&token={SECRETS[3]}", headers=SECRET_HEADERS)
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"

    (message,) = await audited(bus, 1)
    assert message.subject == f"{bus.subjects.audit_prefix}.workflow.access_denied"
    assert message.data is not None
    for secret in SECRETS:
        assert secret.encode() not in message.data, f"the record carries {secret}"
    event = json.loads(message.data)
    assert message.headers is not None and message.headers["Nats-Msg-Id"] == event["id"]
    assert (event["type"], event["source"]) == ("assay.workflow.access_denied", "/assay/workflow")
    assert event["time"]
    assert event["data"] == {
        "actor_id": ANN.id,
        "actor_kind": "api_key",
        "api_key_id": "k-1",
        # Behind the gateway: the hop the gateway appended, not what the client claimed.
        "client_address": "10.0.0.7",
        "target_type": "namespace",
        "target_id": "payments",
        "method": "GET",
        "path": "/workflows",
        "status": 403,
        "code": "permission_denied",
        "needed": "namespace:payments#view",
        "request_id": None,
    }


async def test_401s_and_plain_403s_are_recorded_and_other_problems_are_not(
    bus: EventBus, audit: AccessDeniedAudit
) -> None:
    async with client(make_app(audit)) as http:
        assert (await http.get("/missing", headers=SECRET_HEADERS)).status_code == 404
        assert (await http.get("/whoami", headers=SECRET_HEADERS)).status_code == 401
        assert (await http.get("/plain")).status_code == 403

    messages = await audited(bus, 2)
    # Each record is published on its own, so they may arrive in either order.
    records = {r["path"]: r for r in (json.loads(m.data or b"{}")["data"] for m in messages)}
    assert {(p, r["status"], r["code"], r["actor_kind"], r["actor_id"]) for p, r in records.items()} == {
        ("/whoami", 401, "unauthorized", "unknown", None),
        ("/plain", 403, "forbidden", "unknown", None),
    }
    assert records["/plain"]["client_address"] == "192.0.2.1"  # no X-Forwarded-For: the peer


async def test_at_the_edge_the_peer_is_the_client(bus: EventBus) -> None:
    edge = AccessDeniedAudit("gateway", bus, behind_gateway=False)
    async with client(make_app(edge)) as http:
        assert (await http.get("/whoami", headers=SECRET_HEADERS)).status_code == 401
    (message,) = await audited(bus, 1)
    await edge.close()
    record = json.loads(message.data or b"{}")
    assert record["type"] == "assay.gateway.access_denied"
    assert record["data"]["client_address"] == "192.0.2.1", "X-Forwarded-For is the client's own at the edge"


async def test_records_beyond_the_bound_are_dropped_and_counted_not_waited_for(bus: EventBus) -> None:
    full = AccessDeniedAudit("vault", bus, behind_gateway=True, max_in_flight=0)
    before = dropped("vault", "busy")
    async with client(make_app(full)) as http:
        for _ in range(3):
            assert (await http.get("/plain")).status_code == 403
    assert dropped("vault", "busy") == before + 3
    await full.close()
    assert await stream_messages(bus, bus.subjects.audit_stream) == []


async def test_an_unreachable_bus_never_fails_the_answer() -> None:
    unconnected = EventBus("nats://127.0.0.1:1", Subjects(), events_max_age=60, audit_max_age=60)
    audit = AccessDeniedAudit("dashboard", unconnected, behind_gateway=True)
    before = dropped("dashboard", "failed")
    async with client(make_app(audit)) as http:
        assert (await http.get("/plain")).status_code == 403
    await audit.close()
    assert dropped("dashboard", "failed") == before + 1


async def test_every_service_has_an_access_denied_record_type(bus: EventBus) -> None:
    for service in ("gateway", "workflow", "auth", "vault", "dashboard"):
        assert AccessDeniedAudit(service, bus, behind_gateway=True).record_type.type_name() == (
            f"assay.{service}.access_denied"
        )
    with pytest.raises(ValueError, match="no access-denied audit record type"):
        AccessDeniedAudit("elsewhere", bus, behind_gateway=True)
