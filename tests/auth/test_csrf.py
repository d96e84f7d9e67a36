"""The double-submit CSRF check the gateway applies to cookie-authenticated changes."""

from __future__ import annotations

import pytest

from assay_auth.domain.csrf import csrf_ok
from assay_auth.domain.tokens import digest, new_secret

TOKEN = new_secret()


def test_header_repeating_the_cookie_passes() -> None:
    assert csrf_ok(TOKEN, TOKEN)
    assert csrf_ok(TOKEN, TOKEN, session_csrf_hash=digest(TOKEN))


@pytest.mark.parametrize(
    ("cookie", "header"),
    [(TOKEN, None), (None, TOKEN), ("", ""), (TOKEN, TOKEN[:-1] + "x"), (TOKEN, TOKEN + "x")],
    ids=["no-header", "no-cookie", "empty", "different", "longer"],
)
def test_missing_or_mismatched_values_fail(cookie: str | None, header: str | None) -> None:
    assert not csrf_ok(cookie, header)


def test_a_planted_pair_not_bound_to_the_session_fails() -> None:
    planted = new_secret()
    assert csrf_ok(planted, planted)
    assert not csrf_ok(planted, planted, session_csrf_hash=digest(TOKEN))
