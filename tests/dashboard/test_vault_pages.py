"""The vault console's pages through the gateway: an administrator gets each page with the
console's landmarks, its own sections and its script; a visitor who is not signed in is sent to
sign in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import Stack

#: Each page, what only it holds, and its script.
VAULT_PAGES = {
    "/vault/seal": ('id="seal-status"', "js/pages/vault/seal.js"),
    "/vault/kv": ('id="breadcrumbs"', "js/pages/vault/kv.js"),
    "/vault/transit": ('id="keys"', "js/pages/vault/transit.js"),
    "/vault/audit": ('id="sink-form"', "js/pages/vault/audit.js"),
}
LANDMARKS = (
    '<header class="topbar"',
    '<nav id="sidebar"',
    '<main id="main"',
    'id="page-error" class="page-error" role="alert"',
)


@pytest.mark.parametrize("path", list(VAULT_PAGES))
async def test_an_administrator_opens_each_vault_page(admin_browser: httpx.AsyncClient, path: str) -> None:
    response = await admin_browser.get(path)

    assert response.status_code == 200, response.text
    html = response.text
    for landmark in LANDMARKS:
        assert landmark in html, (path, landmark)
    marker, script = VAULT_PAGES[path]
    assert marker in html and script in html
    assert f'<a class="nav-link" href="{path}" aria-current="page">' in html


async def test_the_kv_and_transit_pages_keep_the_mount_of_the_link(admin_browser: httpx.AsyncClient) -> None:
    kv = await admin_browser.get("/vault/kv", params={"mount": "team-kv", "path": "app/db"})
    transit = await admin_browser.get("/vault/transit", params={"mount": "team-transit"})

    assert kv.status_code == 200 and '<option value="team-kv" selected>team-kv</option>' in kv.text
    assert transit.status_code == 200 and '<option value="team-transit" selected>' in transit.text


@pytest.mark.parametrize("path", list(VAULT_PAGES))
async def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(stack: Stack, path: str) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as anonymous:
        response = await anonymous.get(path, params={"mount": "secret"})

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["return_to"] == [f"{path}?mount=secret"]
