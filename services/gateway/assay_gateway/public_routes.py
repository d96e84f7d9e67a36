"""The routes a caller without credentials may reach (ARCHITECTURE §5).

The one list is the route table's `public` rows (`assay_common.route_permissions`), plus the
console's pages and assets (whatever the routing table sends to the dashboard): a page is only a
shell, and the data it shows comes from API routes that need credentials. Every other route
answers an anonymous caller 401. This module only adds which public routes are for signing in.
"""

from __future__ import annotations

from assay_common.errors import AssayError
from assay_common.route_permissions import RoutePermission
from assay_gateway.routing import route_for

#: Signing in and recovering an account (public rows of the table). Credentials are not even
#: looked at here, so a stale cookie never keeps a browser from signing in again.
SIGN_IN = frozenset(
    {
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/password/recovery"),
        ("POST", "/api/v1/auth/password/reset"),
        ("POST", "/api/v1/auth/passkeys/authentication/options"),
        ("POST", "/api/v1/auth/passkeys/authentication"),
    }
)


def is_sign_in(row: RoutePermission) -> bool:
    return (row.method, row.path) in SIGN_IN


def is_public(method: str, path: str) -> bool:
    """Whether an anonymous caller may reach `method path` (percent-decoded, as routed)."""
    try:
        found = route_for(method, path)
    except AssayError:
        return False  # not a route at all; the gateway says why to whoever asks
    return found is None or found[0].access == "public"
