"""Who may do what in the workflow API (docs/workflows.md#permissions).

Every test runs twice: through the gateway (the running platform, with real sessions and API
keys) and at the workflow service itself, called directly with an internal token for the same
principal, since the service checks its routes on its own and alone knows the namespace of a
worker. Setting up (namespaces, runs, users, grants, keys) goes straight to the services as
another Assay service.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import httpx
import pytest

from assay_common.internal_auth import Principal
from assay_common.permission_checks import CONSISTENCY_TOKEN_HEADER
from tests.auth_api import AuthApi, email
from tests.conftest import Stack

Json = Any
Send = Callable[..., Awaitable[httpx.Response]]


@dataclass
class Caller:
    """Someone calling the workflow API. Each request carries the consistency token of the grants
    made for them, so that the permission checks see those grants at once."""

    send: Send
    zookie: str | None

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {CONSISTENCY_TOKEN_HEADER: self.zookie} if self.zookie else {}
        return await self.send(method, path, headers=headers, **kwargs)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", path, **kwargs)


@dataclass
class User:
    id: str
    caller: Caller


@dataclass
class Scene:
    """What a test sets up, and the callers it acts as: `via` the gateway or the service."""

    stack: Stack
    auth_api: AuthApi
    workflow_api: AuthApi
    via: str
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    async def namespace(self, name: str) -> str:
        response = await self.workflow_api.call("POST", "/api/v1/namespaces", json={"name": name})
        assert response.status_code == 201, response.text
        return name

    async def start(self, namespace: str) -> str:
        body = {"namespace": namespace, "workflow_type": "greet"}
        response = await self.workflow_api.call("POST", "/api/v1/workflows", json=body)
        assert response.status_code == 201, response.text
        workflow_id: str = response.json()["workflow_id"]
        return workflow_id

    async def register(self, namespace: str) -> str:
        response = await self.workflow_api.call("POST", "/api/v1/workers", json={"namespace": namespace})
        assert response.status_code == 201, response.text
        worker_id: str = response.json()["worker_id"]
        return worker_id

    async def grant(self, *relationships: str) -> str:
        """Touch `relationships`; the write's zookie."""
        updates = [{"operation": "touch", "relationship": r} for r in relationships]
        response = await self.auth_api.call(
            "POST", "/api/v1/auth/permissions/relationships", json={"updates": updates}
        )
        assert response.status_code == 200, response.text
        zookie: str = response.json()["written_at"]
        return zookie

    async def user(self, address: str, *roles: str) -> User:
        """A new user with `roles` (`namespace:x#viewer`: the user becomes its subject), signed in."""
        user_id: str = (await self.auth_api.create_user(address))["id"]
        zookie = await self.grant(*(f"{role}@user:{user_id}" for role in roles))
        if self.via == "service":
            return User(user_id, Caller(self._as(Principal(id=user_id, kind="user")), zookie))
        signed_in = await self.auth_api.signed_in(address)
        client = self._client(
            cookies={"assay_session": signed_in.secret, "assay_csrf": signed_in.csrf_token},
            headers={"x-csrf-token": signed_in.csrf_token},
        )
        return User(user_id, Caller(client.request, zookie))

    async def key(self, user: User, *scopes: str) -> Caller:
        """An API key of `user` with `scopes`."""
        if self.via == "service":
            principal = Principal(id=user.id, kind="api_key", scopes=scopes)
            return Caller(self._as(principal), user.caller.zookie)
        response = await self.auth_api.call(
            "POST", f"/api/v1/auth/users/{user.id}/api-keys", json={"name": "worker", "scopes": list(scopes)}
        )
        assert response.status_code == 201, response.text
        client = self._client(headers={"authorization": f"Bearer {response.json()['key']}"})
        return Caller(client.request, user.caller.zookie)

    def _as(self, principal: Principal) -> Send:
        return partial(self.workflow_api.call, principal=principal)

    def _client(self, **kwargs: Any) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.stack.url, timeout=30, **kwargs)
        self.clients.append(client)
        return client


@pytest.fixture(params=["gateway", "service"])
async def scene(
    request: pytest.FixtureRequest, stack: Stack, auth_api: AuthApi, workflow_api: AuthApi
) -> AsyncIterator[Scene]:
    made = Scene(stack, auth_api, workflow_api, request.param)
    yield made
    for client in made.clients:
        await client.aclose()


def worker_requests(worker_id: str) -> list[tuple[str, str, Json]]:
    """Every request of a worker's protocol, for worker `worker_id`."""
    token = [{"task_token": str(uuid.uuid4())}]
    return [
        ("POST", f"/api/v1/workers/{worker_id}/heartbeat", None),
        ("POST", "/api/v1/workflow-tasks/poll", {"worker_id": worker_id}),
        ("POST", "/api/v1/workflow-tasks/complete", {"worker_id": worker_id, "completions": token}),
        ("POST", "/api/v1/workflow-tasks/fail", {"worker_id": worker_id, "failures": token}),
        ("POST", "/api/v1/activity-tasks/poll", {"worker_id": worker_id}),
        ("POST", "/api/v1/activity-tasks/complete", {"worker_id": worker_id, "results": token}),
        ("POST", "/api/v1/activity-tasks/heartbeat", {"worker_id": worker_id, "heartbeats": token}),
        ("DELETE", f"/api/v1/workers/{worker_id}", None),
    ]


def refused(response: httpx.Response, code: str = "permission_denied") -> bool:
    return (response.status_code, response.json()["code"]) == (403, code)


async def visible_namespaces(caller: Caller, limit: int) -> list[str]:
    """Every namespace `caller` is shown, page by page; every page but the last is full."""
    names: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        response = await caller.get("/api/v1/namespaces", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        names += [item["name"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return names
        assert len(page["items"]) == limit


async def test_a_viewer_reads_a_namespace_but_changes_nothing_in_it(scene: Scene, unique: str) -> None:
    namespace = await scene.namespace(unique)
    workflow_id = await scene.start(namespace)
    viewer = (await scene.user(email(unique), f"namespace:{namespace}#viewer")).caller
    where = {"namespace": namespace}

    listed = await viewer.get("/api/v1/workflows", params=where)
    assert listed.status_code == 200, listed.text
    assert [item["workflow_id"] for item in listed.json()["items"]] == [workflow_id]
    for path in ("", "/events", "/result"):
        response = await viewer.get(f"/api/v1/workflows/{workflow_id}{path}", params=where)
        assert response.status_code == 200, (path, response.text)
    assert (await viewer.get("/api/v1/workers", params=where)).status_code == 200
    assert (await viewer.get(f"/api/v1/namespaces/{namespace}")).status_code == 200

    start = await viewer.post("/api/v1/workflows", json={"namespace": namespace, "workflow_type": "greet"})
    assert refused(start), start.text
    for action in ("signal/go", "cancel", "terminate"):
        response = await viewer.post(f"/api/v1/workflows/{workflow_id}/{action}", params=where, json={})
        assert refused(response), (action, response.text)
    register = await viewer.post("/api/v1/workers", json={"namespace": namespace})
    assert refused(register), register.text
    history = await scene.workflow_api.call("GET", f"/api/v1/workflows/{workflow_id}/events", params=where)
    assert [event["type"] for event in history.json()["events"]] == ["WorkflowStarted"]


async def test_without_a_grant_a_namespace_is_neither_read_nor_listed(scene: Scene, unique: str) -> None:
    mine = await scene.namespace(f"{unique}-a")
    other = await scene.namespace(f"{unique}-b")
    workflow_id = await scene.start(other)
    viewer = (await scene.user(email(unique), f"namespace:{mine}#viewer")).caller

    assert refused(await viewer.get("/api/v1/workflows", params={"namespace": other}))
    for path in ("", "/events", "/state"):
        response = await viewer.get(f"/api/v1/workflows/{workflow_id}{path}", params={"namespace": other})
        assert refused(response), (path, response.text)
    assert refused(await viewer.get(f"/api/v1/namespaces/{other}"))
    # No namespace named: `main`, on which this user has nothing either.
    assert refused(await viewer.get("/api/v1/workflows"))
    assert await visible_namespaces(viewer, limit=100) == [mine]


async def test_the_namespace_list_reads_past_hidden_namespaces(scene: Scene, unique: str) -> None:
    names = [await scene.namespace(f"{unique}-{i}") for i in range(6)]
    shown = [names[1], names[3], names[4]]
    viewer = (await scene.user(email(unique), *(f"namespace:{name}#viewer" for name in shown))).caller

    assert await visible_namespaces(viewer, limit=1) == shown
    assert await visible_namespaces(viewer, limit=2) == shown
    assert await visible_namespaces(viewer, limit=3) == shown
    # An administrator sees them all, `main` too.
    admin = (await scene.user(email(unique, "root"), "platform:assay#admin")).caller
    seen = await visible_namespaces(admin, limit=4)
    assert "main" in seen and set(names) <= set(seen)


async def test_a_key_scoped_to_a_namespace_works_there_only(scene: Scene, unique: str) -> None:
    a = await scene.namespace(f"{unique}-a")
    b = await scene.namespace(f"{unique}-b")
    # The user works in both; each key reaches one.
    user = await scene.user(email(unique), f"namespace:{a}#worker", f"namespace:{b}#worker")
    key_a = await scene.key(user, f"namespace:{a}#work")
    key_b = await scene.key(user, f"namespace:{b}#work")

    registered = await key_a.post("/api/v1/workers", json={"namespace": a})
    assert registered.status_code == 201, registered.text
    worker_id = registered.json()["worker_id"]
    for path in ("/api/v1/workflow-tasks/poll", "/api/v1/activity-tasks/poll"):
        polled = await key_a.post(path, json={"worker_id": worker_id})
        assert (polled.status_code, polled.json()) == (200, {"tasks": []}), polled.text
    assert (await key_a.post(f"/api/v1/workers/{worker_id}/heartbeat")).status_code == 204
    assert refused(await key_a.post("/api/v1/workers", json={"namespace": b}), "scope_not_held")

    for method, path, body in worker_requests(worker_id):
        response = await key_b.request(method, path, json=body)
        assert refused(response, "scope_not_held"), (path, response.text)
    # Refused, the removal changed nothing.
    assert (await key_a.post(f"/api/v1/workers/{worker_id}/heartbeat")).status_code == 204
    assert (await key_a.request("DELETE", f"/api/v1/workers/{worker_id}")).status_code == 204


async def test_worker_routes_need_work_on_the_namespace_of_the_worker(scene: Scene, unique: str) -> None:
    mine = await scene.namespace(f"{unique}-a")
    other = await scene.namespace(f"{unique}-b")
    worker = (await scene.user(email(unique), f"namespace:{mine}#worker")).caller
    registered = await worker.post("/api/v1/workers", json={"namespace": mine})
    assert registered.status_code == 201, registered.text
    worker_id = registered.json()["worker_id"]
    others = await scene.register(other)

    for method, path, body in worker_requests(others):
        response = await worker.request(method, path, json=body)
        assert refused(response), (path, response.text)
    unknown = await worker.post("/api/v1/workflow-tasks/poll", json={"worker_id": str(uuid.uuid4())})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "worker_not_found")
    # A worker may work, and view, but not operate.
    assert (await worker.post(f"/api/v1/workers/{worker_id}/heartbeat")).status_code == 204
    assert (await worker.get("/api/v1/workflows", params={"namespace": mine})).status_code == 200
    start = await worker.post("/api/v1/workflows", json={"namespace": mine, "workflow_type": "greet"})
    assert refused(start), start.text


async def test_platform_roles_reach_a_namespace_as_soon_as_it_is_created(scene: Scene, unique: str) -> None:
    admin = (await scene.user(email(unique), "platform:assay#admin")).caller
    created = await admin.post("/api/v1/namespaces", json={"name": unique})
    assert created.status_code == 201, created.text
    # No consistency token from here on: platform roles reach a namespace without its link.
    admin.zookie = None
    for namespace in (unique, "main"):
        body = {"namespace": namespace, "workflow_type": "greet"}
        started = await admin.post("/api/v1/workflows", json=body)
        assert started.status_code == 201, (namespace, started.text)
    registered = await admin.post("/api/v1/workers", json={"namespace": unique})
    assert registered.status_code == 201, registered.text
    assert (await admin.request("DELETE", f"/api/v1/namespaces/{unique}")).status_code == 204
    # Gone: to a platform role, as to a service, that is a 404.
    gone = await admin.get(f"/api/v1/namespaces/{unique}")
    assert (gone.status_code, gone.json()["code"]) == (404, "namespace_not_found")


async def test_a_consistency_token_that_is_not_one_is_a_422(scene: Scene, unique: str) -> None:
    namespace = await scene.namespace(unique)
    viewer = (await scene.user(email(unique), f"namespace:{namespace}#viewer")).caller
    viewer.zookie = "not-a-zookie"

    response = await viewer.get("/api/v1/workflows", params={"namespace": namespace})
    assert (response.status_code, response.json()["code"]) == (422, "invalid_zookie")
