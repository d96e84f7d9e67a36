"""The routes a caller without credentials may reach: the one list (ARCHITECTURE §5).

Every other route answers an anonymous caller 401. The console's pages and assets (whatever the
routing table sends to the dashboard) are public too: a page is only a shell, and the data it
shows comes from API routes that need credentials.
"""

from __future__ import annotations

from assay_common.errors import BadRequest
from assay_gateway.routing import FALLBACK_SERVICE, Rule, service_for

#: Signing in and recovering an account. Credentials are not even looked at here, so a stale
#: cookie never keeps a browser from signing in again.
SIGN_IN: tuple[Rule, ...] = (
    Rule("/api/v1/auth/login", "auth", exact=True),
    Rule("/api/v1/auth/password/recovery", "auth", exact=True),
    Rule("/api/v1/auth/password/reset", "auth", exact=True),
    Rule("/api/v1/auth/passkeys/authentication/options", "auth", exact=True),
    Rule("/api/v1/auth/passkeys/authentication", "auth", exact=True),
)

#: Open to anyone; credentials sent along still count (and must hold).
OPEN: tuple[Rule, ...] = (
    # Monitors and the sign-in page show these.
    Rule("/api/v1/health", "gateway", exact=True),
    Rule("/api/v1/version", "gateway", exact=True),
    # The API's description and its reader describe routes, never data.
    Rule("/api/v1/openapi.json", "gateway", exact=True),
    Rule("/api/v1/docs", "gateway"),
    # Ending a session that has already ended must still clear the browser's cookies.
    Rule("/api/v1/auth/logout", "auth", exact=True),
    # Verifiers of Assay's tokens fetch its public keys without credentials.
    Rule("/.well-known/jwks.json", "auth", exact=True),
    Rule("/.well-known/openid-configuration", "auth", exact=True),
    # Biscuits are verified and attenuated offline by whoever holds one: the root public keys and
    # the revocation list are for them, attenuating needs only the token, and revoking by token
    # proves possession (revoking by id still needs an administrator).
    Rule("/api/v1/auth/biscuit/root-keys", "auth", exact=True),
    Rule("/api/v1/auth/biscuit/revocations", "auth", exact=True),
    Rule("/api/v1/auth/biscuit/attenuate", "auth", exact=True),
)


def is_sign_in(path: str) -> bool:
    return any(rule.matches(path) for rule in SIGN_IN)


def is_public(path: str) -> bool:
    """Whether an anonymous caller may reach `path` (percent-decoded, as routed)."""
    if is_sign_in(path) or any(rule.matches(path) for rule in OPEN):
        return True
    try:
        return service_for(path) == FALLBACK_SERVICE
    except BadRequest:
        return False  # not routable at all; the proxy says why to callers who may ask
