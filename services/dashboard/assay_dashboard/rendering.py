"""Server-side rendering: Jinja2 templates beside this module, autoescaped, with the branding and
the helpers every page uses; and the headers every page is sent with."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from assay_common.service import distribution_version
from assay_dashboard.whitelabel import WhitelabelSettings

TEMPLATES = Path(__file__).parent / "templates"
VERSION = distribution_version("assay-dashboard")


class Rendering:
    def __init__(self, whitelabel: WhitelabelSettings, version: str = VERSION) -> None:
        self.whitelabel = whitelabel
        self.version = version
        self.environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(("html",), default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.environment.globals.update(brand=whitelabel, version=version, asset=self.asset)
        self.headers = {
            "content-security-policy": whitelabel.content_security_policy(),
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "cache-control": "no-store",
        }

    def asset(self, name: str) -> str:
        """The URL of a static file, versioned so that a new release is fetched anew."""
        return f"/static/{name}?v={self.version}"

    def render(self, template: str, request: Request | None = None, **values: Any) -> str:
        """`template` with `values`, the request's path and query, and the branding."""
        context: dict[str, Any] = {"path": "", "query": {}, "path_params": {}}
        if request is not None:
            context.update(
                path=request.url.path,
                query=dict(request.query_params),
                path_params=dict(request.path_params),
                namespace=request.query_params.get("namespace") or self.whitelabel.default_namespace,
            )
        context.setdefault("namespace", self.whitelabel.default_namespace)
        return self.environment.get_template(template).render({**context, **values})

    def html(
        self, body: str, status_code: int = 200, headers: Mapping[str, str] | None = None
    ) -> HTMLResponse:
        return HTMLResponse(body, status_code=status_code, headers={**self.headers, **(headers or {})})
