"""The set-password page at `/account/password`: served to anyone through the gateway,
self-contained, and the reset it performs works end to end."""

from __future__ import annotations

import re

import httpx

from assay_common.events.schemas.auth import open_recovery_delivery
from tests.auth.test_http_recovery import recovery_events
from tests.auth_api import RECOVERY_KEY, AuthApi, email
from tests.conftest import Stack
from tests.support import eventually

NEW_PASSWORD = "a brand new passphrase to remember"


async def reset(client: httpx.AsyncClient, token: str, new_password: str) -> httpx.Response:
    """The request the page's script makes."""
    return await client.post(
        "/api/v1/auth/password/reset",
        json={"token": token, "new_password": new_password},
        headers={"accept": "application/json, application/problem+json"},
    )


async def recovery_token(stack: Stack, client: httpx.AsyncClient, address: str, user_id: str) -> str:
    """The token the recovery mail would link to, asked for as the user would."""
    asked = await client.post("/api/v1/auth/password/recovery", json={"email": address})
    assert asked.status_code == 202, asked.text

    async def issued() -> bool:
        return len(await recovery_events(stack, user_id)) == 1

    await eventually(issued, what="the recovery event on the events stream")
    [event] = await recovery_events(stack, user_id)
    return open_recovery_delivery(RECOVERY_KEY, event["data"]["sealed"]).token


async def test_the_page_is_served_to_anonymous_visitors(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/account/password")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    html = response.text
    assert 'id="password-form"' in html and 'id="message"' in html and 'aria-live="polite"' in html
    assert html.count('autocomplete="new-password"') == 2
    for field in ("new-password", "repeat-password"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    # Without the script nothing can be sent, and the fields carry no names to end up in a URL.
    assert '<fieldset id="fields" disabled>' in html
    assert " name=" not in html.split("<form", 1)[1].split("</form>", 1)[0]


async def test_the_page_uses_only_assets_of_its_own_origin(anonymous: httpx.AsyncClient) -> None:
    response = await anonymous.get("/account/password")

    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "form-action 'self'" in policy
    assert "script-src" not in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.text and "style=" not in response.text
    assert "<style" not in response.text and not re.search(r"\son[a-z]+=", response.text)
    references = re.findall(r'(?:src|href)="([^"#]+)"', response.text)
    paths = {reference.split("?")[0] for reference in references}
    assert "/static/js/pages/password.js" in paths and "/static/dashboard.css" in paths
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        asset = await anonymous.get(reference)
        assert asset.status_code == 200, reference


async def test_the_script_reads_the_fragment_and_posts_to_the_reset_route(
    anonymous: httpx.AsyncClient,
) -> None:
    script = (await anonymous.get("/static/js/pages/password.js")).text

    assert '"/api/v1/auth/password/reset"' in script
    assert "location.hash" in script and "history.replaceState" in script
    assert "token: token, new_password: password.value" in script
    assert '"invalid_recovery_token"' in script and "problem.detail" in script
    assert "You can now sign in with your new password" in script
    assert not re.search(r"\bconsole\.\w+\(", script) and "innerHTML" not in script
    assert not re.search(r"https?://", script)


async def test_the_reset_the_page_makes_sets_the_password(
    stack: Stack, auth_api: AuthApi, anonymous: httpx.AsyncClient, unique: str
) -> None:
    # Like the first administrator: an account without a password yet.
    address = email(unique)
    user = await auth_api.create_user(address, password=None, email_verified=True)
    token = await recovery_token(stack, anonymous, address, user["id"])

    weak = await reset(anonymous, token, "short")
    assert weak.status_code == 422 and weak.headers["content-type"] == "application/problem+json"
    assert weak.json()["code"] == "weak_password" and weak.json()["detail"]

    done = await reset(anonymous, token, NEW_PASSWORD)
    assert done.status_code == 204, done.text

    login = await anonymous.post("/api/v1/auth/login", json={"email": address, "password": NEW_PASSWORD})
    assert login.status_code == 200, login.text
    assert login.json()["user"]["id"] == user["id"]

    again = await reset(anonymous, token, "yet another passphrase")
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_recovery_token"


async def test_a_bad_token_gets_a_problem_the_page_can_show(anonymous: httpx.AsyncClient) -> None:
    response = await reset(anonymous, "not-a-token", NEW_PASSWORD)

    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_recovery_token"
    assert problem["title"] and problem["detail"]


async def test_a_malformed_request_gets_field_errors_the_page_can_show(anonymous: httpx.AsyncClient) -> None:
    response = await reset(anonymous, "", "")

    assert response.status_code == 422
    problem = response.json()
    assert problem["detail"]
    assert {tuple(e["location"]) for e in problem["errors"]} == {("body", "token"), ("body", "new_password")}
