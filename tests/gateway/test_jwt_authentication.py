"""Bearer JWTs at the gateway: Assay's own, from the token exchange, verified with the auth
service's JWKS (and across a key rotation); and those of an external OIDC issuer served by the test
on loopback, in process against `JwtVerifier` and end to end through a gateway configured for it."""

from __future__ import annotations

import asyncio
import base64
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx
import pytest

from assay.local import free_port
from assay.local.platform import ManagedProcess
from assay_common.errors import BadGateway
from assay_common.internal_auth import Principal
from assay_gateway.bearer_tokens import InvalidBearerToken, JwtVerifier, external_issuer
from assay_gateway.settings import TrustedIssuer
from tests.auth_api import AuthApi, SignedIn, email
from tests.conftest import Stack
from tests.oidc_issuer import TestIssuer, new_key
from tests.support import eventually

EXCHANGE = "/api/v1/auth/token"
LEEWAY = 30


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def header_of(token: str) -> dict[str, Any]:
    part = token.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def claims_of(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"


@asynccontextmanager
async def anonymous(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as client:
        yield client


async def exchanged_for_session(stack: Stack, me: SignedIn, **body: Any) -> httpx.Response:
    async with httpx.AsyncClient(
        base_url=stack.url, cookies={"assay_session": me.secret, "assay_csrf": me.csrf_token}, timeout=30
    ) as browser:
        return await browser.post(EXCHANGE, json=body, headers={"x-csrf-token": me.csrf_token})


async def session_token(stack: Stack, me: SignedIn, **body: Any) -> str:
    response = await exchanged_for_session(stack, me, **body)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


# ---- Assay's own tokens through the stack ---------------------------------------------------


async def test_a_session_is_exchanged_for_a_jwt_that_authenticates_at_the_gateway(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))

    response = await exchanged_for_session(stack, me)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["issued_token_type"] == "urn:ietf:params:oauth:token-type:jwt"
    claims = claims_of(body["access_token"])
    assert claims["iss"] == stack.url and claims["aud"] == "assay" and claims["sub"] == me.user_id
    assert claims["assay_kind"] == "user" and claims["sid"] == me.principal.session_id
    assert header_of(body["access_token"])["alg"] == "EdDSA"

    async with anonymous(stack) as client:
        whoami = await client.get("/api/v1/auth/whoami", headers=bearer(body["access_token"]))
        namespaces = await client.get("/api/v1/namespaces", headers=bearer(body["access_token"]))
    assert whoami.status_code == 200, whoami.text
    assert whoami.json()["principal"] == {
        "id": me.user_id,
        "kind": "user",
        "session_id": me.principal.session_id,
        "scopes": [],
    }
    assert whoami.json()["user"]["id"] == me.user_id
    assert namespaces.status_code == 200, namespaces.text


async def test_an_api_key_is_exchanged_for_a_narrower_jwt(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    created = await auth_api.call(
        "POST",
        "/api/v1/auth/api-keys",
        me.principal,
        json={"name": "ci", "scopes": ["namespace:a#view", "namespace:b#view"]},
    )
    assert created.status_code == 201, created.text
    key = created.json()["key"]

    async with anonymous(stack) as client:
        response = await client.post(
            EXCHANGE, json={"scopes": ["namespace:a#view"], "expires_in": 60}, headers=bearer(key)
        )
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        whoami = await client.get("/api/v1/auth/whoami", headers=bearer(token))
        wider = await client.post(EXCHANGE, json={"scopes": ["admin"]}, headers=bearer(key))
        again = await client.post(EXCHANGE, json={}, headers=bearer(token))
        nobody = await client.post(EXCHANGE, json={})

    assert response.json()["expires_in"] == 60 and response.json()["scope"] == "namespace:a#view"
    assert whoami.status_code == 200, whoami.text
    principal = whoami.json()["principal"]
    assert (principal["kind"], principal["id"], principal["scopes"]) == (
        "api_key",
        me.user_id,
        ["namespace:a#view"],
    )
    assert wider.status_code == 403 and wider.json()["code"] == "scope_not_held"
    assert_refused(again)  # a token is not exchanged for a fresh one
    assert_refused(nobody)


async def test_the_jwks_is_public_at_the_gateway(stack: Stack) -> None:
    async with anonymous(stack) as client:
        response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    assert "max-age=60" in response.headers["cache-control"]
    keys = response.json()["keys"]
    assert keys and all(
        set(k) == {"kty", "crv", "x", "kid", "alg", "use"}
        and (k["crv"], k["alg"], k["use"]) == ("Ed25519", "EdDSA", "sig")
        for k in keys
    )


async def test_after_a_rotation_old_and_new_tokens_both_work(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    await auth_api.create_user(email(unique, "root"), is_admin=True)
    admin = await auth_api.signed_in(email(unique, "root"))
    before = await session_token(stack, admin)

    async with anonymous(stack) as client:
        rotated = await client.post("/api/v1/auth/signing-keys/rotate", headers=bearer(before))
        assert rotated.status_code == 201, rotated.text
        new_kid = rotated.json()["kid"]
        after = await session_token(stack, admin)
        assert header_of(after)["kid"] == new_kid != header_of(before)["kid"]

        async def accepted(token: str) -> bool:
            return (await client.get("/api/v1/auth/whoami", headers=bearer(token))).status_code == 200

        assert await accepted(before), "a token of the retired key works until it expires"
        await eventually(lambda: accepted(after), within=15, what="a token of the new key accepted")
        jwks = (await client.get("/.well-known/jwks.json")).json()
        listed = await client.get("/api/v1/auth/signing-keys", headers=bearer(after))

    assert {header_of(before)["kid"], new_kid} <= {k["kid"] for k in jwks["keys"]}
    assert listed.status_code == 200, listed.text
    states = {item["kid"]: item["state"] for item in listed.json()["items"]}
    assert states[new_kid] == "active" and states[header_of(before)["kid"]] == "retired"
    assert all("private" not in json.dumps(item).lower() for item in listed.json()["items"])


async def test_forged_and_foreign_tokens_are_refused(stack: Stack, auth_api: AuthApi, unique: str) -> None:
    await auth_api.create_user(email(unique))
    me = await auth_api.signed_in(email(unique))
    token = await session_token(stack, me)
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    forged_claims = base64.urlsafe_b64encode(json.dumps({**claims, "sub": "someone-else"}).encode())
    forged = f"{header}.{forged_claims.rstrip(b'=').decode()}.{signature}"
    unsigned_header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "kid": header_of(token)["kid"]}).encode()
    )
    unsigned = f"{unsigned_header.rstrip(b'=').decode()}.{payload}."
    stranger = TestIssuer()  # not trusted by the stack's gateway

    async with anonymous(stack) as client:
        for refused in (forged, unsigned, stranger.token(), "not.a.jwt", f"{token}x"):
            response = await client.get("/api/v1/auth/whoami", headers=bearer(refused))
            assert_refused(response)
            assert token not in response.text


# ---- an external issuer, in process --------------------------------------------------------


@pytest.fixture
async def issuer() -> AsyncIterator[TestIssuer]:
    served = TestIssuer()
    await served.start()
    yield served
    await served.stop()


@asynccontextmanager
async def verifier_for(
    issuer: TestIssuer, *, refresh_interval: float = 0.0, scopes_claim: str | None = "scope"
) -> AsyncIterator[JwtVerifier]:
    config = TrustedIssuer(
        issuer=issuer.issuer, alias="corp", audience=issuer.audience, scopes_claim=scopes_claim
    )
    async with aiohttp.ClientSession() as client:
        trusted = external_issuer(config, client, cache_seconds=300, refresh_interval=refresh_interval)
        yield JwtVerifier([trusted], leeway=LEEWAY)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256", "EdDSA"])
async def test_an_external_token_becomes_an_external_principal(algorithm: str) -> None:
    served = TestIssuer(algorithm)
    await served.start()
    try:
        async with verifier_for(served) as verifier:
            principal = await verifier.verify(served.token())
    finally:
        await served.stop()
    assert principal == Principal(id="corp:alice", kind="external", scopes=("openid", "namespace:main#view"))


async def test_external_tokens_are_checked_for_issuer_audience_time_and_signature(issuer: TestIssuer) -> None:
    now = int(time.time())
    cases = {
        "issuer": issuer.token(iss=issuer.issuer + "/other"),
        "audience": issuer.token(aud="someone-else"),
        "expired": issuer.token(exp=now - LEEWAY - 5),
        "not yet valid": issuer.token(nbf=now + LEEWAY + 60),
        "no expiry": issuer.token(exp=None),
        "signature": issuer.token(key=new_key(issuer.algorithm)),
        "unknown key": issuer.token(kid="no-such-key"),
        "alg none": issuer.unsigned(),
        "HS256": f"{_b64({'alg': 'HS256', 'kid': issuer.kid})}.{_b64(issuer.claims())}.{_b64({})}",
        "no principal": issuer.token(sub=None),
    }
    async with verifier_for(issuer) as verifier:
        assert (await verifier.verify(issuer.token(exp=now - LEEWAY + 5))).id == "corp:alice", "within leeway"
        for what, token in cases.items():
            with pytest.raises(InvalidBearerToken) as refused:
                await verifier.verify(token)
            assert token not in str(refused.value.detail), what


async def test_an_unknown_kid_refreshes_the_issuers_keys_at_a_limited_rate(issuer: TestIssuer) -> None:
    async with verifier_for(issuer, refresh_interval=0.0) as eager:
        await eager.verify(issuer.token())
        issuer.rotate()
        assert (await eager.verify(issuer.token())).id == "corp:alice", "the new key was fetched"
    fetches = issuer.jwks_fetches

    async with verifier_for(issuer, refresh_interval=3600) as limited:
        await limited.verify(issuer.token())
        for n in range(50):
            with pytest.raises(InvalidBearerToken):
                await limited.verify(issuer.token(kid=f"made-up-{n}"))
        assert issuer.jwks_fetches == fetches + 1, "no refresh: the bogus kids came within the interval"


async def test_an_unreachable_issuer_is_a_bad_gateway() -> None:
    gone = TestIssuer()  # never started: nothing listens on its port
    async with verifier_for(gone, refresh_interval=60) as verifier:
        for _ in range(2):  # the second within the refresh interval, without trying again
            with pytest.raises(BadGateway):
                await verifier.verify(gone.token())


# ---- an external issuer, through a gateway configured for it --------------------------------


@asynccontextmanager
async def gateway_trusting(
    stack: Stack, issuer: TestIssuer, tmp_path: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway process of its own in front of the stack's services, trusting `issuer`."""
    port = free_port()
    trusted = [
        {"issuer": issuer.issuer, "alias": "corp", "audience": issuer.audience, "scopes_claim": "scope"}
    ]
    env = {
        "PYTHONUNBUFFERED": "1",
        **stack.nats.env(),
        "ASSAY_DATA_DIR": str(tmp_path),
        "ASSAY_LOG_JSON": "true",
        "ASSAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "ASSAY_GATEWAY_PORT": str(port),
        "ASSAY_GATEWAY_INTERNAL_SIGNING_KEY_FILE": str(stack.platform.data_dir / "internal.key"),
        "ASSAY_GATEWAY_TRUSTED_ISSUERS": json.dumps(trusted),
        "ASSAY_GATEWAY_JWKS_REFRESH_INTERVAL_SECONDS": "0.2",
        **{
            f"ASSAY_GATEWAY_{name.upper()}_URL": stack.platform.service_url(name)
            for name in ("workflow", "auth", "vault", "dashboard")
        },
    }
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        "jwt-gateway",
        [sys.executable, "-m", "assay_gateway"],
        env,
        stack.platform.log_dir / "jwt-gateway.log",
        f"{url}/readyz",
    )
    await process.spawn()
    try:
        async with aiohttp.ClientSession() as probe:
            await process.wait_ready(probe, asyncio.get_running_loop().time() + 30)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield client
    finally:
        await process.stop()


async def test_a_gateway_accepts_tokens_of_an_issuer_it_trusts(
    stack: Stack, issuer: TestIssuer, tmp_path: Any
) -> None:
    now = int(time.time())
    async with gateway_trusting(stack, issuer, tmp_path) as gateway:
        whoami = await gateway.get("/api/v1/auth/whoami", headers=bearer(issuer.token()))
        namespaces = await gateway.get("/api/v1/namespaces", headers=bearer(issuer.token()))
        for refused in (
            issuer.token(exp=now - LEEWAY - 5),
            issuer.token(nbf=now + LEEWAY + 60),
            issuer.token(aud="someone-else"),
            issuer.token(iss="https://id.example.com"),
            issuer.token(key=new_key(issuer.algorithm)),
            issuer.unsigned(),
        ):
            response = await gateway.get("/api/v1/namespaces", headers=bearer(refused))
            assert_refused(response)
            assert response.json()["code"] == "invalid_token"

        issuer.rotate()

        async def accepted() -> bool:
            response = await gateway.get("/api/v1/auth/whoami", headers=bearer(issuer.token()))
            return response.status_code == 200

        await eventually(accepted, within=10, what="a token of the issuer's new key accepted")

    assert whoami.status_code == 200, whoami.text
    assert whoami.json() == {
        "principal": {
            "id": "corp:alice",
            "kind": "external",
            "session_id": None,
            "scopes": ["openid", "namespace:main#view"],
        },
        "user": None,
    }
    assert namespaces.status_code == 200, namespaces.text


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
