"""Sign-in over HTTP, against the running auth service: cookies, indistinguishable failures,
throttling, the gateway's validation route, sign-out, whoami, sessions and password change."""

from __future__ import annotations

import httpx

from assay_auth.domain.tokens import digest
from assay_common.internal_auth import Principal
from tests.auth_api import PASSWORD, AuthApi, email, random_address

PROBLEM = "application/problem+json"


def cookie_headers(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie of the response, by cookie name."""
    return {value.split("=", 1)[0]: value for value in response.headers.get_list("set-cookie")}


def attributes(set_cookie: str) -> set[str]:
    return {part.strip().lower() for part in set_cookie.split(";")[1:]}


async def validate(api: AuthApi, secret: str) -> httpx.Response:
    return await api.call("POST", "/internal/v1/sessions/validate", json={"secret": secret})


async def test_login_sets_session_and_csrf_cookies_and_returns_the_user(
    auth_api: AuthApi, unique: str
) -> None:
    user = await auth_api.create_user(email(unique), display_name="Ann")
    response = await auth_api.login(email(unique).upper())
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["user"]["id"] == user["id"] and body["user"]["display_name"] == "Ann"
    cookies = cookie_headers(response)
    session_attrs, csrf_attrs = attributes(cookies["assay_session"]), attributes(cookies["assay_csrf"])
    assert {"httponly", "samesite=lax", "path=/"} <= session_attrs
    assert "secure" not in session_attrs, "plain http: a Secure cookie would never come back"
    assert {"samesite=lax", "path=/"} <= csrf_attrs and "httponly" not in csrf_attrs
    assert response.cookies["assay_csrf"] == body["csrf_token"]
    secret = response.cookies["assay_session"]
    assert secret not in response.text, "the session secret is only in the cookie"
    assert len(secret) >= 43

    valid = await validate(auth_api, secret)
    assert valid.status_code == 200, valid.text
    principal = valid.json()
    assert (principal["user_id"], principal["session_id"]) == (user["id"], body["session"]["id"])
    assert principal["csrf_token_hash"] == digest(body["csrf_token"])
    assert principal["is_admin"] is False


async def test_cookies_are_secure_when_the_browser_came_over_https(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    response = await auth_api.login(email(unique), headers={"x-forwarded-proto": "https"})
    cookies = cookie_headers(response)
    assert "secure" in attributes(cookies["assay_session"])
    assert "secure" in attributes(cookies["assay_csrf"])


async def test_wrong_password_and_unknown_user_get_the_same_answer(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    wrong = await auth_api.login(email(unique), "not the password")
    unknown = await auth_api.login(email(unique, "nobody"), PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert "set-cookie" not in response.headers
    assert {k: v for k, v in wrong.json().items() if k != "instance"} == {
        k: v for k, v in unknown.json().items() if k != "instance"
    }
    assert wrong.json()["code"] == "invalid_credentials"


async def test_throttling_engages_with_retry_after(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    for _ in range(5):  # the default limit per account, each from another address
        assert (await auth_api.login(email(unique), "not the password")).status_code == 401
    refused = await auth_api.login(email(unique))
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM
    assert refused.json()["code"] == "login_throttled"
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["retry_after"] == int(refused.headers["retry-after"])
    # An unknown account is throttled the same way: throttling tells nothing about who exists.
    for _ in range(5):
        assert (await auth_api.login(email(unique, "nobody"), "x")).status_code == 401
    assert (await auth_api.login(email(unique, "nobody"), "x")).status_code == 429


async def test_address_throttle_uses_the_last_forwarded_hop(auth_api: AuthApi, unique: str) -> None:
    # The gateway appends the address it saw; anything before it is what the client claimed.
    address = random_address()
    for i in range(30):
        claimed = f"{random_address()}, {address}"
        response = await auth_api.login(email(unique, f"n{i}"), "x", headers={"x-forwarded-for": claimed})
        assert response.status_code == 401
    assert (await auth_api.login(email(unique, "next"), "x", address=address)).status_code == 429
    assert (
        await auth_api.login(email(unique, "next"), "x", address=f"{address}, {random_address()}")
    ).status_code == 401


async def test_validation_is_for_services_only_and_refuses_unknown_secrets(
    auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    refused = await auth_api.call(
        "POST", "/internal/v1/sessions/validate", me.principal, json={"secret": me.secret}
    )
    assert refused.status_code == 403
    unknown = await validate(auth_api, "x" * 43)
    assert unknown.status_code == 401 and unknown.headers["content-type"] == PROBLEM


async def test_logout_ends_the_session_and_clears_the_cookies(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    response = await auth_api.call(
        "POST", "/api/v1/auth/logout", me.principal, headers={"cookie": f"assay_session={me.secret}"}
    )
    assert response.status_code == 204
    cleared = cookie_headers(response)
    assert 'assay_session=""' in cleared["assay_session"] and "max-age=0" in attributes(
        cleared["assay_session"]
    )
    assert "max-age=0" in attributes(cleared["assay_csrf"])
    assert (await validate(auth_api, me.secret)).status_code == 401
    again = await auth_api.call("POST", "/api/v1/auth/logout", Principal.anonymous())
    assert again.status_code == 204


async def test_whoami(auth_api: AuthApi, unique: str) -> None:
    anonymous = await auth_api.call("GET", "/api/v1/auth/whoami", Principal.anonymous())
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    answer = (await auth_api.call("GET", "/api/v1/auth/whoami", me.principal)).json()
    assert answer["principal"] == {
        "id": me.user_id,
        "kind": "user",
        "session_id": me.principal.session_id,
        "scopes": [],
    }
    assert answer["user"]["email"] == email(unique)
    service = (await auth_api.call("GET", "/api/v1/auth/whoami")).json()
    assert service["principal"]["kind"] == "service" and service["user"] is None


async def test_a_revoked_session_no_longer_acts(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    other = await auth_api.signed_in(email(unique))
    answer = await auth_api.call("GET", "/api/v1/auth/sessions", me.principal)
    assert answer.status_code == 200, answer.text
    listed = answer.json()["items"]
    assert {s["id"]: s["current"] for s in listed} == {
        me.principal.session_id: True,
        other.principal.session_id: False,
    }
    revoked = await auth_api.call(
        "DELETE", f"/api/v1/auth/sessions/{other.principal.session_id}", me.principal
    )
    assert revoked.status_code == 204
    assert (await validate(auth_api, other.secret)).status_code == 401
    assert (await auth_api.call("GET", "/api/v1/auth/whoami", other.principal)).status_code == 401
    # Not one's own session: not found, whoever's it is.
    stranger = (await auth_api.create_user(email(unique, "stranger")))["id"]
    theirs = await auth_api.signed_in(email(unique, "stranger"))
    missing = await auth_api.call(
        "DELETE", f"/api/v1/auth/sessions/{theirs.principal.session_id}", me.principal
    )
    assert missing.status_code == 404
    assert (await validate(auth_api, theirs.secret)).json()["user_id"] == stranger


async def test_an_administrator_revokes_one_or_all_sessions_of_a_user(auth_api: AuthApi, unique: str) -> None:
    admin = await auth_api.admin(email(unique, "admin"))
    user_id = (await auth_api.create_user(email(unique)))["id"]
    sessions = [await auth_api.signed_in(email(unique)) for _ in range(3)]
    listed = await auth_api.call("GET", f"/api/v1/auth/users/{user_id}/sessions", admin)
    assert len(listed.json()["items"]) == 3
    one = await auth_api.call(
        "DELETE", f"/api/v1/auth/users/{user_id}/sessions/{sessions[0].principal.session_id}", admin
    )
    assert one.status_code == 204
    assert (await validate(auth_api, sessions[0].secret)).status_code == 401
    everything = await auth_api.call("DELETE", f"/api/v1/auth/users/{user_id}/sessions", admin)
    assert everything.json() == {"revoked": 2}
    for session in sessions[1:]:
        assert (await validate(auth_api, session.secret)).status_code == 401
    user_principal = sessions[1].principal
    refused = await auth_api.call("DELETE", f"/api/v1/auth/users/{user_id}/sessions", user_principal)
    assert refused.status_code == 401, "a revoked session's principal is signed out"


async def test_password_change_rotates_the_session(auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    other = await auth_api.signed_in(email(unique))
    wrong = await auth_api.call(
        "POST",
        "/api/v1/auth/password",
        me.principal,
        json={"current_password": "nope", "new_password": "a new long passphrase"},
    )
    assert wrong.status_code == 403 and wrong.json()["code"] == "current_password_incorrect"
    weak = await auth_api.call(
        "POST",
        "/api/v1/auth/password",
        me.principal,
        json={"current_password": PASSWORD, "new_password": "short"},
    )
    assert weak.status_code == 422 and weak.json()["code"] == "weak_password"
    changed = await auth_api.call(
        "POST",
        "/api/v1/auth/password",
        me.principal,
        json={"current_password": PASSWORD, "new_password": "a new long passphrase"},
    )
    assert changed.status_code == 200, changed.text
    fresh = changed.cookies["assay_session"]
    assert changed.json()["session"]["id"] != me.principal.session_id
    for old in (me, other):
        assert (await validate(auth_api, old.secret)).status_code == 401
    assert (await validate(auth_api, fresh)).status_code == 200
    assert (await auth_api.login(email(unique), "a new long passphrase")).status_code == 200
    api_key_principal = Principal(id=me.user_id, kind="api_key")
    refused = await auth_api.call(
        "POST",
        "/api/v1/auth/password",
        api_key_principal,
        json={"current_password": "a", "new_password": "b"},
    )
    assert refused.status_code == 403 and refused.json()["code"] == "user_session_required"


async def test_malformed_bodies_are_422_problems(auth_api: AuthApi) -> None:
    anonymous = Principal.anonymous()
    for body in (
        {},
        {"email": "a@b.c"},
        {"email": "a@b.c", "password": "x", "extra": 1},
        {"email": "", "password": "x"},
    ):
        response = await auth_api.call("POST", "/api/v1/auth/login", anonymous, json=body)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM
    form = await auth_api.call(
        "POST", "/api/v1/auth/login", anonymous, data={"email": "a@b.c", "password": "x"}
    )
    assert form.status_code == 422, "a cross-site form cannot sign anyone in"
