"""Users over HTTP: who may administer them, the routes, and that no answer leaks a secret."""

from __future__ import annotations

import pytest

from assay_auth.domain.tokens import digest
from assay_common.internal_auth import Principal
from tests.auth_api import PASSWORD, AuthApi, email

PROBLEM = "application/problem+json"


async def test_administration_needs_an_administrator(auth_api: AuthApi, unique: str) -> None:
    user = await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    anonymous = await auth_api.call("GET", "/api/v1/auth/users", Principal.anonymous())
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    not_admin = await auth_api.call("GET", "/api/v1/auth/users", me.principal)
    assert not_admin.status_code == 403 and not_admin.json()["code"] == "admin_required"

    admin = await auth_api.admin(email(unique, "admin"))
    assert (await auth_api.call("GET", f"/api/v1/auth/users/{user['id']}", admin)).status_code == 200
    # An administrator's API key needs the admin scope; anyone else's never suffices.
    admin_key = Principal(id=admin.id, kind="api_key", scopes=("admin",))
    assert (await auth_api.call("GET", "/api/v1/auth/users", admin_key)).status_code == 200
    unscoped = Principal(id=admin.id, kind="api_key", scopes=("namespace:main#view",))
    assert (await auth_api.call("GET", "/api/v1/auth/users", unscoped)).status_code == 403
    scoped_user = Principal(id=me.user_id, kind="api_key", scopes=("admin",))
    assert (await auth_api.call("GET", "/api/v1/auth/users", scoped_user)).status_code == 403
    # A principal naming a user that does not exist is nobody.
    ghost = Principal(id="00000000-0000-7000-8000-000000000000", kind="user")
    assert (await auth_api.call("GET", "/api/v1/auth/users", ghost)).status_code == 401
    assert (
        await auth_api.call("GET", "/api/v1/auth/users", Principal(id="root", kind="user"))
    ).status_code == 401


async def test_create_describe_update_disable_enable_delete(auth_api: AuthApi, unique: str) -> None:
    admin = await auth_api.admin(email(unique, "admin"))
    created = await auth_api.call(
        "POST",
        "/api/v1/auth/users",
        admin,
        json={"email": email(unique), "display_name": "Ann", "metadata": {"team": "a"}, "password": PASSWORD},
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert (user["email"], user["has_password"], user["is_admin"], user["disabled"]) == (
        email(unique),
        True,
        False,
        False,
    )
    duplicate = await auth_api.call(
        "POST", "/api/v1/auth/users", admin, json={"email": email(unique).upper()}
    )
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "email_taken"
    path = f"/api/v1/auth/users/{user['id']}"
    assert (await auth_api.call("GET", path, admin)).json() == user

    patched = await auth_api.call(
        "PATCH", path, admin, json={"display_name": "Annie", "email_verified": True}
    )
    assert (patched.json()["display_name"], patched.json()["email_verified"]) == ("Annie", True)
    assert patched.json()["metadata"] == {"team": "a"}
    nulled = await auth_api.call("PATCH", path, admin, json={"email": None})
    assert nulled.status_code == 422
    smuggled = await auth_api.call("PATCH", path, admin, json={"password_hash": "$argon2id$x"})
    assert smuggled.status_code == 422

    me = await auth_api.signed_in(email(unique))
    disabled = await auth_api.call("POST", f"{path}/disable", admin)
    assert disabled.json()["disabled"] is True
    assert (await auth_api.call("GET", "/api/v1/auth/whoami", me.principal)).status_code == 401
    assert (await auth_api.login(email(unique))).status_code == 401
    assert (await auth_api.call("POST", f"{path}/enable", admin)).json()["disabled"] is False
    assert (await auth_api.login(email(unique))).status_code == 200

    reset = await auth_api.call("POST", f"{path}/password", admin, json={"password": "set by the admin"})
    assert reset.status_code == 204
    assert (await auth_api.login(email(unique), "set by the admin")).status_code == 200

    assert (await auth_api.call("DELETE", path, admin)).status_code == 204
    missing = await auth_api.call("GET", path, admin)
    assert missing.status_code == 404 and missing.json()["code"] == "user_not_found"
    assert (await auth_api.call("DELETE", path, admin)).status_code == 404
    assert (await auth_api.call("GET", "/api/v1/auth/users/not-a-uuid", admin)).status_code == 422


async def test_an_administrator_cannot_lock_themselves_out(auth_api: AuthApi, unique: str) -> None:
    admin = await auth_api.admin(email(unique, "admin"))
    for method, suffix in (("POST", "/disable"), ("DELETE", "")):
        refused = await auth_api.call(method, f"/api/v1/auth/users/{admin.id}{suffix}", admin)
        assert refused.status_code == 409 and refused.json()["code"] == "cannot_change_self"


async def test_listing_searches_and_pages(auth_api: AuthApi, unique: str) -> None:
    ids = [
        (await auth_api.create_user(email(unique, f"u{i}"), display_name=f"member {unique}"))["id"]
        for i in range(3)
    ]
    first = (
        await auth_api.call("GET", "/api/v1/auth/users", params={"search": unique.upper(), "limit": 2})
    ).json()
    assert [u["id"] for u in first["items"]] == [ids[2], ids[1]]
    rest = await auth_api.call(
        "GET", "/api/v1/auth/users", params={"search": unique, "limit": 2, "cursor": first["next_cursor"]}
    )
    assert [u["id"] for u in rest.json()["items"]] == [ids[0]] and rest.json()["next_cursor"] is None
    bad = await auth_api.call("GET", "/api/v1/auth/users", params={"cursor": "nope"})
    assert bad.status_code == 422


@pytest.mark.parametrize("kind", ["service", "admin user"])
async def test_no_answer_contains_a_password_hash_session_secret_or_key(
    auth_api: AuthApi, unique: str, kind: str
) -> None:
    admin = (
        Principal(id="tests", kind="service")
        if kind == "service"
        else await auth_api.admin(email(unique, "root"))
    )
    user = await auth_api.create_user(email(unique), email_verified=True)
    me = await auth_api.signed_in(email(unique))
    key = (
        await auth_api.call(
            "POST",
            f"/api/v1/auth/users/{user['id']}/api-keys",
            admin,
            json={"name": "ci", "scopes": ["admin"]},
        )
    ).json()["key"]
    await auth_api.call(
        "POST", "/api/v1/auth/password/recovery", Principal.anonymous(), json={"email": email(unique)}
    )
    secrets = {
        "password": PASSWORD,
        "session secret": me.secret,
        "session digest": digest(me.secret),
        "csrf digest": digest(me.csrf_token),
        "api key": key,
        "api key digest": digest(key),
        "argon2 hash": "$argon2",
    }
    base = f"/api/v1/auth/users/{user['id']}"
    answers = [
        await auth_api.call("GET", "/api/v1/auth/whoami", me.principal),
        await auth_api.call("GET", "/api/v1/auth/sessions", me.principal),
        await auth_api.call("GET", "/api/v1/auth/api-keys", me.principal),
        await auth_api.call("GET", "/api/v1/auth/users", admin),
        await auth_api.call("GET", "/api/v1/auth/users", admin, params={"search": unique}),
        await auth_api.call("GET", base, admin),
        await auth_api.call("PATCH", base, admin, json={"display_name": "x"}),
        await auth_api.call("GET", f"{base}/sessions", admin),
        await auth_api.call("GET", f"{base}/api-keys", admin),
        await auth_api.call("POST", f"{base}/disable", admin),
        await auth_api.call("POST", f"{base}/enable", admin),
        await auth_api.call("GET", "/api/v1/auth/audit", admin, params={"target": user["id"]}),
        await auth_api.call("GET", "/api/v1/auth/audit", admin, params={"limit": 500}),
    ]
    for response in answers:
        assert response.status_code == 200, (response.url, response.text)
        for name, secret in secrets.items():
            assert secret not in response.text, f"{response.url} shows the {name}"


async def test_administrators_are_whom_the_permission_store_says(auth_api: AuthApi, unique: str) -> None:
    user = await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    viewing = await auth_api.call(
        "POST", "/api/v1/auth/api-keys", me.principal, json={"name": "ci", "scopes": ["namespace:x#view"]}
    )
    assert viewing.status_code == 201, viewing.text
    viewing_key = Principal(
        id=me.user_id, kind="api_key", scopes=("namespace:x#view",), api_key_id=viewing.json()["id"]
    )
    admin_key = Principal(id=me.user_id, kind="api_key", scopes=("admin",))
    assert (await auth_api.call("GET", "/api/v1/auth/users", me.principal)).status_code == 403

    # An administrator through a group: platform:assay#admin@group:<ops>#member.
    ops = f"ops_{unique}"
    membership = f"group:{ops}#member@user:{me.user_id}"
    updates = [
        {"operation": "touch", "relationship": f"platform:assay#admin@group:{ops}#member"},
        {"operation": "touch", "relationship": membership},
    ]
    granted = await auth_api.call("POST", "/api/v1/auth/permissions/relationships", json={"updates": updates})
    assert granted.status_code == 200, granted.text
    listed = await auth_api.call("GET", "/api/v1/auth/users", me.principal, params={"search": unique})
    assert listed.status_code == 200, listed.text
    assert (await auth_api.call("GET", "/api/v1/auth/users", admin_key)).status_code == 200
    # Its API key administers only with a scope covering platform:assay#administer.
    refused = await auth_api.call("GET", "/api/v1/auth/users", viewing_key)
    assert (refused.status_code, refused.json()["code"]) == (403, "admin_required")
    assert refused.json()["needed"] == "platform:assay#administer"
    # `is_admin` mirrors direct grants only.
    assert (await auth_api.call("GET", f"/api/v1/auth/users/{user['id']}", me.principal)).json()[
        "is_admin"
    ] is False

    # Out of the group, out at once.
    removed = await auth_api.call(
        "POST",
        "/api/v1/auth/permissions/relationships",
        json={"updates": [{"operation": "delete", "relationship": membership}]},
    )
    assert removed.status_code == 200, removed.text
    assert (await auth_api.call("GET", "/api/v1/auth/users", me.principal)).status_code == 403
