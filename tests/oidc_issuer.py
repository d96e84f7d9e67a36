"""An OpenID Connect issuer for tests, on loopback: serves its discovery document and its JWKS over
real HTTP, signs tokens with its own keys, and rotates them when a test says so."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from aiohttp import web
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from assay.local import free_port

Key = OKPKey | RSAKey | ECKey


def new_key(algorithm: str) -> Key:
    if algorithm == "EdDSA":
        return OKPKey.generate_key("Ed25519", private=True)
    if algorithm == "RS256":
        return RSAKey.generate_key(2048, private=True)
    if algorithm == "ES256":
        return ECKey.generate_key("P-256", private=True)
    raise ValueError(f"no key for {algorithm}")


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


class TestIssuer:
    """`issuer` is `http://127.0.0.1:<port>/realms/test`; `jwks_fetches` counts JWKS requests."""

    __test__ = False  # not a test class, despite its name

    def __init__(self, algorithm: str = "ES256", audience: str = "assay-tests") -> None:
        self.algorithm = algorithm
        self.audience = audience
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}/realms/test"
        self.key = new_key(algorithm)
        self.kid = self.key.thumbprint()
        self.jwks_fetches = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/realms/test/.well-known/openid-configuration", self._discovery)
        app.router.add_get("/realms/test/protocol/certs", self._jwks)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _discovery(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": self.issuer, "jwks_uri": f"{self.issuer}/protocol/certs"})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_fetches += 1
        public = self.key.as_dict(private=False, kid=self.kid, alg=self.algorithm, use="sig")
        return web.json_response({"keys": [public]})

    def rotate(self) -> None:
        """A new key replaces the old one in the JWKS at once (as an issuer that rotates hard)."""
        self.key = new_key(self.algorithm)
        self.kid = self.key.thumbprint()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "alice",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "scope": "openid namespace:main#view",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, *, kid: str | None = None, key: Key | None = None, **overrides: Any) -> str:
        """A token of this issuer signed with its current key (or `key`), claims overridden."""
        header = {"alg": self.algorithm, "kid": kid or self.kid}
        return jwt.encode(header, self.claims(**overrides), key or self.key, algorithms=[self.algorithm])

    def unsigned(self, **overrides: Any) -> str:
        """The same claims with `alg: none` and no signature."""
        return f"{b64({'alg': 'none', 'kid': self.kid})}.{b64(self.claims(**overrides))}."
