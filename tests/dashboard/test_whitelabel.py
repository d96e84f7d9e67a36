"""Branding (`ASSAY_WHITELABEL_*`): every value escaped where pages show it, URLs and the accent
checked, and the pages' policy opened for exactly the branding's own origins."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from assay_common.internal_auth import Principal
from assay_dashboard.console import NavGroup, Viewer
from assay_dashboard.consoles import declared
from assay_dashboard.rendering import Rendering
from assay_dashboard.whitelabel import WhitelabelSettings, is_css_colour

HOSTILE = '<img src=x onerror="alert(1)">'


def render_every_page(whitelabel: WhitelabelSettings) -> dict[str, str]:
    rendering = Rendering(whitelabel)
    pages = declared().pages
    viewer = Viewer(Principal(id="u", kind="user"), [NavGroup("Auth", [p for p in pages if p.nav == "Auth"])])
    return {
        page.path: rendering.render(
            page.template,
            page=page,
            viewer=viewer,
            path_params={name: "example" for name in re.findall(r"\{([a-z_]+)\}", page.path)},
        )
        for page in pages
    }


def test_every_branding_value_is_escaped_on_every_page() -> None:
    whitelabel = WhitelabelSettings(
        name=HOSTILE, subtitle=HOSTILE, page_title=HOSTILE, parent_name=HOSTILE, parent_url="/home?a=1&b=2"
    )

    for path, html in render_every_page(whitelabel).items():
        assert "<img src=x" not in html, path
        assert 'onerror="alert' not in html, path
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html, path
        assert 'href="/home?a=1&amp;b=2"' in html, path


def test_the_defaults_show_the_assay_brand() -> None:
    whitelabel = WhitelabelSettings()
    html = render_every_page(whitelabel)["/"]

    assert whitelabel.brand_mark == "A" and whitelabel.default_namespace == "main"
    assert "<title>Overview · Assay</title>" in html
    assert '<span class="brand-mark" aria-hidden="true">A</span>' in html
    assert 'href="/api/v1/docs"' in html and "/theme.css" not in html and "parent-link" not in html


def test_the_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_WHITELABEL_NAME", "Acme Ops")
    monkeypatch.setenv("ASSAY_WHITELABEL_DEFAULT_THEME", "sepia")
    monkeypatch.setenv("ASSAY_WHITELABEL_ACCENT", "#0a7d5a")
    monkeypatch.setenv("ASSAY_WHITELABEL_API_DOCS_URL", "")

    whitelabel = WhitelabelSettings()
    html = render_every_page(whitelabel)["/"]

    assert whitelabel.name == "Acme Ops" and whitelabel.brand_mark == "A"
    assert whitelabel.default_theme == "auto"  # a theme it does not know follows the system
    assert '<link rel="stylesheet" href="/theme.css?v=' in html
    assert "API reference" not in html
    assert "Powered by Assay" in html
    assert whitelabel.accent_stylesheet() == (
        ":root {\n  --accent: #0a7d5a;\n  --accent-strong: #0a7d5a;\n  --on-accent: #ffffff;\n}\n"
    )
    # Text on a light accent is dark; on an accent that is not hex, the theme's own stays.
    assert "--on-accent: #0d1117;" in WhitelabelSettings(accent="#ffd166").accent_stylesheet()
    assert "--on-accent" not in WhitelabelSettings(accent="teal").accent_stylesheet()


@pytest.mark.parametrize(
    "colour", ["#e6662a", "#fff", "#11223344", "rgb(230 102 42)", "hsl(20, 80%, 53%)", "teal"]
)
def test_css_colours_are_accepted(colour: str) -> None:
    assert is_css_colour(colour)
    assert WhitelabelSettings(accent=colour).accent == colour


@pytest.mark.parametrize(
    "accent",
    [
        "red; } body { display: none",
        "#12345",
        "url(https://x.example/a.png)",
        "expression(alert(1))",
        "red</style>",
    ],
)
def test_anything_but_a_colour_is_refused_as_the_accent(accent: str) -> None:
    with pytest.raises(ValidationError, match="must be a CSS colour"):
        WhitelabelSettings(accent=accent)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "//evil.example/logo.png",
        "http://plain.example/logo.png",
        "logo.png",
        "data:image/png;base64,AA==",
    ],
)
def test_branding_urls_are_same_origin_paths_or_https(url: str) -> None:
    with pytest.raises(ValidationError, match="must be a path on this site"):
        WhitelabelSettings(logo_url=url)


def test_the_policy_allows_exactly_the_branding_origins() -> None:
    same_origin = WhitelabelSettings(logo_url="/brand/logo.svg", css_url="/brand/site.css")
    external = WhitelabelSettings(
        logo_url="https://img.example.com/logo.svg",
        favicon_url="https://img.example.com/favicon.ico",
        css_url="https://style.example.com/site.css",
    )

    assert same_origin.content_security_policy() == (
        "default-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )
    policy = external.content_security_policy()
    assert "img-src 'self' data: https://img.example.com;" in policy
    assert "style-src 'self' https://style.example.com;" in policy
    assert "script-src" not in policy and "unsafe-inline" not in policy
    html = render_every_page(external)["/"]
    assert '<link rel="stylesheet" href="https://style.example.com/site.css">' in html
    assert '<link rel="icon" href="https://img.example.com/favicon.ico">' in html
