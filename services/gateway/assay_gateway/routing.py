"""The routing table: which service serves which public path (ARCHITECTURE §5), in one place;
and which row of the route → permission table (`assay_common.route_permissions`) a request is.

Services serve their routes at the same paths the gateway exposes, so routing never rewrites a
path; it only picks the service. The gateway's own routes (`/api/v1/health`, `/api/v1/events/…`,
…) are matched before this table is consulted.
"""

from __future__ import annotations

from dataclasses import dataclass

from assay_common.errors import BadRequest, NotFound
from assay_common.route_permissions import RoutePermission, RouteTable

#: Every service behind the gateway, in the order status pages list them.
SERVICES = ("workflow", "auth", "vault", "dashboard")

#: Paths below this prefix are the API: an unknown one is a 404, never a dashboard page.
API_PREFIX = "/api"

#: Serves every path outside the API that no rule claims (pages, static assets).
FALLBACK_SERVICE = "dashboard"


@dataclass(frozen=True)
class Rule:
    """`prefix` and every path below it (`prefix/…`) go to `service`; an exact rule matches only itself."""

    prefix: str
    service: str
    exact: bool = False

    def matches(self, path: str) -> bool:
        if self.exact:
            return path == self.prefix
        return path == self.prefix or path.startswith(self.prefix + "/")


RULES: tuple[Rule, ...] = (
    Rule("/api/v1/workflows", "workflow"),
    Rule("/api/v1/workflow-tasks", "workflow"),
    Rule("/api/v1/activity-tasks", "workflow"),
    Rule("/api/v1/activities", "workflow"),
    Rule("/api/v1/tasks", "workflow"),
    Rule("/api/v1/workers", "workflow"),
    Rule("/api/v1/schedules", "workflow"),
    Rule("/api/v1/namespaces", "workflow"),
    Rule("/api/v1/queues", "workflow"),
    Rule("/api/v1/auth", "auth"),
    Rule("/.well-known/openid-configuration", "auth", exact=True),
    Rule("/.well-known/jwks.json", "auth", exact=True),
    Rule("/oauth2", "auth"),
    Rule("/api/v1/vault", "vault"),
    Rule("/v1", "vault"),
)


class InvalidPath(BadRequest):
    code = "invalid_path"
    title = "The path cannot be routed"


def service_for(path: str) -> str | None:
    """The service that serves `path` (already percent-decoded), or None for an unknown API path."""
    # A service would see `/api/v1/namespaces/../../v1/…` after its own normalisation as another
    # path than the one routed (and, later, authorized) here, so dot segments are refused outright.
    if any(segment in (".", "..") for segment in path.split("/")):
        raise InvalidPath("the path must not contain '.' or '..' segments")
    for rule in RULES:
        if rule.matches(path):
            return rule.service
    if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
        return None
    return FALLBACK_SERVICE


def prefixes_of(service: str) -> list[str]:
    """The public path prefixes routed to `service` (for `/api/v1/modules`)."""
    prefixes = [rule.prefix for rule in RULES if rule.service == service]
    if service == FALLBACK_SERVICE:
        prefixes.append("/")
    return prefixes


#: Every route of every service and what it needs, parsed once.
ROUTE_TABLE = RouteTable()


class NoSuchRoute(NotFound):
    code = "no_such_route"
    title = "No such route"


def route_for(method: str, path: str) -> tuple[RoutePermission, dict[str, str]] | None:
    """The row of the route table a request falls under, with its path parameters; None for a
    page of the console (a path outside the API that the dashboard serves). `NoSuchRoute` (404)
    when it is neither: the table names every route, so what it lacks is not one."""
    service = service_for(path)  # first: a path with dot segments is refused, whatever its row
    found = ROUTE_TABLE.match(method, path)
    if found is not None:
        return found
    if service == FALLBACK_SERVICE:
        return None
    raise NoSuchRoute(f"there is no route {method} {path}")
