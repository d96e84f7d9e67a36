"""Biscuits presented as bearer credentials, verified for each request by the auth service.

A biscuit (docs/auth.md) says what it allows only in terms of a request's facts, so the gateway
accepts one only on routes whose permission object it names itself (docs/gateway.md): it asks the
auth service (`POST /api/v1/auth/biscuit/verify`, with the gateway's own service token) whether
the token allows `operation` = the permission, `namespace` = the namespace when the permission is
on one, `resource` = the object (`namespace:payments`), at the auth service's current time.

Answers are reused for at most `biscuit_cache_seconds` (1 s) per token and facts, keyed by a hash
of the token, and dropped at once when a `biscuit_revoked` event names one of the token's
revocation ids; an answer that was being fetched while such an event arrived is not kept. So a
revoked token stops working at once, and within a second at worst. The token itself is never
logged or kept.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from assay_common.errors import BadGateway, Forbidden, Unauthorized
from assay_common.events.bus import EventBus
from assay_common.events.schemas.auth import BiscuitRevoked
from assay_common.internal_auth import InternalTokenMinter, Principal
from assay_common.permission_checks import Need
from assay_gateway.auth_events import follow
from assay_gateway.upstreams import GATEWAY, Upstreams

VERIFY_PATH = "/api/v1/auth/biscuit/verify"
#: The shortest a biscuit can be: base64 of 64 bytes, one Ed25519 signature (a token has several).
MIN_LENGTH = 86
#: The longest token the auth service verifies.
MAX_LENGTH = 65536
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")
#: Outcomes saying the token is not a valid credential at all (401); any other refusal is a
#: genuine token that does not allow the request (403).
_NOT_A_CREDENTIAL = frozenset({"malformed", "revoked", "unknown_root_key", "invalid_signature"})
#: The most answers remembered at once.
MAX_CACHED = 10_000


def looks_like_biscuit(credential: str) -> bool:
    """Shaped like a serialized biscuit (URL-safe base64 of a plausible length); only the auth
    service can tell whether it is one."""
    return MIN_LENGTH <= len(credential) <= MAX_LENGTH and _BASE64URL.match(credential) is not None


@dataclass(frozen=True)
class BiscuitBearer:
    """A biscuit presented as the credential: whom it stands for is known only once it has been
    verified for a request."""

    token: str = field(repr=False)


class InvalidBiscuit(Unauthorized):
    code = "invalid_biscuit"
    title = "The biscuit is not a valid credential"


class BiscuitDenied(Forbidden):
    code = "biscuit_denied"
    title = "The biscuit does not allow this request"


@dataclass(frozen=True)
class Facts:
    """What the gateway states about a request to a token's checks."""

    operation: str
    namespace: str | None
    resource: str

    @classmethod
    def of(cls, need: Need) -> Facts:
        namespace = need.resource_id if need.resource_type == "namespace" else None
        return cls(need.permission, namespace, need.resource)


@dataclass(frozen=True)
class Verdict:
    """The auth service's answer about one token for one set of facts."""

    allowed: bool
    outcome: str
    subject: str | None = None
    revocation_ids: frozenset[str] = frozenset()

    def holder(self) -> Principal:
        """The principal the token stands for; `InvalidBiscuit` (401) or `BiscuitDenied` (403)."""
        if self.outcome in _NOT_A_CREDENTIAL:
            raise InvalidBiscuit(f"the biscuit cannot be used: {self.outcome.replace('_', ' ')}")
        if not self.allowed:
            raise BiscuitDenied(
                f"the biscuit does not allow this request ({self.outcome.replace('_', ' ')})",
                outcome=self.outcome,
            )
        subject = (self.subject or "").removeprefix("user:")
        if not subject:
            raise InvalidBiscuit("the biscuit names no subject")
        return Principal(id=subject, kind="biscuit")


class _VerifyAnswer(BaseModel):
    allowed: bool
    outcome: str
    subject: str | None = None
    revocation_ids: list[str] = []


class BiscuitVerifier:
    """Asks the auth service whether a biscuit allows a request; remembers answers briefly."""

    def __init__(self, upstreams: Upstreams, minter: InternalTokenMinter, cache_seconds: float) -> None:
        self.upstreams = upstreams
        self.minter = minter
        self.cache_seconds = cache_seconds
        self._known: dict[tuple[str, Facts], tuple[float, Verdict]] = {}
        #: Revocation events seen; an answer fetched while one arrived may predate it.
        self._revocations = 0

    async def verify(self, token: str, facts: Facts) -> Verdict:
        key = (hashlib.sha256(token.encode()).hexdigest(), facts)
        now = time.monotonic()
        known = self._known.get(key)
        if known is not None and known[0] > now:
            return known[1]
        seen = self._revocations
        verdict = await self._ask(token, facts)
        if seen == self._revocations and self.cache_seconds > 0:
            self._make_room(now)
            self._known[key] = (now + self.cache_seconds, verdict)
        return verdict

    def forget(self, revoked: BiscuitRevoked) -> int:
        """Drop every answer about tokens carrying a revoked block; the number dropped."""
        self._revocations += 1
        ids = set(revoked.revocation_ids)
        stale = [key for key, (_, verdict) in self._known.items() if verdict.revocation_ids & ids]
        for key in stale:
            del self._known[key]
        return len(stale)

    async def forget_on(self, bus: EventBus) -> None:
        """Follow `biscuit_revoked` events until cancelled."""
        await follow(bus, BiscuitRevoked, self.forget)

    def _make_room(self, now: float) -> None:
        if len(self._known) < MAX_CACHED:
            return
        for key in [key for key, (until, _) in self._known.items() if until <= now]:
            del self._known[key]
        if len(self._known) >= MAX_CACHED:
            self._known.clear()

    async def _ask(self, token: str, facts: Facts) -> Verdict:
        body = {"token": token, "operation": facts.operation, "resource": facts.resource}
        if facts.namespace is not None:
            body["namespace"] = facts.namespace
        status, content = await self.upstreams.post_json(
            "auth",
            VERIFY_PATH,
            body,
            token=self.minter.mint(GATEWAY, audience="auth"),
            purpose="verify the biscuit",
        )
        if status == 400:
            return Verdict(allowed=False, outcome="malformed")
        if status == 422:
            # A name the token's checks cannot be asked about (too long, control characters).
            return Verdict(allowed=False, outcome="facts_not_statable")
        if status != 200:
            raise BadGateway(f"the auth service answered {status} when asked to verify a biscuit")
        try:
            answer = _VerifyAnswer.model_validate_json(content)
        except ValidationError:
            raise BadGateway("the auth service's answer about a biscuit is not one") from None
        return Verdict(answer.allowed, answer.outcome, answer.subject, frozenset(answer.revocation_ids))
