"""Dispatch by a path's literal segments: a request is tried only against the routes that could
match it.

Starlette's router tries a request against its routes one by one, each with a regular
expression: a service of a hundred routes spends more on finding the route of a busy request than
on much of the work behind it (the native transit API's `encrypt` was tried against 150 routes).
`RouteIndex` sits in front of the router's own dispatch. A route's *key* is its deepest literal
segment before any `{…:path}` parameter (the literal `encrypt`, third after the root, of
`/v1/{mount}/encrypt/{name}`); a route without one (`/{path:path}`, a mount) is tried for every
request. A request is tried, in the router's order, against the routes whose key its path has at
that place, and those without a key: the first that matches in full takes it, which is the route
the router would have chosen, since every route left out has a literal the path lacks. When none
matches in full (a 405, a redirect to the path with or without its trailing slash, a 404) the
router's own dispatch answers, unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send

#: A template's parameter: `{name}` or `{name:convertor}`.
_PARAMETER = re.compile(r"{[^}]*}")

Key = tuple[int, str]
#: The most lists of candidates remembered at once (one per combination of keys a path had).
MAX_REMEMBERED = 4096


def key_of(route: BaseRoute) -> Key | None:
    """Where the route's deepest literal segment lies, and the segment; None where it has none
    (a mount, a route whose every segment before a `:path` parameter is a parameter)."""
    if not isinstance(route, Route):
        return None
    key: Key | None = None
    for place, segment in enumerate(route.path.split("/")):
        if ":path}" in segment:
            break  # a `:path` parameter spans any number of segments: places after it are unknown
        if segment and not _PARAMETER.search(segment):
            key = (place, segment)
    return key


class RouteIndex:
    """The ASGI app in front of `router`'s dispatch (see the module). Routes are added to a router,
    never removed or reordered: a change in their number is indexed on the next request."""

    def __init__(self, router: Router) -> None:
        self.router = router
        self._indexed = -1
        self._keyed: dict[Key, list[int]] = {}
        self._unkeyed: list[int] = []
        self._candidates: dict[tuple[Key, ...], list[BaseRoute]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Behind a root path the router matches the path without it; such a request takes its way.
        if scope["type"] == "http" and not scope.get("root_path"):
            for route in self.candidates(scope["path"]):
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.setdefault("router", self.router)
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await self.router.app(scope, receive, send)

    def candidates(self, path: str) -> Sequence[BaseRoute]:
        """The routes that could match `path`, in the router's order."""
        if self._indexed != len(self.router.routes):
            self._index()
        found = tuple(key for key in enumerate(path.split("/")) if key in self._keyed)
        known = self._candidates.get(found)
        if known is None:
            if len(self._candidates) >= MAX_REMEMBERED:
                self._candidates.clear()
            places = sorted({*self._unkeyed, *(place for key in found for place in self._keyed[key])})
            known = self._candidates[found] = [self.router.routes[place] for place in places]
        return known

    def _index(self) -> None:
        self._keyed, self._unkeyed, self._candidates = {}, [], {}
        for place, route in enumerate(self.router.routes):
            key = key_of(route)
            if key is None:
                self._unkeyed.append(place)
            else:
                self._keyed.setdefault(key, []).append(place)
        self._indexed = len(self.router.routes)


def install_route_index(router: Router) -> None:
    """Put a `RouteIndex` in front of `router`'s dispatch (a router without middleware of its own)."""
    if router.middleware_stack != router.app:
        raise RuntimeError("the route index goes in front of a router's own dispatch, not its middleware")
    router.middleware_stack = RouteIndex(router)
