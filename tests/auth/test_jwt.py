"""Assay's JWTs in the domain, on SQLite and Postgres: signing keys (rotation, retirement, sealing,
replicas rotating at once) and the token exchange."""

from __future__ import annotations

import asyncio
import base64
import secrets
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from joserfc import jwt
from joserfc.jwk import KeySet

from assay_auth.domain.context import Actor
from assay_auth.domain.errors import InvalidApiKey, NotSignedIn
from assay_auth.domain.identity import Identity
from assay_auth.domain.jwt_tokens import NotExchangeable, ScopeNotHeld
from assay_auth.domain.sessions import ClientInfo
from assay_auth.domain.signing_keys import RETIRED_KEY_MARGIN, SigningKeyUnavailable
from assay_auth.store import tables
from assay_common.db import Database
from assay_common.internal_auth import Principal
from tests.auth.conftest import ManualClock, make_identity, outbox_events
from tests.auth_api import PASSWORD

ADMIN = Actor(id="tests", kind="service")
TTL = 900


def fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


async def published_kids(identity: Identity) -> list[str]:
    return [key["kid"] for key in await identity.signing_keys.published()]


async def stored_keys(db: Database) -> list[Any]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(tables.signing_keys))).all())


def verified(identity: Identity, token: str, published: list[dict[str, Any]]) -> dict[str, Any]:
    """The token's claims, after its signature is checked against the published JWKS."""
    claims: dict[str, Any] = jwt.decode(
        token, KeySet.import_key_set({"keys": published}), algorithms=["EdDSA"]
    ).claims
    return claims


async def new_user(identity: Identity, email: str = "ann@example.com", **fields: Any) -> uuid.UUID:
    user = await identity.users.create(ADMIN, email=email, password=PASSWORD, **fields)
    return user.id


# ---- signing keys -----------------------------------------------------------------------------


async def test_the_first_key_is_made_once_and_published_with_its_public_part_only(identity: Identity) -> None:
    first = await identity.signing_keys.rotate_if_due()
    assert first is not None
    assert await identity.signing_keys.rotate_if_due() is None, "not due yet"

    (jwk,) = await identity.signing_keys.published()
    assert jwk == {**first.public_jwk, "kid": first.kid, "alg": "EdDSA", "use": "sig"}
    assert set(jwk) == {"kty", "crv", "x", "kid", "alg", "use"} and jwk["crv"] == "Ed25519"
    (audit,) = await outbox_events(identity.ctx.db, "signing_key_rotated")
    assert audit[1].data["reason"] == "initial" and audit[1].data["retired_kid"] is None


async def test_a_rotated_key_stays_published_until_its_tokens_have_expired(
    identity: Identity, clock: ManualClock
) -> None:
    old = await identity.signing_keys.rotate_if_due()
    assert old is not None
    owner = await new_user(identity)
    token = (await identity.tokens.exchange(Principal(id=str(owner), kind="user"), None)).token
    clock.advance(1)

    new = await identity.signing_keys.rotate_now(ADMIN)

    assert (await identity.signing_keys.active()).kid == new.kid
    assert await published_kids(identity) == [new.kid, old.kid]
    assert verified(identity, token, await identity.signing_keys.published())["sub"] == str(owner)
    listed = {row.kid: row for row in await identity.signing_keys.listed()}
    assert listed[old.kid].active is None and listed[new.kid].active is True
    assert listed[old.kid].drop_after == clock.now + timedelta(seconds=TTL) + RETIRED_KEY_MARGIN
    rotated = await outbox_events(identity.ctx.db, "signing_key_rotated")
    assert rotated[-1][1].data["retired_kid"] == old.kid and rotated[-1][1].data["reason"] == "manual"

    clock.advance(TTL + RETIRED_KEY_MARGIN.total_seconds() - 1)
    await identity.sweep()
    assert await published_kids(identity) == [new.kid, old.kid], "a token of the old key may still live"

    clock.advance(1)
    await identity.sweep()
    assert await published_kids(identity) == [new.kid]
    assert [row.kid for row in await identity.signing_keys.listed()] == [new.kid], "dropped"


async def test_keys_rotate_when_due(identity: Identity, clock: ManualClock) -> None:
    first = await identity.signing_keys.rotate_if_due()
    assert first is not None
    clock.advance(identity.ctx.settings.signing_key_rotation_seconds - 1)
    assert await identity.signing_keys.rotate_if_due() is None
    clock.advance(1)
    second = await identity.signing_keys.rotate_if_due()
    assert second is not None and second.kid != first.kid
    assert (await identity.signing_keys.active()).kid == second.kid
    rotated = await outbox_events(identity.ctx.db, "signing_key_rotated")
    assert rotated[-1][1].data["reason"] == "scheduled"


async def test_replicas_rotating_at_once_make_one_new_key(auth_db: Database, clock: ManualClock) -> None:
    replicas = [make_identity(auth_db, clock) for _ in range(4)]

    made = await asyncio.gather(*(r.signing_keys.rotate_if_due() for r in replicas))
    assert sum(key is not None for key in made) == 1, "one first key"

    clock.advance(replicas[0].ctx.settings.signing_key_rotation_seconds)
    rotated = await asyncio.gather(*(r.signing_keys.rotate_if_due() for r in replicas))

    assert sum(key is not None for key in rotated) == 1, "one rotation"
    rows = await stored_keys(auth_db)
    assert len(rows) == 2 and sum(row.active is True for row in rows) == 1
    kids = {(await r.signing_keys.active()).kid for r in replicas}
    assert kids == {next(key.kid for key in rotated if key is not None)}
    assert len(await outbox_events(auth_db, "signing_key_rotated")) == 2


async def test_private_keys_are_sealed_when_an_encryption_key_is_set(
    auth_db: Database, clock: ManualClock
) -> None:
    secret = fernet_key()
    sealing = make_identity(auth_db, clock, signing_key_encryption_key=secret)
    key = await sealing.signing_keys.rotate_if_due()
    assert key is not None

    (row,) = await stored_keys(auth_db)
    assert row.sealed is True
    assert "PRIVATE KEY" not in row.private_key and "PRIVATE KEY" not in str(row)
    assert (
        Fernet(secret.encode()).decrypt(row.private_key.encode()).startswith(b"-----BEGIN PRIVATE KEY-----")
    )

    # Another replica with the same key signs with it; one without the key cannot open it.
    owner = await new_user(sealing)
    replica = make_identity(auth_db, clock, signing_key_encryption_key=secret)
    issued = await replica.tokens.exchange(Principal(id=str(owner), kind="user"), None)
    assert verified(replica, issued.token, await replica.signing_keys.published())["sub"] == str(owner)
    with pytest.raises(SigningKeyUnavailable):
        await make_identity(auth_db, clock).tokens.exchange(Principal(id=str(owner), kind="user"), None)
    with pytest.raises(SigningKeyUnavailable):
        await make_identity(auth_db, clock, signing_key_encryption_key=fernet_key()).tokens.exchange(
            Principal(id=str(owner), kind="user"), None
        )


async def test_without_an_encryption_key_the_private_key_is_stored_as_pem(identity: Identity) -> None:
    await identity.signing_keys.rotate_if_due()
    (row,) = await stored_keys(identity.ctx.db)
    assert row.sealed is False and row.private_key.startswith("-----BEGIN PRIVATE KEY-----")


# ---- the token exchange ----------------------------------------------------------------------


async def test_a_session_is_exchanged_for_a_jwt_with_its_claims(
    identity: Identity, clock: ManualClock
) -> None:
    owner = await new_user(identity, is_admin=True)
    session = (
        await identity.sessions.login("ann@example.com", PASSWORD, ClientInfo("10.0.0.1", None))
    ).session
    principal = Principal(id=str(owner), kind="user", session_id=str(session.id), scopes=("admin",))

    issued = await identity.tokens.exchange(principal, "10.0.0.1")

    claims = verified(identity, issued.token, await identity.signing_keys.published())
    now = int(clock.now.timestamp())
    assert claims == {
        "iss": identity.ctx.settings.public_url.rstrip("/"),
        "sub": str(owner),
        "aud": "assay",
        "iat": now,
        "nbf": now,
        "exp": now + TTL,
        "jti": issued.jti,
        "assay_kind": "user",
        "sid": str(session.id),
        "scopes": ["admin"],
        "admin": True,
    }
    assert issued.expires_in == TTL
    (audit,) = await outbox_events(identity.ctx.db, "token_issued")
    assert audit[1].data["jti"] == issued.jti and audit[1].data["actor_id"] == str(owner)
    assert issued.token not in str(audit[1].data)


async def test_a_token_narrows_but_never_widens_its_credential(identity: Identity) -> None:
    owner = await new_user(identity, is_admin=True)
    principal = Principal(id=str(owner), kind="user", scopes=("admin",))

    narrow = await identity.tokens.exchange(principal, None, scopes=[], expires_in=60)
    claims = verified(identity, narrow.token, await identity.signing_keys.published())
    assert claims["scopes"] == [] and "admin" not in claims and claims["exp"] - claims["iat"] == 60

    longer = await identity.tokens.exchange(principal, None, expires_in=TTL * 10)
    assert longer.expires_in == TTL, "at most the configured life"

    with pytest.raises(ScopeNotHeld):
        await identity.tokens.exchange(principal, None, scopes=["admin", "namespace:x#operate"])


async def test_an_api_key_token_carries_its_scopes_and_ends_with_the_key(
    identity: Identity, clock: ManualClock
) -> None:
    owner = await new_user(identity)
    key = await identity.api_keys.create(
        Actor.user(owner),
        owner,
        name="ci",
        scopes=["namespace:a#view"],
        expires_at=clock.now + timedelta(seconds=90),
    )
    principal = Principal(
        id=str(owner), kind="api_key", scopes=("namespace:a#view",), api_key_id=str(key.row.id)
    )

    issued = await identity.tokens.exchange(principal, None)

    claims = verified(identity, issued.token, await identity.signing_keys.published())
    assert claims["assay_kind"] == "api_key" and claims["scopes"] == ["namespace:a#view"]
    assert "sid" not in claims and "admin" not in claims
    assert issued.expires_in == 90, "never outlives the key"
    with pytest.raises(ScopeNotHeld):
        await identity.tokens.exchange(principal, None, scopes=["admin"])
    with pytest.raises(NotExchangeable):
        await identity.tokens.exchange(
            Principal(id=str(owner), kind="api_key", scopes=("namespace:a#view",)), None
        )
    clock.advance(90)
    with pytest.raises(InvalidApiKey):
        await identity.tokens.exchange(principal, None)


async def test_only_users_and_api_keys_are_exchanged(identity: Identity) -> None:
    with pytest.raises(NotSignedIn):
        await identity.tokens.exchange(Principal.anonymous(), None)
    with pytest.raises(NotExchangeable):
        await identity.tokens.exchange(Principal(id="workflow", kind="service"), None)
    with pytest.raises(NotSignedIn):
        await identity.tokens.exchange(Principal(id=str(uuid.uuid4()), kind="user"), None)
    assert await outbox_events(identity.ctx.db, "token_issued") == []
