"""Server-side rendering of the console's pages from the templates beside this module."""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from string import Template

TEMPLATES = Path(__file__).parent / "templates"


@cache
def _template(name: str) -> Template:
    return Template((TEMPLATES / name).read_text())


def render(name: str, **values: str) -> str:
    """The template `name` with `$key` placeholders replaced by HTML-escaped values."""
    return _template(name).substitute({key: html.escape(value) for key, value in values.items()})
