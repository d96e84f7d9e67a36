"""The console's pages through the gateway: who may open which page, what the navigation lists,
sign-in redirects, and that every page loads only what its Content-Security-Policy allows."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from assay_dashboard.consoles import declared
from tests.conftest import Stack

#: Every page the console declares, a path parameter filled in with a sample value (the page is a
#: shell whose script asks for the data: it renders whatever the value).
PAGES = [re.sub(r"\{[a-z_]+\}", "example", page.path) for page in declared().pages]
NAV_LINK = re.compile(r'<a class="nav-link[^"]*" href="([^"]+)"')


def nav_links(html: str) -> set[str]:
    sidebar = html.split('<nav id="sidebar"', 1)[1].split("</nav>", 1)[0]
    return set(NAV_LINK.findall(sidebar))


async def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in_and_back(
    anonymous: httpx.AsyncClient,
) -> None:
    response = await anonymous.get("/workflows", params={"namespace": "payments", "status": "FAILED"})

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login" and not location.netloc
    assert parse_qs(location.query)["return_to"] == ["/workflows?namespace=payments&status=FAILED"]
    assert (await anonymous.get("/")).headers["location"] == "/login?return_to=/"


async def test_the_sign_in_pages_are_served_to_anyone(anonymous: httpx.AsyncClient) -> None:
    for path in ("/login", "/recovery", "/setup", "/logout", "/consent", "/account/password"):
        response = await anonymous.get(path)
        assert response.status_code == 200, path
        assert 'id="sidebar"' not in response.text, path


async def test_an_administrator_sees_every_console_and_opens_the_auth_pages(
    admin_browser: httpx.AsyncClient,
) -> None:
    overview = await admin_browser.get("/")

    assert overview.status_code == 200
    links = nav_links(overview.text)
    assert {"/", "/workflows", "/schedules", "/namespaces", "/auth/users", "/auth/audit"} <= links
    assert {"/vault/seal", "/vault/kv", "/vault/transit", "/vault/audit", "/settings"} <= links
    assert 'id="sign-out"' in overview.text and 'href="/account"' in overview.text
    users = await admin_browser.get("/auth/users")
    assert users.status_code == 200
    assert '<a class="nav-link" href="/auth/users" aria-current="page">' in users.text


async def test_a_user_without_grants_sees_only_what_they_may_open(user_browser: httpx.AsyncClient) -> None:
    overview = await user_browser.get("/")

    assert overview.status_code == 200
    links = nav_links(overview.text)
    assert "/" in links and "/namespaces" in links and "/vault/seal" in links
    assert not links & {"/workflows", "/auth/users", "/auth/sessions", "/vault/audit", "/settings"}
    for path, needed in (
        ("/auth/users", "platform:assay#administer"),
        ("/workflows", "namespace:main#view"),
        ("/workflows?namespace=payments", "namespace:payments#view"),
    ):
        refused = await user_browser.get(path)
        assert refused.status_code == 403, path
        assert refused.headers["content-type"].startswith("text/html")
        assert f"<code>{needed}</code>" in refused.text
        assert "You cannot open" in refused.text


async def test_the_account_page_needs_a_session_and_shows_the_account_menu(
    user_browser: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    assert (await anonymous.get("/account")).status_code == 303
    page = await user_browser.get("/account")

    assert page.status_code == 200
    for section in ('id="sessions"', 'id="passkeys"', 'id="api-keys"', 'id="change-password"'):
        assert section in page.text


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_loads_only_assets_of_its_own_origin(stack: Stack, path: str) -> None:
    response = await stack.client.get(path)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    html = response.text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert "<style" not in html and " style=" not in html and not re.search(r"\son[a-z]+=", html)
    references = re.findall(r'(?:src|href)="([^"#]*)"', html)
    assert references
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        if reference.startswith("/api/"):
            continue  # API links (the reference, the event catalogue) are not assets
        if not reference.startswith("/static/"):
            assert reference.split("?")[0] in PAGES, reference
            continue
        asset = await stack.client.get(reference)
        assert asset.status_code == 200, reference


async def test_every_script_and_its_imports_load_as_javascript(stack: Stack) -> None:
    seen: set[str] = set()
    pending = {
        reference
        for path in PAGES
        for reference in re.findall(r'<script[^>]* src="([^"]+)"', (await stack.client.get(path)).text)
    }
    while pending:
        reference = pending.pop()
        url = reference.split("?")[0]
        if url in seen:
            continue
        seen.add(url)
        script = await stack.client.get(url)
        assert script.status_code == 200, url
        assert script.headers["content-type"].startswith("text/javascript"), url
        assert "innerHTML" not in script.text and "eval(" not in script.text, url
        assert not re.search(r"https?://", script.text), url
        base = url.rsplit("/", 1)[0]
        for imported in re.findall(r'from "(\.{1,2}/[^"]+)"', script.text):
            pending.add(str(httpx.URL(f"{stack.url}{base}/").join(imported).path))
    assert {"/static/js/api.js", "/static/js/live.js", "/static/js/dom.js", "/static/js/layout.js"} <= seen


async def test_static_files_are_only_those_of_the_console(stack: Stack) -> None:
    for path in ("/static/secret.txt", "/static/js/nothing.js", "/static/templates/layout.html"):
        response = await stack.client.get(path)
        assert response.status_code == 404, path
        assert response.json()["code"] == "not_found"


async def test_text_is_sent_compressed_to_a_browser_that_takes_it(anonymous: httpx.AsyncClient) -> None:
    for path in ("/login", "/static/dashboard.css", "/static/js/dom.js"):
        compressed = await anonymous.get(path, headers={"accept-encoding": "gzip"})
        plain = await anonymous.get(path, headers={"accept-encoding": "identity"})
        assert compressed.headers["content-encoding"] == "gzip", path
        assert "content-encoding" not in plain.headers, path
        assert compressed.text == plain.text  # httpx decoded it
        assert int(compressed.headers["content-length"]) < len(plain.content) / 2, path


async def test_a_static_file_the_browser_holds_is_not_sent_again(anonymous: httpx.AsyncClient) -> None:
    first = await anonymous.get("/static/js/live.js")
    again = await anonymous.get("/static/js/live.js", headers={"if-none-match": first.headers["etag"]})
    stale = await anonymous.get("/static/js/live.js", headers={"if-none-match": '"another"'})

    assert (first.status_code, first.headers["cache-control"]) == (200, "no-cache")
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", first.headers["etag"])
    assert stale.status_code == 200 and stale.content == first.content


async def test_the_theme_stylesheet_is_empty_without_an_accent(stack: Stack) -> None:
    response = await stack.client.get("/theme.css")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert response.text == ""


async def test_the_workflows_page_names_its_namespace_and_filters(stack: Stack, unique: str) -> None:
    page = await stack.client.get("/workflows", params={"namespace": unique, "status": "FAILED"})

    assert page.status_code == 200
    assert f'data-namespace="{unique}"' in page.text
    assert f'<option value="{unique}" selected>{unique}</option>' in page.text
    assert '<option value="FAILED" selected>' in page.text


async def test_query_values_shown_on_pages_are_escaped(stack: Stack) -> None:
    hostile = '"><script>alert(1)</script>'
    consent = await stack.client.get(
        "/consent", params={"client_name": hostile, "scope": f"openid {hostile}", "challenge": hostile}
    )
    login = await stack.client.get("/login", params={"return_to": hostile})

    for page in (consent, login):
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert '<input type="hidden" name="challenge" value="&#34;&gt;&lt;script&gt;' in consent.text
    assert '<form id="consent-form" class="form" method="post" action="/oauth2/consent">' in consent.text
