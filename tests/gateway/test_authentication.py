"""The gateway authenticates requests: session cookies (with CSRF on mutations) and API keys, and
the service receives the principal in the internal token."""

from __future__ import annotations

from functools import partial

import httpx
import pytest

from tests.auth_api import AuthApi, SignedIn, email
from tests.conftest import Stack
from tests.gateway.conftest import running_side_gateway
from tests.support import eventually


def as_browser(stack: Stack, signed_in: SignedIn) -> httpx.AsyncClient:
    """A client that sends the session's cookies, as a browser signed in would."""
    return httpx.AsyncClient(
        base_url=stack.url,
        cookies={"assay_session": signed_in.secret, "assay_csrf": signed_in.csrf_token},
        timeout=30,
    )


async def test_a_session_cookie_makes_the_caller_its_user(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    async with as_browser(stack, me) as browser:
        whoami = await browser.get("/api/v1/auth/whoami")

    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["user"]["id"] == me.user_id


async def test_a_mutation_with_a_session_cookie_needs_the_csrf_header(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    async with as_browser(stack, me) as browser:
        missing = await browser.post("/api/v1/auth/api-keys", json={"name": "a"})
        wrong = await browser.post(
            "/api/v1/auth/api-keys", json={"name": "b"}, headers={"x-csrf-token": "forged"}
        )
        right = await browser.post(
            "/api/v1/auth/api-keys", json={"name": "c"}, headers={"x-csrf-token": me.csrf_token}
        )
        reads = await browser.get("/api/v1/auth/api-keys")

    for refused in (missing, wrong):
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "csrf_failed"
    assert right.status_code == 201, right.text
    assert reads.status_code == 200, "safe methods need no CSRF header"
    assert [key["name"] for key in reads.json()["items"]] == ["c"], "nothing else changed"


async def test_an_api_key_makes_the_caller_its_key_until_it_is_revoked(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    created = await auth_api.call("POST", "/api/v1/auth/api-keys", me.principal, json={"name": "ci"})
    assert created.status_code == 201, created.text
    key = created.json()
    bearer = {"authorization": f"Bearer {key['key']}"}

    whoami = await stack.client.get("/api/v1/auth/whoami", headers=bearer)
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["user"]["id"] == me.user_id

    revoked = await auth_api.call("DELETE", f"/api/v1/auth/api-keys/{key['id']}", me.principal)
    assert revoked.status_code == 204, revoked.text

    async def refused() -> bool:
        return (await stack.client.get("/api/v1/auth/whoami", headers=bearer)).status_code == 401

    await eventually(refused, what="the revoked key refused within the gateway's cache window")


async def test_credentials_that_do_not_hold_are_refused_not_made_anonymous(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, cookies={"assay_session": "ended"}) as browser:
        stale = await browser.get("/api/v1/namespaces")
    unknown_key = await stack.client.get(
        "/api/v1/namespaces", headers={"authorization": "Bearer assay_not_a_key_of_ours"}
    )
    not_a_key = await stack.client.get("/api/v1/namespaces", headers={"authorization": "Bearer abc.def.ghi"})
    basic = await stack.client.get("/api/v1/namespaces", headers={"authorization": "Basic dXNlcjpwdw=="})

    for response in (stale, unknown_key, not_a_key, basic):
        assert response.status_code == 401, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_stale_cookie_does_not_keep_a_browser_from_signing_in(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    async with httpx.AsyncClient(
        base_url=stack.url, cookies={"assay_session": "ended"}, timeout=30
    ) as browser:
        logout = await browser.post("/api/v1/auth/logout")
        # Pages and public routes take an ended session for no one: the console sends the
        # visitor to its sign-in page, which loads.
        page = await browser.get("/workflows")
        sign_in_page = await browser.get("/login")
        setup_state = await browser.get("/api/v1/auth/setup")
        login = await browser.post(
            "/api/v1/auth/login", json={"email": email(unique), "password": "correct horse battery staple"}
        )

    assert logout.status_code != 401, logout.text
    assert (page.status_code, page.headers["location"]) == (303, "/login?return_to=/workflows")
    assert sign_in_page.status_code == 200, sign_in_page.text
    assert setup_state.status_code == 200, setup_state.text
    assert login.status_code == 200, login.text


async def test_revoked_credentials_are_refused_at_once_not_when_the_cache_ends(
    stack: Stack, auth_api: AuthApi, unique: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # A gateway that would remember credentials for ten minutes, on the stack's own events: only
    # the credentials_revoked event can make it refuse them sooner.
    env = {**stack.nats.env(), "ASSAY_GATEWAY_AUTH_CACHE_SECONDS": "600"}
    async with running_side_gateway(stack, tmp_path_factory, "long-cache", extra_env=env) as gateway:
        await auth_api.create_user(email(unique))
        me = await auth_api.signed_in(email(unique))
        created = await auth_api.call("POST", "/api/v1/auth/api-keys", me.principal, json={"name": "ci"})
        key = created.json()
        cookies = {"assay_session": me.secret, "assay_csrf": me.csrf_token}
        async with (
            httpx.AsyncClient(base_url=gateway.url, cookies=cookies, timeout=30) as browser,
            httpx.AsyncClient(
                base_url=gateway.url, headers={"authorization": f"Bearer {key['key']}"}, timeout=30
            ) as script,
        ):
            # The workflow service takes the gateway's word for the caller; it looks nothing up.
            for client in (browser, script):
                response = await client.get("/api/v1/namespaces")
                assert response.status_code == 200, response.text

            revoked = await auth_api.call("DELETE", f"/api/v1/auth/api-keys/{key['id']}", me.principal)
            assert revoked.status_code == 204, revoked.text
            ended = await auth_api.call(
                "DELETE", f"/api/v1/auth/sessions/{me.principal.session_id}", me.principal
            )
            assert ended.status_code == 204, ended.text

            async def refused(client: httpx.AsyncClient) -> bool:
                return (await client.get("/api/v1/namespaces")).status_code == 401

            await eventually(partial(refused, script), what="the revoked key refused")
            await eventually(partial(refused, browser), what="the ended session refused")
