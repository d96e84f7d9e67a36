"""The short-lived internal token: the gateway says who the caller is; services believe only that.

An EdDSA (Ed25519) JWT with the principal (id, kind), session id and scopes, audience = the
service. Services hold only public keys, so a service can verify but never mint.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from assay_common.errors import Unauthorized

INTERNAL_TOKEN_HEADER = "x-assay-internal-token"
ISSUER = "assay-gateway"
#: `external`: someone a trusted external issuer vouches for (id `<issuer alias>:<subject>`);
#: `biscuit`: the subject of a biscuit capability token, within the token's checks.
PrincipalKind = Literal["anonymous", "user", "api_key", "service", "external", "biscuit"]


@dataclass(frozen=True)
class Principal:
    """Who is calling, as established by the gateway."""

    id: str
    kind: PrincipalKind
    session_id: str | None = None
    scopes: tuple[str, ...] = field(default_factory=tuple)
    #: The API key an `api_key` principal presented (none when it came with a JWT made from one).
    api_key_id: str | None = None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(id="anonymous", kind="anonymous")


def generate_private_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(private_pem: bytes) -> bytes:
    key = load_private_key(private_pem)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private_key(data: bytes | str) -> Ed25519PrivateKey:
    raw = data.encode() if isinstance(data, str) else data
    key = serialization.load_pem_private_key(raw.strip(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the internal signing key must be an Ed25519 private key (PEM, PKCS#8)")
    return key


def load_public_keys(text: str) -> list[Ed25519PublicKey]:
    """Public keys from PEM blocks or base64 of raw 32-byte keys, separated by commas."""
    keys: list[Ed25519PublicKey] = []
    for chunk in _split_keys(text):
        if chunk.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(chunk.encode())
            if not isinstance(key, Ed25519PublicKey):
                raise ValueError("internal verify keys must be Ed25519 public keys")
            keys.append(key)
        else:
            keys.append(Ed25519PublicKey.from_public_bytes(base64.b64decode(chunk)))
    return keys


def _split_keys(text: str) -> list[str]:
    if "-----BEGIN" in text:
        blocks = text.split("-----END PUBLIC KEY-----")
        return [b.strip(" ,\n") + "\n-----END PUBLIC KEY-----\n" for b in blocks if "BEGIN" in b]
    return [part.strip() for part in text.split(",") if part.strip()]


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class InternalTokenMinter:
    """Mints tokens at the gateway; reuses one per (principal, audience) for half its lifetime."""

    def __init__(self, private_key: Ed25519PrivateKey, ttl_seconds: int = 60) -> None:
        self._key = private_key
        self._kid = key_id(private_key.public_key())
        self.ttl = ttl_seconds
        self._cache: dict[tuple[Principal, str], tuple[float, str]] = {}

    def mint(self, principal: Principal, audience: str) -> str:
        now = time.time()
        cached = self._cache.get((principal, audience))
        if cached is not None and cached[0] > now:
            return cached[1]
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": audience,
            "sub": principal.id,
            "kind": principal.kind,
            "iat": int(now),
            "exp": int(now) + self.ttl,
            "scopes": list(principal.scopes),
        }
        if principal.session_id:
            claims["sid"] = principal.session_id
        if principal.api_key_id:
            claims["akid"] = principal.api_key_id
        token = jwt.encode(claims, self._key, algorithm="EdDSA", headers={"kid": self._kid})
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[(principal, audience)] = (now + self.ttl / 2, token)
        return token


_VERIFIED_CACHE_SIZE = 10_000


class InternalTokenVerifier:
    """Verifies tokens at a service: signature by a trusted key, issuer, audience, expiry."""

    def __init__(
        self,
        public_keys: list[Ed25519PublicKey],
        audience: str,
        leeway: float = 5.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = {key_id(k): k for k in public_keys}
        self.audience = audience
        self.leeway = leeway
        self._clock = clock
        # The gateway reuses a token for half its lifetime, so most requests carry a token seen
        # before: remembering verified ones (until they expire) saves a signature check each.
        self._verified: dict[str, tuple[float, Principal]] = {}

    def verify(self, token: str | None) -> Principal:
        if not token:
            raise Unauthorized("this service is reached through the Assay gateway")
        now = self._clock()
        known = self._verified.get(token)
        if known is not None and known[0] + self.leeway > now:
            return known[1]
        principal, expires = self._verify_signed(token)
        if expires + self.leeway <= now:
            raise Unauthorized("the internal token has expired")
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            self._verified = {t: v for t, v in self._verified.items() if v[0] + self.leeway > now}
            if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                self._verified.clear()
        self._verified[token] = (expires, principal)
        return principal

    def _verify_signed(self, token: str) -> tuple[Principal, float]:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.get(kid) if isinstance(kid, str) else None
            if key is None:
                raise Unauthorized("the internal token is signed by an unknown key")
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=self.audience,
                issuer=ISSUER,
                leeway=self.leeway,
                # Expiry is checked against our own clock by the caller (and the cache).
                options={"require": ["exp", "iat", "sub", "aud", "iss"], "verify_exp": False},
            )
        except jwt.PyJWTError:
            raise Unauthorized("the internal token is not valid") from None
        principal = Principal(
            id=str(claims["sub"]),
            kind=claims.get("kind", "anonymous"),
            session_id=claims.get("sid"),
            scopes=tuple(claims.get("scopes", ())),
            api_key_id=claims.get("akid"),
        )
        return principal, float(claims["exp"])
