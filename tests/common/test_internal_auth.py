"""The internal token: minted by the gateway, verified by services."""

from __future__ import annotations

import time

import jwt
import pytest

from assay_common.errors import Unauthorized
from assay_common.internal_auth import (
    InternalTokenMinter,
    InternalTokenVerifier,
    Principal,
    generate_private_key_pem,
    load_private_key,
    load_public_keys,
    public_key_pem,
)

PRIVATE = generate_private_key_pem()
OTHER_PRIVATE = generate_private_key_pem()
USER = Principal(id="user-1", kind="user", session_id="s-1", scopes=("namespace:main#view",))


def verifier(audience: str = "workflow", *pems: bytes) -> InternalTokenVerifier:
    keys = load_public_keys(",".join(p.decode() for p in (pems or (public_key_pem(PRIVATE),))))
    return InternalTokenVerifier(keys, audience=audience)


def test_minted_token_verifies_to_the_same_principal() -> None:
    token = InternalTokenMinter(load_private_key(PRIVATE)).mint(USER, "workflow")
    assert verifier().verify(token) == USER


def test_token_for_another_service_is_rejected() -> None:
    token = InternalTokenMinter(load_private_key(PRIVATE)).mint(USER, "vault")
    with pytest.raises(Unauthorized):
        verifier("workflow").verify(token)


def test_token_signed_by_unknown_key_is_rejected() -> None:
    token = InternalTokenMinter(load_private_key(OTHER_PRIVATE)).mint(USER, "workflow")
    with pytest.raises(Unauthorized, match="unknown key"):
        verifier().verify(token)


def test_rotation_accepts_every_configured_key() -> None:
    token = InternalTokenMinter(load_private_key(OTHER_PRIVATE)).mint(USER, "workflow")
    both = verifier("workflow", public_key_pem(PRIVATE), public_key_pem(OTHER_PRIVATE))
    assert both.verify(token).id == "user-1"


def test_expired_token_is_rejected() -> None:
    key = load_private_key(PRIVATE)
    kid = jwt.get_unverified_header(InternalTokenMinter(key).mint(USER, "workflow"))["kid"]
    past = int(time.time()) - 120
    token = jwt.encode(
        {"iss": "assay-gateway", "aud": "workflow", "sub": "u", "iat": past, "exp": past + 60},
        key,
        algorithm="EdDSA",
        headers={"kid": kid},
    )
    with pytest.raises(Unauthorized, match="expired"):
        verifier().verify(token)


def test_tampered_token_is_rejected() -> None:
    token = InternalTokenMinter(load_private_key(PRIVATE)).mint(USER, "workflow")
    header, _payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(b'{"iss":"assay-gateway","aud":"workflow","sub":"admin"}').decode()
    with pytest.raises(Unauthorized):
        verifier().verify(f"{header}.{forged}.{signature}")


def test_missing_token_is_rejected_with_a_hint() -> None:
    with pytest.raises(Unauthorized, match="through the Assay gateway"):
        verifier().verify(None)


def test_raw_base64_public_keys_are_accepted() -> None:
    import base64

    from cryptography.hazmat.primitives import serialization

    raw = (
        load_private_key(PRIVATE)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    keys = load_public_keys(base64.b64encode(raw).decode())
    token = InternalTokenMinter(load_private_key(PRIVATE)).mint(USER, "workflow")
    assert InternalTokenVerifier(keys, audience="workflow").verify(token).id == "user-1"


def test_remembered_token_is_refused_once_it_expires() -> None:
    clock = [time.time()]
    token = InternalTokenMinter(load_private_key(PRIVATE), ttl_seconds=60).mint(USER, "workflow")
    keys = load_public_keys(public_key_pem(PRIVATE).decode())
    verifier = InternalTokenVerifier(keys, "workflow", leeway=5, clock=lambda: clock[0])
    assert verifier.verify(token) == USER
    clock[0] += 64  # within the leeway: still accepted (from the cache)
    assert verifier.verify(token) == USER
    clock[0] += 2
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(token)
