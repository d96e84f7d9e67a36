"""The console's pages: each declares its path, template, title, navigation entry, what the viewer
needs and its script, with `page(...)`; the dashboard serves every declared page (`router`).

A page's `needs` is written as a row of the route permission table (`assay_common.route_permissions`):
`public`, `signed_in`, or a permission whose object may come from the page's path or query
(`namespace:{query.namespace}#view`). The console's namespace (`?namespace=`, else the whitelabel
default) is always in the query the needs are read from, so a page of a namespace is checked on the
namespace it shows. Navigation lists only the pages the viewer may open; opening one they may not
answers 403 with a page that says what is missing; a page that needs more than `public` sends a
visitor who is not signed in to `/login`, to come back afterwards.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import quote

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from assay_common.internal_auth import Principal
from assay_common.permission_checks import Need, PermissionChecks
from assay_common.route_permissions import RoutePermission, parse_row
from assay_common.service import Runtime
from assay_dashboard.rendering import Rendering

#: The groups of the navigation, in order. A group holding one page named like the group is shown
#: as a plain link (Overview, Settings).
NAV_GROUPS = ("Overview", "Workflows", "Auth", "Vault", "Settings")
LOGIN_PATH = "/login"


@dataclass(frozen=True)
class Page:
    path: str
    title: str
    template: str
    needs: RoutePermission
    #: The navigation group it is listed in; None: not listed (a detail page, a sign-in page).
    nav: str | None = None
    #: Its label in the navigation; default: the title.
    label: str = ""
    #: The ES module (below `static/js/`) the page loads, if any.
    script: str | None = None
    #: Response headers of its own (over the console's).
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def nav_label(self) -> str:
        return self.label or self.title


@dataclass
class Registry:
    pages: list[Page] = field(default_factory=list)

    def add(self, page: Page) -> Page:
        if page.nav is not None and page.nav not in NAV_GROUPS:
            raise ValueError(f"{page.path}: navigation group {page.nav!r} is not one of {NAV_GROUPS}")
        if any(known.path == page.path for known in self.pages):
            raise ValueError(f"{page.path} is declared twice")
        if page.nav is not None and page.needs.source == "path":
            raise ValueError(f"{page.path}: a listed page cannot need an object named by its path")
        self.pages.append(page)
        return page

    def navigation(self) -> list[Page]:
        """The listed pages, by group then in the order they were declared."""
        listed = [page for page in self.pages if page.nav is not None]
        return sorted(listed, key=lambda page: NAV_GROUPS.index(page.nav or ""))


PAGES = Registry()


def page(
    path: str,
    *,
    title: str,
    template: str = "console/page.html",
    nav: str | None = None,
    needs: str = "signed_in",
    script: str | None = None,
    label: str = "",
    headers: Mapping[str, str] | None = None,
) -> Page:
    """Declare a page of the console (see the module's description and docs/dashboard.md)."""
    needed = parse_row("GET", path, needs)
    return PAGES.add(Page(path, title, template, needed, nav, label, script, dict(headers or {})))


# ---- who is looking ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NavGroup:
    name: str
    pages: list[Page]

    @property
    def single(self) -> bool:
        """Shown as one link rather than a heading with links."""
        return len(self.pages) == 1 and self.pages[0].nav_label == self.name


@dataclass(frozen=True)
class Viewer:
    """The caller of a page and the navigation they may use."""

    principal: Principal
    nav: list[NavGroup]

    @property
    def signed_in(self) -> bool:
        return self.principal.kind != "anonymous"


def console_query(request: Request, default_namespace: str) -> dict[str, str]:
    """The request's query, with the console's namespace always in it."""
    return {"namespace": default_namespace, **request.query_params}


async def permitted(
    principal: Principal,
    rows: Sequence[tuple[RoutePermission, Mapping[str, str], Mapping[str, str]]],
    checks: PermissionChecks,
) -> list[bool]:
    """Whether `principal` may open each page (its needs, path parameters and query); the
    permissions are asked in one batch."""
    anonymous = principal.kind == "anonymous"
    needs: list[list[Need]] = [
        row.needs(path_params, query) if row.access == "permission" and not anonymous else []
        for row, path_params, query in rows
    ]
    asked = list(dict.fromkeys(need for alternatives in needs for need in alternatives))
    held = dict(zip(asked, await checks.permitted(principal, asked), strict=True)) if asked else {}
    return [
        row.access == "public"
        or (row.access == "signed_in" and not anonymous)
        or (row.access == "permission" and any(held[need] for need in alternatives))
        for (row, _, _), alternatives in zip(rows, needs, strict=True)
    ]


# ---- serving -------------------------------------------------------------------------------------


def return_to(request: Request) -> str:
    """The page to come back to after signing in: this one, as a same-origin path."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def login_redirect(request: Request) -> RedirectResponse:
    target = quote(return_to(request), safe="/")
    return RedirectResponse(f"{LOGIN_PATH}?return_to={target}", status_code=303)


def _endpoint(page: Page, registry: Registry) -> Callable[[Request], Awaitable[Response]]:
    async def serve(request: Request) -> Response:
        rendering: Rendering = request.app.state.rendering
        runtime: Runtime = request.app.state.runtime
        principal: Principal = request.state.principal
        query = console_query(request, rendering.whitelabel.default_namespace)
        listed = registry.navigation()
        rows = [(page.needs, request.path_params, query)] + [(p.needs, {}, query) for p in listed]
        may_open, *may_list = await permitted(principal, rows, runtime.checks)
        if not may_open and principal.kind == "anonymous":
            return login_redirect(request)
        shown = [p for p, ok in zip(listed, may_list, strict=True) if ok]
        groups = [NavGroup(g, [p for p in shown if p.nav == g]) for g in NAV_GROUPS]
        viewer = Viewer(principal, [group for group in groups if group.pages])
        if not may_open:
            needed = page.needs.need(request.path_params, query)
            # The refusal is the page's title and chrome without its script, which would look
            # for the elements of a page that is not there.
            refused = replace(page, script=None)
            html = rendering.render(
                "console/forbidden.html", request, page=refused, viewer=viewer, needed=str(needed)
            )
            return rendering.html(html, status_code=403)
        html = rendering.render(page.template, request, page=page, viewer=viewer)
        return rendering.html(html, headers=page.headers)

    return serve


def router(registry: Registry) -> APIRouter:
    """A route for every declared page."""
    pages = APIRouter(tags=["pages"])
    for declared in registry.pages:
        pages.add_api_route(
            declared.path,
            _endpoint(declared, registry),
            methods=["GET"],
            response_class=HTMLResponse,
            include_in_schema=False,
        )
    return pages
