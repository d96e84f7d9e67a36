"""The status page at `/`: served by the dashboard through the gateway, self-contained, escaped."""

from __future__ import annotations

import re

from assay_dashboard.pages import render
from tests.conftest import Stack


async def test_status_page_is_served_through_the_gateway(stack: Stack) -> None:
    response = await stack.client.get("/")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="services"' in response.text
    assert 'id="events"' in response.text
    assert "Assay dashboard 0." in response.text


async def test_status_page_uses_only_assets_of_its_own_origin(stack: Stack) -> None:
    response = await stack.client.get("/")

    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src" not in policy and "unsafe-inline" not in policy
    assert "<script>" not in response.text and "style=" not in response.text
    references = re.findall(r'(?:src|href)="([^"]+)"', response.text)
    assert "/static/status.js" in references
    for reference in references:
        assert reference.startswith("/") and not reference.startswith("//"), reference
        asset = await stack.client.get(reference)
        assert asset.status_code == 200, reference


async def test_status_script_reads_health_and_version_from_the_same_origin(stack: Stack) -> None:
    script = (await stack.client.get("/static/status.js")).text

    assert '"/api/v1/health"' in script
    assert '"/api/v1/version"' in script
    assert '"/api/v1/events/stream"' in script
    assert "innerHTML" not in script
    assert not re.search(r"https?://", script)


async def test_the_data_the_page_reads_is_there(stack: Stack) -> None:
    health = (await stack.client.get("/api/v1/health")).json()
    versions = (await stack.client.get("/api/v1/version")).json()

    assert set(health["services"]) == set(versions["services"])
    assert all({"status", "latency_ms"} <= set(s) for s in health["services"].values())


async def test_an_unknown_static_file_is_404(stack: Stack) -> None:
    response = await stack.client.get("/static/secret.txt")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_rendered_values_are_escaped() -> None:
    html = render("status.html", version='<script>alert("x")</script>')

    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html
