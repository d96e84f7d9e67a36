"""Audit over HTTP: each security-relevant action lands on the audit stream and in the audit log."""

from __future__ import annotations

import json
from typing import Any

import httpx

from assay_common.internal_auth import Principal
from tests.auth_api import PASSWORD, AuthApi, email
from tests.conftest import Stack
from tests.support import eventually, subject_messages


async def on_stream(stack: Stack, target: str) -> list[str]:
    """The actions of the audit records about `target` on the audit stream, oldest first."""
    messages = await subject_messages(
        stack.nats.url, stack.subjects.audit_stream, f"{stack.subjects.audit_prefix}.auth.>"
    )
    events = [json.loads(m.data) for m in messages if m.data]
    return [e["type"].rsplit(".", 1)[1] for e in events if e["data"].get("target_id") == target]


async def in_log(api: AuthApi, **filters: Any) -> list[dict[str, Any]]:
    response = await api.call("GET", "/api/v1/auth/audit", params={"limit": 500, **filters})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_actions_land_on_the_audit_stream_and_in_the_audit_log(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    admin = await auth_api.admin(email(unique, "admin"))
    user = (
        await auth_api.call(
            "POST",
            "/api/v1/auth/users",
            admin,
            json={"email": email(unique), "password": "a fine long password"},
        )
    ).json()
    uid = user["id"]
    assert (await auth_api.login(email(unique), "not it")).status_code == 401
    me = await auth_api.signed_in(email(unique), "a fine long password")
    await auth_api.call("PATCH", f"/api/v1/auth/users/{uid}", admin, json={"display_name": "Ann"})
    key = (await auth_api.call("POST", "/api/v1/auth/api-keys", me.principal, json={"name": "k"})).json()
    await auth_api.call("DELETE", f"/api/v1/auth/api-keys/{key['id']}", me.principal)
    other = await auth_api.signed_in(email(unique), "a fine long password")
    await auth_api.call("DELETE", f"/api/v1/auth/sessions/{other.principal.session_id}", me.principal)
    await auth_api.call(
        "POST", "/api/v1/auth/logout", me.principal, headers={"cookie": f"assay_session={me.secret}"}
    )
    await auth_api.call(
        "POST", f"/api/v1/auth/users/{uid}/password", admin, json={"password": "reset by admin ok"}
    )
    await auth_api.call("POST", f"/api/v1/auth/users/{uid}/disable", admin)
    await auth_api.call("POST", f"/api/v1/auth/users/{uid}/enable", admin)
    await auth_api.call("DELETE", f"/api/v1/auth/users/{uid}", admin)
    about_user = [
        "user_created",
        "login_failed",
        "login_succeeded",
        "user_updated",
        "login_succeeded",
        "sessions_revoked",
        "logged_out",
        "password_reset",
        "user_disabled",
        "user_enabled",
        "user_deleted",
    ]

    async def streamed() -> bool:
        return await on_stream(stack, uid) == about_user

    await eventually(streamed, what="the audit records on the audit stream")
    assert await on_stream(stack, key["id"]) == ["api_key_created", "api_key_revoked"]

    async def logged() -> bool:
        return [r["action"] for r in reversed(await in_log(auth_api, target=uid))] == about_user

    await eventually(logged, what="the audit records in the audit log")
    created = (await in_log(auth_api, target=uid, action="user_created"))[0]
    assert (created["actor_id"], created["actor_kind"], created["target_type"]) == (admin.id, "user", "user")
    by_admin = {r["action"] for r in await in_log(auth_api, actor=admin.id)}
    assert {"user_created", "user_updated", "password_reset", "user_disabled", "user_deleted"} <= by_admin
    failed = (await in_log(auth_api, target=uid, action="login_failed"))[0]
    assert failed["data"]["reason"] == "wrong_password" and failed["client_address"]


async def test_throttled_attempts_are_audited(stack: Stack, auth_api: AuthApi, unique: str) -> None:
    for _ in range(5):
        await auth_api.login(email(unique, "ghost"), "x")
    assert (await auth_api.login(email(unique, "ghost"), "x")).status_code == 429

    async def audited() -> bool:
        records = await in_log(auth_api, action="login_throttled")
        return any(r["data"]["email"] == email(unique, "ghost") for r in records)

    await eventually(audited, what="the throttled attempt in the audit log")


async def test_the_audit_log_pages_and_needs_an_administrator(auth_api: AuthApi, unique: str) -> None:
    for i in range(3):
        await auth_api.create_user(email(unique, f"p{i}"))
    anonymous = await auth_api.call("GET", "/api/v1/auth/audit", Principal.anonymous())
    assert anonymous.status_code == 401

    async def three() -> bool:
        return len(await in_log(auth_api, action="user_created", actor="tests")) >= 3

    await eventually(three, what="the records in the audit log")
    first: httpx.Response = await auth_api.call(
        "GET", "/api/v1/auth/audit", params={"action": "user_created", "limit": 2}
    )
    page = first.json()
    assert len(page["items"]) == 2 and page["next_cursor"] == page["items"][-1]["id"]
    second = await auth_api.call(
        "GET",
        "/api/v1/auth/audit",
        params={"action": "user_created", "limit": 2, "cursor": page["next_cursor"]},
    )
    assert second.json()["items"][0]["id"] < page["next_cursor"]
    bad = await auth_api.call("GET", "/api/v1/auth/audit", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_cursor"


async def test_password_changes_and_key_rotations_are_audited_on_the_stream_and_in_the_log(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    admin = await auth_api.admin(email(unique, "admin"))
    user = await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    changed = await auth_api.call(
        "POST",
        "/api/v1/auth/password",
        me.principal,
        json={"current_password": PASSWORD, "new_password": "a new and long password"},
    )
    assert changed.status_code == 200, changed.text
    rotated = await auth_api.call("POST", "/api/v1/auth/signing-keys/rotate", admin)
    assert rotated.status_code == 201, rotated.text
    kid = rotated.json()["kid"]

    async def streamed() -> bool:
        return "password_changed" in await on_stream(stack, user["id"]) and await on_stream(stack, kid) == [
            "signing_key_rotated"
        ]

    await eventually(streamed, what="the records on the audit stream")

    async def logged() -> bool:
        changes = await in_log(auth_api, target=user["id"], action="password_changed")
        rotations = await in_log(auth_api, target=kid, action="signing_key_rotated")
        return len(changes) == 1 and len(rotations) == 1 and rotations[0]["actor_id"] == admin.id

    await eventually(logged, what="the records in the audit log")
