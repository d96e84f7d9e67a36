"""API keys over HTTP: created with the secret shown once, validated for the gateway, listed
without it, expiring, revoked."""

from __future__ import annotations

from datetime import timedelta

import httpx

from assay_common.db import utcnow
from assay_common.internal_auth import Principal
from tests.auth_api import AuthApi, email
from tests.support import eventually


async def validate(api: AuthApi, key: str) -> httpx.Response:
    return await api.call("POST", "/internal/v1/api-keys/validate", json={"key": key})


async def test_create_validate_list_and_revoke_your_own_key(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    created = await auth_api.call(
        "POST",
        "/api/v1/auth/api-keys",
        me.principal,
        json={"name": "deploy", "scopes": ["namespace:main#operate"]},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    key = body["key"]
    assert key.startswith("assay_") and body["prefix"] == key[:12]
    assert (body["user_id"], body["scopes"], body["expires_at"]) == (
        me.user_id,
        ["namespace:main#operate"],
        None,
    )

    valid = await validate(auth_api, key)
    assert valid.status_code == 200, valid.text
    assert valid.json()["user_id"] == me.user_id and valid.json()["api_key_id"] == body["id"]
    assert valid.json()["scopes"] == ["namespace:main#operate"] and valid.json()["is_admin"] is False

    listed = (await auth_api.call("GET", "/api/v1/auth/api-keys", me.principal)).json()
    [shown] = listed["items"]
    assert "key" not in shown and key not in str(listed)
    assert shown["last_used_at"] is not None, "the validation counted as a use"

    as_key = Principal(id=me.user_id, kind="api_key", scopes=("namespace:main#operate",))
    refused = await auth_api.call("POST", "/api/v1/auth/api-keys", as_key, json={"name": "more"})
    assert refused.status_code == 403, "a key cannot mint keys"

    assert (
        await auth_api.call("DELETE", f"/api/v1/auth/api-keys/{body['id']}", me.principal)
    ).status_code == 204
    revoked = await validate(auth_api, key)
    assert revoked.status_code == 401 and revoked.json()["code"] == "invalid_api_key"
    assert (
        await auth_api.call("DELETE", f"/api/v1/auth/api-keys/{body['id']}", me.principal)
    ).status_code == 404


async def test_a_key_stops_at_its_expiry(auth_api: AuthApi, unique: str) -> None:
    user = await auth_api.create_user(email(unique))
    past = await auth_api.call(
        "POST",
        f"/api/v1/auth/users/{user['id']}/api-keys",
        json={"name": "old", "expires_at": (utcnow() - timedelta(seconds=1)).isoformat()},
    )
    assert past.status_code == 422 and past.json()["code"] == "invalid_expiry"
    created = await auth_api.call(
        "POST",
        f"/api/v1/auth/users/{user['id']}/api-keys",
        json={"name": "brief", "expires_at": (utcnow() + timedelta(seconds=1)).isoformat()},
    )
    key = created.json()["key"]
    assert (await validate(auth_api, key)).status_code == 200

    async def expired() -> bool:
        return (await validate(auth_api, key)).status_code == 401

    await eventually(expired, within=5, what="the key expired")


async def test_administrators_manage_anyones_keys_and_owners_only_their_own(
    auth_api: AuthApi, unique: str
) -> None:
    admin = await auth_api.admin(email(unique, "admin"))
    owner = await auth_api.create_user(email(unique))
    await auth_api.create_user(email(unique, "other"))
    other = await auth_api.signed_in(email(unique, "other"))
    path = f"/api/v1/auth/users/{owner['id']}/api-keys"
    scopes = ["namespace:a#view", "vault_mount:*#read"]
    created = (await auth_api.call("POST", path, admin, json={"name": "bot", "scopes": scopes})).json()
    assert (await auth_api.call("GET", path, admin)).json()["items"][0]["id"] == created["id"]
    assert (await auth_api.call("GET", path, other.principal)).status_code == 403
    stolen = await auth_api.call("DELETE", f"/api/v1/auth/api-keys/{created['id']}", other.principal)
    assert stolen.status_code == 404
    assert (await validate(auth_api, created["key"])).status_code == 200
    bad = await auth_api.call("POST", path, admin, json={"name": "x", "scopes": ["no spaces allowed"]})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_scopes"
    assert (await auth_api.call("DELETE", f"{path}/{created['id']}", admin)).status_code == 204
    assert (await validate(auth_api, created["key"])).status_code == 401


async def test_keys_of_a_disabled_or_deleted_user_stop_working(auth_api: AuthApi, unique: str) -> None:
    owner = await auth_api.create_user(email(unique))
    key = (
        await auth_api.call("POST", f"/api/v1/auth/users/{owner['id']}/api-keys", json={"name": "k"})
    ).json()["key"]
    await auth_api.call("POST", f"/api/v1/auth/users/{owner['id']}/disable")
    assert (await validate(auth_api, key)).status_code == 401
    await auth_api.call("POST", f"/api/v1/auth/users/{owner['id']}/enable")
    assert (await validate(auth_api, key)).status_code == 200
    await auth_api.call("DELETE", f"/api/v1/auth/users/{owner['id']}")
    assert (await validate(auth_api, key)).status_code == 401
    assert (await validate(auth_api, "not-an-assay-key")).status_code == 401


async def test_scopes_must_be_admin_or_permissions(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    good = ["admin", "namespace:payments#operate", "namespace:*#view", "platform:assay#view"]
    created = await auth_api.call(
        "POST", "/api/v1/auth/api-keys", me.principal, json={"name": "k", "scopes": good}
    )
    assert created.status_code == 201 and created.json()["scopes"] == good
    for scope in ("read", "namespace:payments", "namespace#view", "Namespace:x#view", "namespace:a:b#view"):
        refused = await auth_api.call(
            "POST", "/api/v1/auth/api-keys", me.principal, json={"name": "k", "scopes": [scope]}
        )
        problem = refused.json()
        assert (refused.status_code, problem["code"], problem["scope"]) == (422, "invalid_scopes", scope)
        assert "`admin` or `<type>:<id or *>#<permission>`" in problem["detail"]
