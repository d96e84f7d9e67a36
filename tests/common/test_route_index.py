"""The route index sends every request to the route the router itself would have chosen: checked
over every route of every service (a path made from each template, with each method, with and
without a trailing slash), and on a small app for the router's own answers (405, the slash
redirect, 404, a mount, a root path)."""

from __future__ import annotations

import importlib
import re

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from starlette.responses import PlainTextResponse
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Scope

from assay_common.route_index import RouteIndex, install_route_index, key_of
from assay_gateway.settings import GatewaySettings

SERVICES = ["auth", "workflow", "vault", "gateway", "dashboard"]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "LIST"]
#: A value for each kind of template parameter.
_VALUES = {"path": "a/b", "int": "7", "float": "1.5", "uuid": "0192f0c4-7a41-7c3e-9a2b-3c4d5e6f7a8b"}
_PARAMETER = re.compile(r"{([^}:]*)(?::([^}]*))?}")


def service_app(service: str) -> FastAPI:
    create_app = importlib.import_module(f"assay_{service}.app").create_app
    if service != "gateway":
        app: FastAPI = create_app()
        return app
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    app = create_app(GatewaySettings(internal_signing_key=key.decode()))
    return app


def path_of(template: str) -> str:
    return _PARAMETER.sub(lambda found: _VALUES.get(found.group(2) or "", "x"), template)


def scope_of(method: str, path: str, root_path: str = "") -> Scope:
    return {"type": "http", "method": method, "path": path, "root_path": root_path, "headers": []}


def chosen_by_router(router: Router, scope: Scope) -> BaseRoute | None:
    """The route the router's own dispatch hands a request to in full."""
    return next((route for route in router.routes if route.matches(scope)[0] is Match.FULL), None)


def chosen_by_index(index: RouteIndex, scope: Scope) -> BaseRoute | None:
    candidates = index.candidates(scope["path"])
    return next((route for route in candidates if route.matches(scope)[0] is Match.FULL), None)


@pytest.mark.parametrize("service", SERVICES)
def test_every_route_of_a_service_is_found_where_the_router_finds_it(service: str) -> None:
    app = service_app(service)
    index = app.router.middleware_stack
    assert isinstance(index, RouteIndex)
    templates = {route.path for route in app.router.routes if isinstance(route, Route)}
    assert templates, service
    compared = 0
    for template in sorted(templates):
        for path in (path_of(template), path_of(template) + "/", path_of(template) + "/extra"):
            for method in METHODS:
                scope = scope_of(method, path)
                assert chosen_by_index(index, scope) is chosen_by_router(app.router, scope), (method, path)
                compared += 1
    assert compared == len(templates) * 3 * len(METHODS)


def test_a_route_is_keyed_by_its_deepest_literal_before_any_path_parameter() -> None:
    def endpoint() -> None:
        return None

    assert key_of(Route("/v1/{mount}/encrypt/{name}", endpoint)) == (3, "encrypt")
    assert key_of(Route("/v1/{mount}/data/{path:path}", endpoint)) == (3, "data")
    assert key_of(Route("/v1/{mount}/{path:path}/tail", endpoint)) == (1, "v1")
    assert key_of(Route("/{path:path}", endpoint)) is None
    assert key_of(Route("/files/{name}.json", endpoint)) == (1, "files")
    assert key_of(Mount("/static", routes=[])) is None


def small_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item}")
    def item(item: str) -> str:
        return f"item {item}"

    @app.post("/items/{item}/notes")
    def note(item: str) -> str:
        return f"note on {item}"

    @app.get("/{anything:path}")
    def fallback(anything: str) -> str:
        return f"fallback {anything}"

    app.router.routes.insert(0, Mount("/static", routes=[Route("/a", PlainTextResponse("static a"))]))
    install_route_index(app.router)
    return app


async def test_the_router_still_answers_what_no_route_takes_in_full() -> None:
    app = small_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://app") as client:
        assert (await client.get("/items/7")).json() == "item 7"
        assert (await client.post("/items/7/notes")).json() == "note on 7"
        assert (await client.get("/static/a")).text == "static a"
        assert (await client.get("/items/7/notes")).json() == "fallback items/7/notes"
        assert (await client.delete("/items/7")).status_code == 405  # the router's partial match
        # Added after the index was built: indexed on the next request.
        app.get("/late/{name}")(lambda name: f"late {name}")
        app.router.routes.insert(0, app.router.routes.pop())
        assert (await client.get("/late/one")).json() == "late one"


async def test_a_request_behind_a_root_path_takes_the_routers_own_way() -> None:
    app = small_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app, root_path="/prefix"), base_url="http://app"
    ) as client:
        assert (await client.get("/prefix/items/7")).json() == "item 7"


def test_the_index_goes_only_in_front_of_a_router_without_middleware() -> None:
    router = Router(routes=[], middleware=[])
    install_route_index(router)
    with pytest.raises(RuntimeError, match="in front of a router's own dispatch"):
        install_route_index(router)
