"""The overview at `/`: the platform's status through the gateway, and the scripts every page
builds on (API calls, live events, sign-in)."""

from __future__ import annotations

import re

from tests.conftest import Stack


async def test_the_overview_is_served_through_the_gateway(stack: Stack) -> None:
    response = await stack.client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="services"' in response.text
    assert 'id="events"' in response.text
    assert 'id="connection"' in response.text and 'aria-live="polite"' in response.text
    assert "/static/js/pages/overview.js?v=0." in response.text
    assert "Assay console 0." in response.text


async def test_the_overview_reads_health_version_and_events_from_the_same_origin(stack: Stack) -> None:
    overview = (await stack.client.get("/static/js/pages/overview.js")).text
    live = (await stack.client.get("/static/js/live.js")).text

    assert '"/api/v1/health"' in overview and '"/api/v1/version"' in overview
    assert 'from "../live.js"' in overview
    assert '"/api/v1/events/stream"' in live and '"/api/v1/events/types"' in live
    # Resuming: EventSource's own Last-Event-ID, a cursor on a manual reconnect, a resync on 410.
    assert '"last_event_id"' in live and "status === 410" in live and 'resync("expired")' in live


async def test_api_calls_send_the_csrf_header_and_read_problems(stack: Stack) -> None:
    script = (await stack.client.get("/static/js/api.js")).text

    assert 'CSRF_COOKIE = "assay_csrf"' in script and 'CSRF_HEADER = "X-CSRF-Token"' in script
    assert 'credentials: "same-origin"' in script
    assert "class ApiError" in script and "problem.detail" in script and "problem.code" in script


async def test_signing_in_goes_back_only_to_this_origin(stack: Stack) -> None:
    login = (await stack.client.get("/static/js/pages/login.js")).text
    dom = (await stack.client.get("/static/js/dom.js")).text

    assert '"Email or password is incorrect."' in login
    assert "sameOriginPath(form.dataset.returnTo)" in login
    assert '"/api/v1/auth/passkeys/authentication/options"' in login
    assert '"/api/v1/auth/setup"' in login
    assert 'value.startsWith("//")' in dom and "url.origin === window.location.origin" in dom


async def test_the_theme_is_applied_before_the_page_paints(stack: Stack) -> None:
    page = (await stack.client.get("/")).text
    head = page.split("</head>", 1)[0]

    # A classic (blocking) script in <head>, before the stylesheet: no flash of the wrong theme.
    init = re.search(r'<script src="(/static/js/theme-init\.js[^"]*)"></script>', head)
    assert init is not None and head.index("theme-init.js") < head.index("dashboard.css")
    script = (await stack.client.get(init.group(1))).text
    assert '"assay-theme"' in script and "data-default-theme" in script
    assert 'data-default-theme="auto"' in page


async def test_an_unknown_static_file_is_404(stack: Stack) -> None:
    response = await stack.client.get("/static/secret.txt")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
