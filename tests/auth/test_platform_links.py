"""Namespaces and vault mounts join the platform in the permission store: the auth service follows
the workflow service's namespace events and the vault's mount events, and keeps
`<type>:<name>#platform@platform:assay` in step, so platform roles reach them while they exist and
no grant outlives them."""

from __future__ import annotations

from typing import Any

import nats

from assay_auth.domain.platform_links import NAMESPACES
from tests.auth_api import AuthApi, email
from tests.conftest import Stack
from tests.support import eventually, subject_messages

PERMISSIONS = "/api/v1/auth/permissions"
FULLY_CONSISTENT = {"mode": "fully_consistent"}


async def allowed(auth_api: AuthApi, resource: str, permission: str, subject: str) -> bool:
    body = {
        "resource": resource,
        "permission": permission,
        "subject": subject,
        "consistency": FULLY_CONSISTENT,
    }
    response = await auth_api.call("POST", f"{PERMISSIONS}/check", json=body)
    assert response.status_code == 200, response.text
    return bool(response.json()["allowed"])


async def on_namespace(auth_api: AuthApi, name: str) -> list[dict[str, Any]]:
    """Every relationship whose resource is `namespace:<name>`, now."""
    return await on_object(auth_api, "namespace", name)


async def on_object(auth_api: AuthApi, resource_type: str, name: str) -> list[dict[str, Any]]:
    """Every relationship whose resource is `<resource_type>:<name>`, now."""
    params = {"resource_type": resource_type, "resource_id": name, "consistency": "fully_consistent"}
    response = await auth_api.call("GET", f"{PERMISSIONS}/relationships", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def bootstrap_admin(stack: Stack) -> str:
    response = await stack.client.get("/api/v1/auth/whoami")
    assert response.status_code == 200, response.text
    return f"user:{response.json()['user']['id']}"


async def create_namespace(stack: Stack, name: str) -> None:
    response = await stack.client.post("/api/v1/namespaces", json={"name": name})
    assert response.status_code == 201, response.text


async def redeliver(stack: Stack, name: str, event: str) -> None:
    """Publish the namespace's `event` again, as a redelivery would bring it, and wait until the
    auth service's consumer has acknowledged it."""
    subject = stack.subjects.event("workflow", name, event)
    # The first one on the subject: the workflow service's own (later ones are earlier copies).
    original = (await subject_messages(stack.nats.url, stack.subjects.events_stream, subject))[0]
    assert original.data is not None
    connection = await nats.connect(stack.nats.url)
    try:
        js = connection.jetstream()
        # Without the event id as message id: JetStream would drop the copy before any consumer.
        published = await js.publish(subject, original.data, stream=stack.subjects.events_stream)

        async def acknowledged() -> bool:
            info = await js.consumer_info(stack.subjects.events_stream, NAMESPACES.durable)
            return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= published.seq

        await eventually(acknowledged, what="the redelivered event acknowledged")
    finally:
        await connection.close()


async def test_platform_roles_reach_a_namespace_while_it_exists(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    admin = await bootstrap_admin(stack)
    stranger = f"user:{(await auth_api.create_user(email(unique)))['id']}"
    resource = f"namespace:{unique}"
    await create_namespace(stack, unique)

    async def admin_operates() -> bool:
        return await allowed(auth_api, resource, "operate", admin)

    await eventually(admin_operates, what="the platform administrator may operate the new namespace")
    assert not await allowed(auth_api, resource, "operate", stranger)
    assert not await allowed(auth_api, resource, "view", stranger)
    [link] = await on_namespace(auth_api, unique)
    assert (link["relation"], link["subject_type"], link["subject_id"]) == ("platform", "platform", "assay")

    # A grant on the namespace goes with it.
    grant = {"operation": "touch", "relationship": f"{resource}#viewer@{stranger}"}
    written = await auth_api.call("POST", f"{PERMISSIONS}/relationships", json={"updates": [grant]})
    assert written.status_code == 200, written.text
    assert await allowed(auth_api, resource, "view", stranger)

    assert (await stack.client.delete(f"/api/v1/namespaces/{unique}")).status_code == 204

    async def nothing_left() -> bool:
        return await on_namespace(auth_api, unique) == []

    await eventually(nothing_left, what="no relationship left on the deleted namespace")
    assert not await allowed(auth_api, resource, "operate", admin)
    assert not await allowed(auth_api, resource, "view", stranger)


async def test_an_event_delivered_twice_changes_nothing(stack: Stack, auth_api: AuthApi, unique: str) -> None:
    await create_namespace(stack, unique)

    async def linked() -> bool:
        return len(await on_namespace(auth_api, unique)) == 1

    await eventually(linked, what="the namespace linked to the platform")
    await redeliver(stack, unique, "namespace_created")
    assert len(await on_namespace(auth_api, unique)) == 1

    assert (await stack.client.delete(f"/api/v1/namespaces/{unique}")).status_code == 204

    async def unlinked() -> bool:
        return await on_namespace(auth_api, unique) == []

    await eventually(unlinked, what="the namespace's link removed")
    # Handled once already: a late copy of the creation must not link the deleted namespace again.
    await redeliver(stack, unique, "namespace_created")
    assert await on_namespace(auth_api, unique) == []


async def test_a_vault_mount_joins_the_platform_and_leaves_no_grant_when_disabled(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    """A mount enabled again under the same name must not hand its secrets to the old readers."""
    reader = f"user:{(await auth_api.create_user(email(unique)))['id']}"
    resource = f"vault_mount:{unique}"
    enabled = await stack.client.post("/api/v1/vault/mounts", json={"path": unique})
    assert enabled.status_code == 201, enabled.text

    async def linked() -> bool:
        return [r["relation"] for r in await on_object(auth_api, "vault_mount", unique)] == ["platform"]

    await eventually(linked, what="the mount linked to the platform")
    # A folder of this mount, and one of another mount whose name starts alike.
    folder, neighbour = f"vault_path:{unique}/team", f"vault_path:{unique}x/team"
    grants = [
        {"operation": "touch", "relationship": f"{object_}#reader@{reader}"}
        for object_ in (resource, folder, neighbour)
    ]
    written = await auth_api.call("POST", f"{PERMISSIONS}/relationships", json={"updates": grants})
    assert written.status_code == 200, written.text
    assert await allowed(auth_api, resource, "read", reader)
    assert await allowed(auth_api, folder, "read", reader)

    assert (await stack.client.delete(f"/api/v1/vault/mounts/{unique}")).status_code == 204

    async def nothing_left() -> bool:
        return await on_object(auth_api, "vault_mount", unique) == []

    await eventually(nothing_left, what="no relationship left on the disabled mount")
    assert not await allowed(auth_api, resource, "read", reader)
    assert await on_object(auth_api, "vault_path", f"{unique}/team") == []
    assert not await allowed(auth_api, folder, "read", reader)
    assert await allowed(auth_api, neighbour, "read", reader)
