"""The vertical slice: namespaces through gateway → workflow service → store → outbox → JetStream."""

from __future__ import annotations

import json

from tests.conftest import Stack
from tests.support import subject_messages


async def namespace_events(stack: Stack, name: str) -> list[tuple[str, dict[str, object]]]:
    messages = await subject_messages(
        stack.nats.url, stack.subjects.events_stream, stack.subjects.event("workflow", name, "*")
    )
    return [(json.loads(m.data)["type"], json.loads(m.data)["data"]) for m in messages if m.data]


async def test_create_describe_and_delete_publish_events_in_order(stack: Stack, unique: str) -> None:
    created = await stack.client.post("/api/v1/namespaces", json={"name": unique, "description": "team a"})
    assert created.status_code == 201
    assert created.json()["name"] == unique
    described = (await stack.client.get(f"/api/v1/namespaces/{unique}")).json()
    assert described.pop("usage") == {"runs_by_status": {}, "schedules": 0, "workers": 0}
    assert described == created.json()
    assert (await stack.client.delete(f"/api/v1/namespaces/{unique}")).status_code == 204
    assert (await stack.client.get(f"/api/v1/namespaces/{unique}")).status_code == 404
    events = await namespace_events(stack, unique)
    assert [t for t, _ in events] == ["assay.workflow.namespace_created", "assay.workflow.namespace_deleted"]
    assert events[0][1]["description"] == "team a"


async def test_duplicate_namespace_is_a_conflict_and_publishes_nothing_more(
    stack: Stack, unique: str
) -> None:
    assert (await stack.client.post("/api/v1/namespaces", json={"name": unique})).status_code == 201
    again = await stack.client.post("/api/v1/namespaces", json={"name": unique, "description": "other"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["code"] == "namespace_exists"
    assert (await stack.client.get(f"/api/v1/namespaces/{unique}")).json()["description"] == ""
    assert len(await namespace_events(stack, unique)) == 1


async def test_invalid_name_is_rejected_and_changes_nothing(stack: Stack, unique: str) -> None:
    bad = f"{unique.upper()}!"
    response = await stack.client.post("/api/v1/namespaces", json={"name": bad})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_namespace_name"
    names = [n["name"] for n in (await stack.client.get("/api/v1/namespaces?limit=500")).json()["items"]]
    assert bad not in names


async def test_missing_field_is_a_422_problem(stack: Stack) -> None:
    response = await stack.client.post("/api/v1/namespaces", json={"description": "no name"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == ["body", "name"]


async def test_main_always_exists_and_cannot_be_deleted(stack: Stack) -> None:
    assert (await stack.client.get("/api/v1/namespaces/main")).status_code == 200
    refused = await stack.client.delete("/api/v1/namespaces/main")
    assert (refused.status_code, refused.json()["code"]) == (409, "namespace_protected")
    assert (await stack.client.get("/api/v1/namespaces/main")).status_code == 200


async def test_deleting_an_unknown_namespace_is_404(stack: Stack, unique: str) -> None:
    response = await stack.client.delete(f"/api/v1/namespaces/{unique}")
    assert (response.status_code, response.json()["code"]) == (404, "namespace_not_found")


async def test_list_pages_by_name_with_a_cursor(stack: Stack, unique: str) -> None:
    names = [f"{unique}-{i}" for i in range(5)]
    for name in names:
        assert (await stack.client.post("/api/v1/namespaces", json={"name": name})).status_code == 201
    seen: list[str] = []
    cursor = f"{unique}-"  # names sort after this prefix
    while True:
        page = (await stack.client.get("/api/v1/namespaces", params={"limit": 2, "cursor": cursor})).json()
        seen += [item["name"] for item in page["items"] if item["name"].startswith(unique)]
        if page["next_cursor"] is None or not page["items"][-1]["name"].startswith(unique):
            break
        cursor = page["next_cursor"]
    assert seen == names
