"""Password recovery over HTTP: accepted alike for every address, a sealed single-use token on the
events stream for real users only, and the reset."""

from __future__ import annotations

import json
from typing import Any

from assay_common.events.schemas.auth import open_recovery_delivery
from assay_common.internal_auth import Principal
from tests.auth_api import PASSWORD, RECOVERY_KEY, AuthApi, email
from tests.conftest import Stack
from tests.support import eventually, subject_messages

ANONYMOUS = Principal.anonymous()


async def recovery_events(stack: Stack, user_id: str) -> list[dict[str, Any]]:
    subject = stack.subjects.event("auth", None, "password_recovery_requested")
    messages = await subject_messages(stack.nats.url, stack.subjects.events_stream, subject)
    events = [json.loads(m.data) for m in messages if m.data]
    return [e for e in events if e["data"]["user_id"] == user_id]


async def test_recovery_is_accepted_alike_and_the_token_resets_once(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    user = await auth_api.create_user(email(unique), email_verified=True)
    me = await auth_api.signed_in(email(unique))
    known = await auth_api.call(
        "POST", "/api/v1/auth/password/recovery", ANONYMOUS, json={"email": email(unique)}
    )
    unknown = await auth_api.call(
        "POST", "/api/v1/auth/password/recovery", ANONYMOUS, json={"email": email(unique, "nobody")}
    )
    assert (
        (known.status_code, known.json())
        == (unknown.status_code, unknown.json())
        == (202, {"status": "accepted"})
    )

    async def issued() -> bool:
        return len(await recovery_events(stack, user["id"])) == 1

    await eventually(issued, what="the recovery event on the events stream")
    [event] = await recovery_events(stack, user["id"])
    delivery = open_recovery_delivery(RECOVERY_KEY, event["data"]["sealed"])
    assert delivery.email == email(unique)
    assert delivery.token not in json.dumps(event)

    reset = await auth_api.call(
        "POST",
        "/api/v1/auth/password/reset",
        ANONYMOUS,
        json={"token": delivery.token, "new_password": "recovered at last"},
    )
    assert reset.status_code == 204, reset.text
    assert (await auth_api.call("GET", "/api/v1/auth/whoami", me.principal)).status_code == 401
    assert (await auth_api.login(email(unique), PASSWORD)).status_code == 401
    assert (await auth_api.login(email(unique), "recovered at last")).status_code == 200
    again = await auth_api.call(
        "POST",
        "/api/v1/auth/password/reset",
        ANONYMOUS,
        json={"token": delivery.token, "new_password": "once more please"},
    )
    assert again.status_code == 400 and again.json()["code"] == "invalid_recovery_token"


async def test_unverified_addresses_get_no_token(stack: Stack, auth_api: AuthApi, unique: str) -> None:
    user = await auth_api.create_user(email(unique))
    answer = await auth_api.call(
        "POST", "/api/v1/auth/password/recovery", ANONYMOUS, json={"email": email(unique)}
    )
    assert answer.status_code == 202

    async def audited() -> bool:
        records = await auth_api.call(
            "GET", "/api/v1/auth/audit", params={"action": "recovery_requested", "target": user["id"]}
        )
        return [r["data"]["outcome"] for r in records.json()["items"]] == ["not_eligible"]

    await eventually(audited, what="the recovery request in the audit log")
    assert await recovery_events(stack, user["id"]) == []
