"""The auth console's pages through the gateway: an administrator opens each with its landmarks and
script; a signed-in user without the role gets 403 and no Auth navigation; a visitor is sent to
sign in."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.conftest import Stack
from tests.dashboard.conftest import SignedIn

#: Each page of the auth console with what only it has: its script and the element it fills.
PAGES = {
    "/auth/users": ("pages/auth/users.js", 'id="user-search"'),
    "/auth/sessions": ("pages/auth/sessions.js", 'id="user-filter"'),
    "/auth/api-keys": ("pages/auth/api-keys.js", 'id="new-key-secret"'),
    "/auth/permissions": ("pages/auth/permissions.js", 'id="schema"'),
    "/auth/keys": ("pages/auth/keys.js", 'id="root-keys"'),
    "/auth/audit": ("pages/auth/audit.js", 'id="audit-filters"'),
}
LANDMARKS = ('<header class="topbar">', '<nav id="sidebar"', '<main id="main"', '<h1 id="page-title">')


def sidebar(html: str) -> str:
    return html.split('<nav id="sidebar"', 1)[1].split("</nav>", 1)[0]


async def test_an_administrator_opens_every_auth_page(admin_session: SignedIn) -> None:
    client, user_id = admin_session.client, admin_session.user_id
    for path, (script, content) in {**PAGES, f"/auth/users/{user_id}": ("pages/auth/user.js", "")}.items():
        response = await client.get(path)

        assert response.status_code == 200, path
        html = response.text
        for landmark in LANDMARKS:
            assert landmark in html, (path, landmark)
        assert re.search(
            rf'<script type="module" src="/static/js/{re.escape(script)}\?v=[^"]+"></script>', html
        ), path
        assert content in html, path
        links = sidebar(html)
        assert 'class="nav-heading">Auth</h2>' in links, path
        assert all(f'href="{listed}"' in links for listed in PAGES), path


async def test_the_user_page_carries_the_user_id_escaped(admin_session: SignedIn) -> None:
    client, user_id = admin_session.client, admin_session.user_id
    page = await client.get(f"/auth/users/{user_id}")
    hostile = await client.get('/auth/users/"><b>x')

    assert f'data-user-id="{user_id}"' in page.text
    assert hostile.status_code == 200
    assert 'data-user-id="&#34;&gt;&lt;b&gt;x"' in hostile.text


async def test_a_user_without_the_role_is_refused_and_sees_no_auth_navigation(
    user_browser: httpx.AsyncClient, admin_session: SignedIn
) -> None:
    admin_id = admin_session.user_id
    for path in [*PAGES, f"/auth/users/{admin_id}"]:
        response = await user_browser.get(path)

        assert response.status_code == 403, path
        assert "<code>platform:assay#administer</code>" in response.text, path
        links = sidebar(response.text)
        assert ">Auth<" not in links and 'href="/auth/' not in links, path


async def test_a_visitor_is_sent_to_sign_in(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.url, timeout=30) as anonymous:
        for path in [*PAGES, "/auth/users/0b7c3a56-0000-4000-8000-000000000000"]:
            response = await anonymous.get(path, params={"search": "ann"})

            assert response.status_code == 303, path
            location = urlsplit(response.headers["location"])
            assert location.path == "/login", path
            assert parse_qs(location.query)["return_to"] == [f"{path}?search=ann"], path
