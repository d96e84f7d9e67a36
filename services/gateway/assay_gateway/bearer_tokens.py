"""Bearer JWTs at the gateway: Assay's own (from the token exchange) and those of trusted external
OpenID Connect issuers (`trusted_issuers`).

A token is routed by its (unverified) `iss` to the issuer configured for it, and accepted only when
its signature verifies with one of that issuer's public keys (found by `kid`), with an accepted
algorithm (EdDSA, RS256 or ES256: never `none`, never a shared-secret HS*), and its `iss`, `aud`,
`exp`, `nbf` and `iat` hold, with `jwt_leeway_seconds` of clock skew allowed.

Each issuer's keys (its JWKS) are fetched when first needed, reused for `jwks_cache_seconds`, and
fetched again when a token names a `kid` not among them (a rotation), at most once per
`jwks_refresh_interval_seconds`, so tokens with made-up `kid`s cannot make the gateway hammer the
issuer. Assay's keys come from the auth service; an external issuer's from the `jwks_uri` of its
discovery document.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import math
import time
import warnings
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    SecurityWarning,
)
from joserfc.jwk import ECKey, OKPKey, RSAKey

from assay_common.errors import BadGateway, Unauthorized
from assay_common.internal_auth import InternalTokenMinter, Principal
from assay_gateway.settings import GatewaySettings, TrustedIssuer
from assay_gateway.upstreams import GATEWAY, Upstreams

log = logging.getLogger("assay.gateway.bearer_tokens")

# RFC 9864 deprecates the name "EdDSA" for "Ed25519", but the issuers in use today sign with
# "EdDSA"; the warning would repeat on every token.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)

#: Asymmetric algorithms only: with a shared-secret algorithm (HS*), anyone who knows the public
#: key could sign.
ACCEPTED_ALGORITHMS = frozenset({"EdDSA", "RS256", "ES256"})
#: Assay signs with Ed25519 only.
ASSAY_ALGORITHMS = frozenset({"EdDSA"})
ASSAY_KINDS = frozenset({"user", "api_key"})
#: A discovery document or JWKS larger than this is refused.
MAX_DOCUMENT_BYTES = 1024 * 1024
FETCH_TIMEOUT_SECONDS = 5.0

Key = OKPKey | RSAKey | ECKey
_KEY_TYPES: dict[str, type[Key]] = {"OKP": OKPKey, "RSA": RSAKey, "EC": ECKey}


class InvalidBearerToken(Unauthorized):
    code = "invalid_token"
    title = "The bearer token is not valid"


class FetchFailed(Exception):
    """An issuer's document could not be fetched or read (the message says why, without secrets)."""


@dataclass(frozen=True)
class Jwks:
    keys: Mapping[str, Key]
    fetched_at: float


class KeySource:
    """The public keys of one issuer, by `kid`: fetched, cached, refreshed on an unknown `kid`."""

    def __init__(
        self,
        name: str,
        fetch: Callable[[], Awaitable[dict[str, Any]]],
        *,
        cache_seconds: float,
        refresh_interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._fetch = fetch
        self.cache_seconds = cache_seconds
        self.refresh_interval = refresh_interval
        self._clock = clock
        self._jwks: Jwks | None = None
        self._last_attempt = -math.inf
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> Key | None:
        jwks = self._jwks
        if jwks is None or self._clock() - jwks.fetched_at >= self.cache_seconds:
            jwks = await self._refresh(jwks)
        found = jwks.keys.get(kid) if jwks else None
        if found is None and self._clock() - self._last_attempt >= self.refresh_interval:
            jwks = await self._refresh(jwks)
            found = jwks.keys.get(kid) if jwks else None
        return found

    async def _refresh(self, seen: Jwks | None) -> Jwks | None:
        """Fetch the keys again, once for all the requests that want it at the same moment."""
        async with self._lock:
            if self._jwks is not seen:
                return self._jwks  # fetched while this request waited
            if self._clock() - self._last_attempt < self.refresh_interval:
                # Tried moments ago (and failed, or found no such kid): an unreachable issuer is
                # not asked again by every request.
                if self._jwks is None:
                    raise BadGateway(f"the keys of {self.name} cannot be fetched just now")
                return self._jwks
            self._last_attempt = self._clock()
            try:
                document = await self._fetch()
            except FetchFailed as exc:
                if self._jwks is None:
                    raise BadGateway(f"the keys of {self.name} cannot be fetched: {exc}") from None
                log.warning(
                    "the keys of %s cannot be fetched (%s); using those fetched before", self.name, exc
                )
                return self._jwks
            self._jwks = Jwks(_keys_of(document, self.name), self._clock())
            return self._jwks


def _keys_of(document: dict[str, Any], issuer: str) -> dict[str, Key]:
    """The signature keys of a JWKS that have a `kid`; keys of other types or uses are skipped."""
    found: dict[str, Key] = {}
    entries = document.get("keys")
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("kid"), str):
            continue
        key_type = _KEY_TYPES.get(str(entry.get("kty")))
        if key_type is None or entry.get("use", "sig") != "sig":
            continue
        try:
            key = key_type.import_key(entry)
        except (JoseError, ValueError, TypeError):
            log.warning("skipping a key of %s that cannot be read (kid %.64s)", issuer, entry["kid"])
            continue
        if key.is_private:
            continue  # a public key set holds no private key; refuse to sign-verify with one
        found[entry["kid"]] = key
    return found


async def fetch_json(
    client: aiohttp.ClientSession, url: str, headers: Mapping[str, str] | None = None
) -> Any:
    """GET a JSON document of bounded size."""
    try:
        async with client.get(
            url,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS),
            allow_redirects=False,
        ) as response:
            if response.status != 200:
                raise FetchFailed(f"{url} answered {response.status}")
            body = bytearray()
            async for chunk in response.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchFailed(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchFailed(f"{url} is not reachable ({type(exc).__name__})") from None
    try:
        return json.loads(body)
    except ValueError:
        raise FetchFailed(f"{url} did not answer JSON") from None


@dataclass(frozen=True)
class Issuer:
    """One issuer the gateway trusts: what its tokens must say, and whom they make the caller."""

    iss: str
    audience: str
    algorithms: frozenset[str]
    keys: KeySource
    principal: Callable[[dict[str, Any]], Principal]


def assay_issuer(settings: GatewaySettings, upstreams: Upstreams, minter: InternalTokenMinter) -> Issuer:
    """Assay's own issuer: the token exchange of the auth service, keys from its JWKS."""

    async def fetch() -> dict[str, Any]:
        headers = {"x-assay-internal-token": minter.mint(GATEWAY, audience="auth")}
        document = await fetch_json(
            upstreams.client, upstreams.url("auth", "/.well-known/jwks.json"), headers
        )
        if not isinstance(document, dict):
            raise FetchFailed("the JWKS of the auth service is not a JSON object")
        return document

    return Issuer(
        iss=settings.public_url.rstrip("/"),
        audience=settings.token_audience,
        algorithms=ASSAY_ALGORITHMS,
        keys=KeySource(
            "Assay's auth service",
            fetch,
            cache_seconds=settings.jwks_cache_seconds,
            refresh_interval=settings.jwks_refresh_interval_seconds,
        ),
        principal=assay_principal,
    )


def assay_principal(claims: dict[str, Any]) -> Principal:
    kind, sid, scopes = claims.get("assay_kind"), claims.get("sid"), claims.get("scopes", [])
    if kind not in ASSAY_KINDS or not isinstance(claims.get("sub"), str):
        raise InvalidBearerToken("the bearer token does not name an Assay user")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise InvalidBearerToken("the bearer token's scopes are not a list of strings")
    return Principal(
        id=claims["sub"],
        kind="user" if kind == "user" else "api_key",
        session_id=sid if kind == "user" and isinstance(sid, str) else None,
        scopes=tuple(scopes),
    )


def external_issuer(
    config: TrustedIssuer,
    client: aiohttp.ClientSession,
    *,
    cache_seconds: float,
    refresh_interval: float,
) -> Issuer:
    """An external OIDC issuer: keys from the `jwks_uri` its discovery document names."""
    discovery_url = config.issuer.rstrip("/") + "/.well-known/openid-configuration"

    async def fetch() -> dict[str, Any]:
        discovery = await fetch_json(client, discovery_url)
        if not isinstance(discovery, dict) or discovery.get("issuer") != config.issuer:
            raise FetchFailed(f"{discovery_url} does not describe the issuer {config.issuer}")
        jwks_uri = discovery.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise FetchFailed(f"{discovery_url} names no jwks_uri")
        document = await fetch_json(client, jwks_uri)
        if not isinstance(document, dict):
            raise FetchFailed(f"{jwks_uri} is not a JWKS")
        return document

    def principal(claims: dict[str, Any]) -> Principal:
        name = claims.get(config.principal_claim)
        if not isinstance(name, str | int) or isinstance(name, bool) or name == "":
            raise InvalidBearerToken(f"the bearer token has no usable {config.principal_claim!r} claim")
        return Principal(
            id=f"{config.alias}:{name}", kind="external", scopes=_scopes(claims, config.scopes_claim)
        )

    return Issuer(
        iss=config.issuer,
        audience=config.audience,
        algorithms=ACCEPTED_ALGORITHMS,
        keys=KeySource(config.issuer, fetch, cache_seconds=cache_seconds, refresh_interval=refresh_interval),
        principal=principal,
    )


def _scopes(claims: dict[str, Any], claim: str | None) -> tuple[str, ...]:
    value = claims.get(claim) if claim else None
    if isinstance(value, str):
        return tuple(value.split())
    if isinstance(value, list):
        return tuple(s for s in value if isinstance(s, str))
    return ()


class JwtVerifier:
    """Verifies a bearer JWT of a trusted issuer and says whom it makes the caller."""

    def __init__(
        self,
        issuers: list[Issuer],
        *,
        leeway: int,
        clock: Callable[[], float] = time.time,
        client: aiohttp.ClientSession | None = None,
    ) -> None:
        self.issuers = {issuer.iss: issuer for issuer in issuers}
        self.leeway = leeway
        self._clock = clock
        self._client = client

    @classmethod
    def for_gateway(
        cls, settings: GatewaySettings, upstreams: Upstreams, minter: InternalTokenMinter
    ) -> JwtVerifier:
        """Assay's issuer and every issuer of `trusted_issuers`, whose keys are fetched with a
        client of the verifier's own (the upstreams' passes bytes through undecoded)."""
        client = aiohttp.ClientSession(trust_env=False)
        issuers = [assay_issuer(settings, upstreams, minter)]
        issuers += [
            external_issuer(
                config,
                client,
                cache_seconds=settings.jwks_cache_seconds,
                refresh_interval=settings.jwks_refresh_interval_seconds,
            )
            for config in settings.trusted_issuers
        ]
        return cls(issuers, leeway=settings.jwt_leeway_seconds, client=client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def verify(self, token: str) -> Principal:
        header, unverified = _unverified_parts(token)
        algorithm = header.get("alg")
        iss = unverified.get("iss")
        issuer = self.issuers.get(iss) if isinstance(iss, str) else None
        if issuer is None:
            raise InvalidBearerToken("the bearer token's issuer is not trusted here")
        if algorithm not in issuer.algorithms:
            raise InvalidBearerToken(f"the bearer token's algorithm {str(algorithm)[:20]!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidBearerToken("the bearer token names no signing key (kid)")
        key = await issuer.keys.key(kid)
        if key is None:
            raise InvalidBearerToken("the bearer token is signed by a key its issuer does not publish")
        if key.get("alg", algorithm) != algorithm:
            raise InvalidBearerToken("the bearer token's algorithm does not match its key")
        try:
            claims = jwt.decode(token, key, algorithms=[algorithm]).claims
        except BadSignatureError:
            raise InvalidBearerToken("the bearer token's signature does not verify") from None
        except (JoseError, ValueError):
            raise InvalidBearerToken("the bearer token cannot be read") from None
        self._check_claims(claims, issuer)
        return issuer.principal(claims)

    def _check_claims(self, claims: dict[str, Any], issuer: Issuer) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self.leeway,
            iss={"essential": True, "value": issuer.iss},
            aud={"essential": True, "value": issuer.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise InvalidBearerToken("the bearer token has expired") from None
        except MissingClaimError as exc:
            raise InvalidBearerToken(f"the bearer token lacks the claims {exc.description}") from None
        except InvalidClaimError as exc:
            raise InvalidBearerToken(_claim_problem(exc.claim)) from None
        except JoseError:
            raise InvalidBearerToken("the bearer token's claims are not valid") from None


def _claim_problem(claim: str) -> str:
    return {
        "aud": "the bearer token is not meant for this platform (audience)",
        "iss": "the bearer token's issuer is not trusted here",
        "nbf": "the bearer token is not valid yet",
        "iat": "the bearer token was issued in the future",
        "exp": "the bearer token's expiry is not a time",
    }.get(claim, f"the bearer token's {claim[:40]!r} claim is not valid")


def looks_like_jwt(credential: str) -> bool:
    """Three dot-separated parts: a JWS in compact form."""
    return credential.count(".") == 2


def _unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and the claims, read without checking anything, only to find the issuer."""
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidBearerToken("the bearer token is not a JWT")
    try:
        header, claims = (json.loads(_b64decode(part)) for part in parts[:2])
    except (ValueError, binascii.Error):
        raise InvalidBearerToken("the bearer token is not a JWT") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise InvalidBearerToken("the bearer token is not a JWT")
    return header, claims


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
