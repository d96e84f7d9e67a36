"""Branding of the console: `ASSAY_WHITELABEL_*` settings (docs/dashboard.md#whitelabel).

Every value reaches pages only through the templates, which escape it. The accent colour is
checked to be a CSS colour and reaches pages through a generated stylesheet (`/theme.css`), since
the pages' Content-Security-Policy allows no inline style. Logo, favicon and extra stylesheet are
same-origin paths or https URLs; the origin of an https one is added to the pages' policy, for that
kind of resource only.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assay_common.permission_checks import OBJECT_ID

Theme = Literal["light", "dark", "auto"]

#: `#rgb`, `#rgba`, `#rrggbb`, `#rrggbbaa`.
_HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")
#: `rgb(…)`, `rgba(…)`, `hsl(…)`, `hsla(…)`, `oklch(…)`, …: numbers, percentages, angles only.
_FUNCTION_COLOUR = re.compile(
    r"(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch)\(\s*[0-9.+\-]+(?:%|deg|turn|rad)?"
    r"(?:\s*[,/]?\s*[0-9.+\-]+(?:%|deg|turn|rad)?){2,3}\s*\)"
)
#: A named colour (`rebeccapurple`): letters only.
_NAMED_COLOUR = re.compile(r"[a-zA-Z]{3,20}")


def is_css_colour(text: str) -> bool:
    """Whether `text` is one CSS colour and nothing else (so it cannot end the declaration)."""
    return any(pattern.fullmatch(text) for pattern in (_HEX_COLOUR, _FUNCTION_COLOUR, _NAMED_COLOUR))


#: Text on the accent: one of these, whichever contrasts more with it.
_LIGHT_TEXT, _DARK_TEXT = "#ffffff", "#0d1117"


def _luminance(hex_colour: str) -> float:
    """WCAG 2 relative luminance of `#rgb[a]` or `#rrggbb[aa]` (alpha ignored)."""
    digits = hex_colour[1:]
    if len(digits) in (3, 4):
        digits = "".join(d * 2 for d in digits[:3])
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def text_colour_on(background: str) -> str:
    """White or near-black, whichever reads better on the hex colour `background`."""
    light, dark = contrast_ratio(background, _LIGHT_TEXT), contrast_ratio(background, _DARK_TEXT)
    return _LIGHT_TEXT if light >= dark else _DARK_TEXT


def checked_url(text: str) -> str:
    """A same-origin path (`/brand/logo.svg`) or an https URL; anything else (another scheme, a
    protocol-relative `//host`, a relative path) is refused."""
    if text.startswith("/") and not text.startswith(("//", "/\\")):
        return text
    parts = urlsplit(text)
    if parts.scheme == "https" and parts.hostname and not parts.username and not parts.password:
        return text
    raise ValueError("must be a path on this site (/…) or an https:// URL")


def origin_of(url: str | None) -> str | None:
    """The origin an https URL loads from; None for a same-origin path or no URL."""
    if not url or url.startswith("/"):
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class WhitelabelSettings(BaseSettings):
    """How the console presents itself (env prefix `ASSAY_WHITELABEL_`)."""

    model_config = SettingsConfigDict(env_prefix="ASSAY_WHITELABEL_", extra="ignore")

    name: str = Field(default="Assay", min_length=1, max_length=80, description="Brand name")
    mark: str = Field(
        default="", max_length=3, description="Badge glyph; default: the name's first character, upper-cased"
    )
    subtitle: str = Field(
        default="Console", max_length=120, description="Line under the name; empty hides it"
    )
    logo_url: str | None = Field(default=None, description="Logo image, in place of the mark")
    page_title: str = Field(
        default="", max_length=120, description="Suffix of every page's title; default: the name"
    )
    parent_url: str | None = Field(
        default=None, description="A link back to the site that embeds the console"
    )
    parent_name: str = Field(default="Back", max_length=80, description="The text of that link")
    api_docs_url: str = Field(default="/api/v1/docs", description="The API reference link; empty hides it")
    css_url: str | None = Field(
        default=None, description="An extra stylesheet, loaded after the console's own"
    )
    favicon_url: str | None = Field(default=None, description="The favicon; default: the built-in one")
    default_namespace: str = Field(default="main", description="The namespace the console opens on")
    default_theme: Theme = Field(default="auto", description="light, dark or auto (the system's)")
    accent: str | None = Field(default=None, description="Accent colour (a CSS colour)")

    @field_validator("logo_url", "css_url", "favicon_url", "parent_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return checked_url(value) if value else None

    @field_validator("api_docs_url")
    @classmethod
    def _docs_url(cls, value: str) -> str:
        return checked_url(value) if value else ""

    @field_validator("accent")
    @classmethod
    def _accent(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not is_css_colour(value.strip()):
            raise ValueError("must be a CSS colour: #e6662a, rgb(230 102 42), hsl(…) or a colour name")
        return value.strip()

    @field_validator("default_theme", mode="before")
    @classmethod
    def _theme(cls, value: object) -> object:
        # As the original console: a theme it does not know follows the system.
        return value if value in ("light", "dark", "auto") else "auto"

    @field_validator("default_namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not OBJECT_ID.fullmatch(value):
            raise ValueError("must be a namespace name")
        return value

    @property
    def brand_mark(self) -> str:
        return self.mark or self.name[:1].upper()

    @property
    def title_suffix(self) -> str:
        return self.page_title or self.name

    def content_security_policy(self) -> str:
        """The pages' policy: this origin only, plus the origins of the branding's own URLs."""
        images = " ".join(
            dict.fromkeys(o for o in (origin_of(self.logo_url), origin_of(self.favicon_url)) if o)
        )
        styles = origin_of(self.css_url)
        policy = ["default-src 'self'", f"img-src 'self' data: {images}".rstrip()]
        if styles:
            policy.append(f"style-src 'self' {styles}")
        policy += ["frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]
        return "; ".join(policy)

    def accent_stylesheet(self) -> str:
        """`/theme.css`: the accent as the console's tokens (empty without an accent). For a hex
        accent, text on it is white or near-black, whichever contrasts more (WCAG ratio)."""
        if self.accent is None:
            return ""
        tokens = [f"--accent: {self.accent};", f"--accent-strong: {self.accent};"]
        if _HEX_COLOUR.fullmatch(self.accent):
            tokens.append(f"--on-accent: {text_colour_on(self.accent)};")
        return ":root {\n" + "".join(f"  {token}\n" for token in tokens) + "}\n"
