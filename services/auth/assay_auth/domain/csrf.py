"""CSRF protection for browser sessions: the double-submit check.

At sign-in the browser receives two cookies: `assay_session` (HttpOnly: scripts cannot read it) and
`assay_csrf` (readable by the page's own scripts). A page that changes something sends the value
of `assay_csrf` back in the `X-CSRF-Token` header. Another site can make the browser send the
cookies, but it can neither read them nor set the header, so a request whose header does not
match its cookie did not come from Assay's own pages.

The token is also bound to its session (the session stores its digest), so a cookie planted by
someone who can write cookies for the domain, without knowing the victim's session, does not pass.
"""

from __future__ import annotations

import hmac

from assay_auth.domain.tokens import digest

CSRF_COOKIE = "assay_csrf"
CSRF_HEADER = "X-CSRF-Token"


def csrf_ok(
    cookie_value: str | None, header_value: str | None, *, session_csrf_hash: str | None = None
) -> bool:
    """True when the header repeats the cookie (and, given the session's CSRF digest, the token
    is that session's). Comparisons take the same time wherever the values differ."""
    if not cookie_value or not header_value:
        return False
    same = hmac.compare_digest(cookie_value.encode(), header_value.encode())
    if session_csrf_hash is None:
        return same
    bound = hmac.compare_digest(digest(header_value).encode(), session_csrf_hash.encode())
    return same and bound
