"""Permissions over HTTP, at the stack's auth service: schema, relationships, checks, expand,
lookups, consistency tokens (also across a second replica on the same database) and who may call.

Each test works in a permission store of its own (`/api/v1/auth/permissions/stores/{store}/…`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from assay_common.internal_auth import Principal
from tests.auth_api import AuthApi, auth_process, email
from tests.conftest import Stack

DOCS = """
definition user {}

definition group {
    relation member: user | group#member
}

definition folder {
    relation parent: folder
    relation viewer: user | group#member
    permission view = viewer + parent->view
}

definition document {
    relation folder: folder
    relation owner: user
    relation viewer: user | group#member | user:*
    relation banned: user
    permission edit = owner
    permission view = (viewer + edit + folder->view) - banned
}
"""

PROBLEM = "application/problem+json"


def base(store: str) -> str:
    return f"/api/v1/auth/permissions/stores/{store}"


async def put_schema(api: AuthApi, store: str, text: str = DOCS, **kwargs: Any) -> httpx.Response:
    return await api.call(
        "PUT", f"{base(store)}/schema", content=text, headers={"content-type": "text/plain"}, **kwargs
    )


async def write(
    api: AuthApi, store: str, *relationships: str, operation: str = "create", **body: Any
) -> httpx.Response:
    updates = [{"operation": operation, "relationship": r} for r in relationships]
    return await api.call("POST", f"{base(store)}/relationships", json={"updates": updates, **body})


async def written(api: AuthApi, store: str, *relationships: str, operation: str = "create") -> str:
    response = await write(api, store, *relationships, operation=operation)
    assert response.status_code == 200, response.text
    zookie: str = response.json()["written_at"]
    return zookie


def question(resource: str, subject: str) -> dict[str, str]:
    resource_text, _, permission = resource.partition("#")
    return {"resource": resource_text, "permission": permission, "subject": subject}


async def check(
    api: AuthApi, store: str, relationship: str, consistency: dict[str, Any] | None = None, **kwargs: Any
) -> httpx.Response:
    resource_and_permission, _, subject = relationship.partition("@")
    resource, _, permission = resource_and_permission.partition("#")
    body = {
        "resource": resource,
        "permission": permission,
        "subject": subject,
        "consistency": consistency or {"mode": "fully_consistent"},
    }
    return await api.call("POST", f"{base(store)}/check", json=body, **kwargs)


async def allowed(
    api: AuthApi, store: str, relationship: str, consistency: dict[str, Any] | None = None
) -> bool:
    response = await check(api, store, relationship, consistency)
    assert response.status_code == 200, response.text
    result: bool = response.json()["allowed"]
    return result


@pytest.fixture
async def docs(auth_api: AuthApi, unique: str) -> str:
    """A store with the documents schema."""
    response = await put_schema(auth_api, unique)
    assert response.status_code == 200, response.text
    return unique


# ---- schema ------------------------------------------------------------------------------------


async def test_a_store_has_no_schema_until_one_is_written(auth_api: AuthApi, unique: str) -> None:
    response = await auth_api.call("GET", f"{base(unique)}/schema")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "permission_schema_not_found"


async def test_the_schema_is_written_as_text_or_json_and_versioned(auth_api: AuthApi, unique: str) -> None:
    first = await put_schema(auth_api, unique, "definition user {}")
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1
    second = await auth_api.call("PUT", f"{base(unique)}/schema", json={"schema": DOCS, "force": False})
    assert second.status_code == 200, second.text
    read = await auth_api.call("GET", f"{base(unique)}/schema")
    assert read.status_code == 200
    body = read.json()
    assert body["schema"] == DOCS
    assert body["version"] == 2
    assert body["store"] == unique
    assert body["written_at"] == second.json()["written_at"]


async def test_a_schema_error_names_its_line_and_column(auth_api: AuthApi, unique: str) -> None:
    text = "definition user {}\n\ndefinition document {\n    relation viewer: usr\n}\n"
    response = await put_schema(auth_api, unique, text)
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "invalid_schema"
    assert (problem["line"], problem["column"]) == (4, 22)
    assert "usr" in problem["detail"]
    # Nothing was written.
    assert (await auth_api.call("GET", f"{base(unique)}/schema")).status_code == 404


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"definition user {", "text/plain"),
        (b'{"schema": 3}', "application/json"),
        (b'{"schema": "definition user {}", "extra": 1}', "application/json"),
        (b"not json", "application/json"),
        (b"\xff\xfe", "text/plain"),
        (b"definition user {}", "application/xml"),
    ],
)
async def test_a_bad_schema_body_is_a_problem(
    auth_api: AuthApi, unique: str, body: bytes, content_type: str
) -> None:
    response = await auth_api.call(
        "PUT", f"{base(unique)}/schema", content=body, headers={"content-type": content_type}
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


async def test_a_schema_that_would_orphan_relationships_is_refused_unless_forced(
    auth_api: AuthApi, docs: str
) -> None:
    await written(auth_api, docs, "document:plan#viewer@user:ann", "document:plan#owner@user:bob")
    narrower = DOCS.replace("relation viewer: user | group#member | user:*", "relation viewer: group#member")
    refused = await put_schema(auth_api, docs, narrower)
    assert refused.status_code == 409
    assert refused.json()["code"] == "schema_would_orphan_relationships"
    assert refused.json()["orphaned"] == ["document#viewer@user"]
    assert (await auth_api.call("GET", f"{base(docs)}/schema")).json()["version"] == 1

    forced = await auth_api.call("PUT", f"{base(docs)}/schema", params={"force": "true"}, content=narrower)
    assert forced.status_code == 200, forced.text
    assert forced.json()["version"] == 2
    # The orphaned relationship went with the change; the others stay.
    listed = await auth_api.call("GET", f"{base(docs)}/relationships", params={"resource_type": "document"})
    assert [r["relationship"] for r in listed.json()["items"]] == ["document:plan#owner@user:bob"]


# ---- relationships -----------------------------------------------------------------------------


async def test_relationships_need_a_schema(auth_api: AuthApi, unique: str) -> None:
    response = await write(auth_api, unique, "document:plan#viewer@user:ann")
    assert response.status_code == 422
    assert response.json()["code"] == "no_permission_schema"


@pytest.mark.parametrize(
    "relationship",
    [
        "document:plan#viewer@folder:x",  # a type the relation does not allow
        "document:plan#view@user:ann",  # a permission, not a relation
        "document:plan#reader@user:ann",  # no such relation
        "page:plan#viewer@user:ann",  # no such type
        "document:plan#owner@user:*",  # no wildcard allowed there
        "document:plan#viewer@group:eng",  # needs group#member
    ],
)
async def test_a_relationship_the_schema_does_not_allow_is_refused_by_name(
    auth_api: AuthApi, docs: str, relationship: str
) -> None:
    response = await write(auth_api, docs, "document:plan#owner@user:ann", relationship)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "invalid_relationship"
    assert relationship in problem["detail"]
    # The whole batch was refused.
    listed = await auth_api.call("GET", f"{base(docs)}/relationships")
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "update",
    [
        {"operation": "create", "relationship": "document:plan#viewer"},
        {"operation": "create", "relationship": "document:plan viewer@user:ann"},
        {"operation": "upsert", "relationship": "document:plan#viewer@user:ann"},
        {"operation": "create", "relationship": {"resource_type": "document"}},
        {"operation": "create", "relationship": "Document:plan#viewer@user:ann"},
        {"operation": "create", "relationship": "document:pl an#viewer@user:ann"},
        {"operation": "create", "relationship": "document:*#viewer@user:ann"},
    ],
)
async def test_malformed_updates_are_problems(auth_api: AuthApi, docs: str, update: dict[str, Any]) -> None:
    response = await auth_api.call("POST", f"{base(docs)}/relationships", json={"updates": [update]})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


async def test_create_touch_and_delete(auth_api: AuthApi, docs: str) -> None:
    await written(auth_api, docs, "document:plan#viewer@user:ann")
    again = await write(auth_api, docs, "document:plan#viewer@user:ann", "document:plan#viewer@user:bob")
    assert again.status_code == 409
    assert again.json()["code"] == "relationship_exists"
    assert not await allowed(auth_api, docs, "document:plan#view@user:bob")  # nothing of the batch stayed

    touched = await write(
        auth_api, docs, "document:plan#viewer@user:ann", "document:plan#viewer@user:bob", operation="touch"
    )
    assert touched.status_code == 200
    assert touched.json()["touched"] == 2
    structured = {
        "operation": "delete",
        "relationship": {
            "resource_type": "document",
            "resource_id": "plan",
            "relation": "viewer",
            "subject_type": "user",
            "subject_id": "ann",
        },
    }
    deleted = await auth_api.call("POST", f"{base(docs)}/relationships", json={"updates": [structured]})
    assert deleted.status_code == 200
    assert deleted.json()["deleted"] == 1
    assert not await allowed(auth_api, docs, "document:plan#view@user:ann")
    assert await allowed(auth_api, docs, "document:plan#view@user:bob")


async def test_a_batch_may_not_name_a_relationship_twice_or_exceed_the_limit(
    auth_api: AuthApi, docs: str
) -> None:
    twice = await write(auth_api, docs, "document:plan#viewer@user:ann", "document:plan#viewer@user:ann")
    assert twice.status_code == 422
    many = [f"document:d{i}#viewer@user:ann" for i in range(1001)]
    assert (await write(auth_api, docs, *many)).status_code == 422
    assert (await write(auth_api, docs, *many[:1000])).status_code == 200


async def test_preconditions_guard_a_write(auth_api: AuthApi, docs: str) -> None:
    owner_is_ann = {
        "operation": "must_match",
        "filter": {
            "resource_type": "document",
            "resource_id": "plan",
            "relation": "owner",
            "subject_id": "ann",
        },
    }
    refused = await write(auth_api, docs, "document:plan#viewer@user:bob", preconditions=[owner_is_ann])
    assert refused.status_code == 409
    assert refused.json()["code"] == "precondition_failed"
    await written(auth_api, docs, "document:plan#owner@user:ann")
    accepted = await write(auth_api, docs, "document:plan#viewer@user:bob", preconditions=[owner_is_ann])
    assert accepted.status_code == 200, accepted.text

    not_banned = {"operation": "must_not_match", "filter": {"resource_id": "plan", "relation": "banned"}}
    assert (
        await write(auth_api, docs, "document:plan#viewer@user:cy", preconditions=[not_banned])
    ).status_code == 200
    await written(auth_api, docs, "document:plan#banned@user:eve")
    refused = await write(auth_api, docs, "document:plan#viewer@user:dan", preconditions=[not_banned])
    assert refused.status_code == 409
    assert not await allowed(auth_api, docs, "document:plan#view@user:dan")


async def test_relationships_are_read_by_filter_in_pages(auth_api: AuthApi, docs: str) -> None:
    await written(
        auth_api,
        docs,
        *[f"document:d{i:02d}#viewer@user:ann" for i in range(7)],
        "document:d00#viewer@group:eng#member",
        "document:d00#owner@user:bob",
        "group:eng#member@user:cy",
    )
    seen: list[str] = []
    cursor = None
    read_at = set()
    while True:
        params: dict[str, Any] = {"resource_type": "document", "relation": "viewer", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await auth_api.call("GET", f"{base(docs)}/relationships", params=params)).json()
        seen += [item["relationship"] for item in page["items"]]
        read_at.add(page["read_at"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["document:d00#viewer@group:eng#member"] + [
        f"document:d{i:02d}#viewer@user:ann" for i in range(7)
    ]
    assert len(read_at) == 1, "every page reads one revision"

    def listing(**params: Any) -> Any:
        return auth_api.call("GET", f"{base(docs)}/relationships", params=params)

    by_subject = (await listing(subject_type="user", subject_id="bob")).json()["items"]
    assert [r["relationship"] for r in by_subject] == ["document:d00#owner@user:bob"]
    usersets = (await listing(subject_relation="member")).json()["items"]
    assert [r["relationship"] for r in usersets] == ["document:d00#viewer@group:eng#member"]
    direct = (await listing(resource_id="d00", subject_relation="...")).json()["items"]
    assert [r["relationship"] for r in direct] == [
        "document:d00#owner@user:bob",
        "document:d00#viewer@user:ann",
    ]
    assert (await listing(cursor="nonsense!")).status_code == 422
    assert (await listing(limit=0)).status_code == 422


async def test_delete_by_filter(auth_api: AuthApi, docs: str) -> None:
    await written(
        auth_api,
        docs,
        "document:a#viewer@user:ann",
        "document:b#viewer@user:ann",
        "document:b#owner@user:ann",
        "document:c#viewer@user:bob",
    )
    deleted = await auth_api.call(
        "POST",
        f"{base(docs)}/relationships/delete",
        json={"filter": {"relation": "viewer", "subject_type": "user", "subject_id": "ann"}},
    )
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["deleted"] == 2
    zookie = deleted.json()["written_at"]
    fresh = {"mode": "at_least_as_fresh", "zookie": zookie}
    assert not await allowed(auth_api, docs, "document:a#view@user:ann", fresh)
    assert await allowed(auth_api, docs, "document:b#view@user:ann", fresh)  # as owner
    assert await allowed(auth_api, docs, "document:c#view@user:bob", fresh)
    everything = await auth_api.call("POST", f"{base(docs)}/relationships/delete", json={"filter": {}})
    assert everything.status_code == 422, "an empty filter would empty the store"
    guarded = await auth_api.call(
        "POST",
        f"{base(docs)}/relationships/delete",
        json={
            "filter": {"resource_type": "document"},
            "preconditions": [{"operation": "must_match", "filter": {"subject_id": "nobody"}}],
        },
    )
    assert guarded.status_code == 409


# ---- questions ---------------------------------------------------------------------------------


async def test_check_bulk_check_expand_and_lookups(auth_api: AuthApi, docs: str) -> None:
    zookie = await written(
        auth_api,
        docs,
        "group:eng#member@user:ann",
        "group:eng#member@group:ops#member",
        "group:ops#member@user:bob",
        "folder:root#viewer@group:eng#member",
        "folder:sub#parent@folder:root",
        "document:plan#folder@folder:sub",
        "document:plan#owner@user:cy",
        "document:plan#banned@user:bob",
        "document:memo#viewer@user:*",
        "document:memo#banned@user:ann",
    )
    fresh = {"mode": "at_least_as_fresh", "zookie": zookie}
    assert await allowed(auth_api, docs, "document:plan#view@user:ann", fresh)
    assert not await allowed(auth_api, docs, "document:plan#view@user:bob", fresh)  # banned
    assert await allowed(auth_api, docs, "folder:sub#view@user:bob", fresh)
    assert await allowed(auth_api, docs, "document:memo#view@user:zed", fresh)
    assert not await allowed(auth_api, docs, "document:memo#view@user:ann", fresh)
    assert await allowed(auth_api, docs, "document:plan#view@group:eng#member", fresh)

    bulk = await auth_api.call(
        "POST",
        f"{base(docs)}/check/bulk",
        json={
            "items": [
                {"resource": "document:plan", "permission": "edit", "subject": "user:cy"},
                {"resource": "document:plan", "permission": "edit", "subject": "user:ann"},
                {"resource": "folder:root", "permission": "view", "subject": "user:bob#..."},
            ],
            "consistency": fresh,
        },
    )
    assert bulk.status_code == 200, bulk.text
    assert [r["allowed"] for r in bulk.json()["results"]] == [True, False, True]
    assert bulk.json()["results"][2]["subject"] == "user:bob"

    expanded = await auth_api.call(
        "POST",
        f"{base(docs)}/expand",
        json={"resource": "folder:sub", "permission": "view", "consistency": fresh},
    )
    assert expanded.status_code == 200, expanded.text
    tree = expanded.json()["tree"]
    assert tree["kind"] == "union"
    assert tree["children"][0] == {
        "kind": "leaf",
        "resource": "folder:sub",
        "relation": "viewer",
        "subjects": [],
    }
    arrow = tree["children"][1]
    assert (arrow["kind"], arrow["relation"], arrow["target"]) == ("arrow", "parent", "view")
    assert arrow["children"][0]["children"][0]["subjects"] == ["group:eng#member"]

    resources = await auth_api.call(
        "POST",
        f"{base(docs)}/lookup/resources",
        json={"resource_type": "document", "permission": "view", "subject": "user:ann", "consistency": fresh},
    )
    assert resources.status_code == 200, resources.text
    assert resources.json()["resource_ids"] == ["plan"]
    subjects = await auth_api.call(
        "POST",
        f"{base(docs)}/lookup/subjects",
        json={
            "resource": "document:memo",
            "permission": "view",
            "subject_type": "user",
            "consistency": fresh,
        },
    )
    assert subjects.status_code == 200, subjects.text
    assert subjects.json()["subjects"] == [{"id": "*", "excluded_ids": ["ann"]}]
    members = await auth_api.call(
        "POST",
        f"{base(docs)}/lookup/subjects",
        json={
            "resource": "document:plan",
            "permission": "view",
            "subject_type": "user",
            "consistency": fresh,
        },
    )
    assert [s["id"] for s in members.json()["subjects"]] == ["ann", "cy"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/check", {"resource": "document:plan", "permission": "nope", "subject": "user:ann"}),
        ("/check", {"resource": "page:plan", "permission": "view", "subject": "user:ann"}),
        ("/check", {"resource": "document:plan", "permission": "view", "subject": "user:*"}),
        ("/check", {"resource": "document", "permission": "view", "subject": "user:ann"}),
        ("/check", {"resource": "document:plan", "permission": "view"}),
        ("/check/bulk", {"items": []}),
        ("/expand", {"resource": "document:plan", "permission": "nope"}),
        ("/lookup/resources", {"resource_type": "page", "permission": "view", "subject": "user:ann"}),
        ("/lookup/subjects", {"resource": "document:plan", "permission": "view", "subject_type": "page"}),
        (
            "/check",
            {
                "resource": "document:plan",
                "permission": "view",
                "subject": "user:ann",
                "consistency": {"mode": "at_least_as_fresh"},
            },
        ),
        (
            "/check",
            {
                "resource": "document:plan",
                "permission": "view",
                "subject": "user:ann",
                "consistency": {"mode": "at_least_as_fresh", "zookie": "not a zookie"},
            },
        ),
    ],
)
async def test_bad_questions_are_problems(
    auth_api: AuthApi, docs: str, path: str, body: dict[str, Any]
) -> None:
    response = await auth_api.call("POST", f"{base(docs)}{path}", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM


async def test_a_zookie_of_another_store_or_of_the_future_is_refused(
    auth_api: AuthApi, docs: str, unique: str
) -> None:
    other = f"{unique}-other"
    assert (await put_schema(auth_api, other)).status_code == 200
    foreign = await written(auth_api, other, "document:x#owner@user:ann")
    response = await check(
        auth_api, docs, "document:x#view@user:ann", {"mode": "at_least_as_fresh", "zookie": foreign}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_zookie"
    # A zookie of this store's revision far ahead (zookies are opaque, but a forged one must not pass).
    import base64

    future = base64.urlsafe_b64encode(f"z1:{docs}:999999".encode()).decode().rstrip("=")
    response = await check(
        auth_api, docs, "document:x#view@user:ann", {"mode": "at_least_as_fresh", "zookie": future}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_zookie"


async def test_too_deep_a_chain_is_a_clear_problem(auth_api: AuthApi, unique: str) -> None:
    assert (await put_schema(auth_api, unique, DOCS)).status_code == 200
    chain = [f"group:g{i}#member@group:g{i + 1}#member" for i in range(60)]
    await written(auth_api, unique, *chain, "group:g60#member@user:ann")
    response = await check(auth_api, unique, "group:g0#member@user:ann")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["code"] == "depth_exceeded"
    assert "depth" in response.json()["detail"] or "nested" in response.json()["detail"]
    assert await allowed(auth_api, unique, "group:g30#member@user:ann")


async def test_the_platform_store_is_the_default(auth_api: AuthApi) -> None:
    # Only read: the platform's own schema belongs to the platform.
    response = await auth_api.call("GET", "/api/v1/auth/permissions/schema")
    assert response.status_code in (200, 404)
    if response.status_code == 200:
        assert response.json()["store"] == "platform"
    bad = await auth_api.call("GET", f"{base('Not A Store')}/schema")
    assert bad.status_code == 422


# ---- who may call ------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/schema", None),
    ("PUT", "/schema", None),
    (
        "POST",
        "/relationships",
        {"updates": [{"operation": "touch", "relationship": "document:a#viewer@user:b"}]},
    ),
    ("GET", "/relationships", None),
    ("POST", "/relationships/delete", {"filter": {"resource_type": "document"}}),
    ("POST", "/check", {"resource": "document:a", "permission": "view", "subject": "user:b"}),
    (
        "POST",
        "/check/bulk",
        {"items": [{"resource": "document:a", "permission": "view", "subject": "user:b"}]},
    ),
    ("POST", "/expand", {"resource": "document:a", "permission": "view"}),
    ("POST", "/lookup/resources", {"resource_type": "document", "permission": "view", "subject": "user:b"}),
    ("POST", "/lookup/subjects", {"resource": "document:a", "permission": "view", "subject_type": "user"}),
]
CHECKS = {"/check", "/check/bulk"}


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_every_route_refuses_the_anonymous_and_admits_by_role(
    auth_api: AuthApi, docs: str, unique: str, method: str, path: str, body: dict[str, Any] | None
) -> None:
    url = f"{base(docs)}{path}"
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    if method == "PUT":
        kwargs = {"content": DOCS, "headers": {"content-type": "text/plain"}}
    for prefix in (url, f"/api/v1/auth/permissions{path}"):
        anonymous = await auth_api.call(method, prefix, Principal.anonymous(), **kwargs)
        assert anonymous.status_code == 401, anonymous.text
        assert anonymous.headers["content-type"] == PROBLEM

    await auth_api.create_user(email(unique))
    user = (await auth_api.signed_in(email(unique))).principal
    as_user = await auth_api.call(method, url, user, **kwargs)
    assert as_user.status_code == 403, as_user.text
    assert as_user.headers["content-type"] == PROBLEM
    # Checks are open to everyone signed in, about themselves (`user:b` is someone else).
    assert as_user.json()["code"] == ("permission_denied" if path in CHECKS else "admin_required")
    if path in CHECKS:
        mine = question("document:a#view", f"user:{user.id}")
        about_me = mine if path == "/check" else {"items": [mine]}
        assert (await auth_api.call(method, url, user, json=about_me)).status_code == 200

    admin = await auth_api.admin(email(unique, "root"))
    assert (await auth_api.call(method, url, admin, **kwargs)).status_code == 200


async def test_a_refused_write_changes_nothing(auth_api: AuthApi, docs: str, unique: str) -> None:
    await auth_api.create_user(email(unique))
    user = (await auth_api.signed_in(email(unique))).principal
    refused = await auth_api.call(
        "POST",
        f"{base(docs)}/relationships",
        user,
        json={"updates": [{"operation": "create", "relationship": "document:a#owner@user:eve"}]},
    )
    assert refused.status_code == 403
    assert not await allowed(auth_api, docs, "document:a#edit@user:eve")


# ---- consistency across replicas ---------------------------------------------------------------


@pytest.fixture(scope="module")
async def replica(stack: Stack) -> AsyncIterator[AuthApi]:
    """A second auth process on the stack's database: another replica of the same service."""
    env = {
        **stack.nats.env(),
        # Long enough that only a zookie (or full consistency) makes this replica read afresh.
        "ASSAY_AUTH_PERMISSIONS_STALENESS_SECONDS": "3600",
    }
    if stack.database_url:
        env["ASSAY_DATABASE_URL"] = stack.database_url
    async with auth_process(stack.platform, "auth-replica", env) as api:
        yield api


async def test_a_check_with_the_zookie_of_a_write_sees_it_on_any_replica(
    auth_api: AuthApi, replica: AuthApi, docs: str
) -> None:
    relaxed = {"mode": "minimize_latency"}
    # The replica learns the store's revision and caches a denial.
    assert not await allowed(replica, docs, "document:plan#view@user:ann", relaxed)
    for round_ in range(5):
        grant = await written(auth_api, docs, f"document:plan#viewer@user:u{round_}")
        fresh = {"mode": "at_least_as_fresh", "zookie": grant}
        assert await allowed(replica, docs, f"document:plan#view@user:u{round_}", fresh)
        # And the other way round: written on the replica, checked on the first.
        revoke = await written(replica, docs, f"document:plan#viewer@user:u{round_}", operation="delete")
        fresh = {"mode": "at_least_as_fresh", "zookie": revoke}
        assert not await allowed(auth_api, docs, f"document:plan#view@user:u{round_}", fresh)
        assert not await allowed(replica, docs, f"document:plan#view@user:u{round_}", fresh)
    # Without a zookie the replica may answer from its cached revision; fully consistent never does.
    grant = await written(auth_api, docs, "document:plan#viewer@user:ann")
    assert await allowed(replica, docs, "document:plan#view@user:ann", {"mode": "fully_consistent"})
    checked = await check(
        replica, docs, "document:plan#view@user:ann", {"mode": "at_least_as_fresh", "zookie": grant}
    )
    assert checked.json()["checked_at"] == grant


# ---- who may check -----------------------------------------------------------------------------


async def test_anyone_checks_themselves_and_others_only_with_platform_view(
    auth_api: AuthApi, docs: str, unique: str
) -> None:
    await auth_api.create_user(email(unique))
    me = (await auth_api.signed_in(email(unique))).principal
    # In the docs store and in the platform's own (whose types differ).
    for prefix, resource in (
        (base(docs), "document:a#view"),
        ("/api/v1/auth/permissions", f"namespace:{unique}#view"),
    ):
        mine, theirs = question(resource, f"user:{me.id}"), question(resource, "user:someone")
        assert (await auth_api.call("POST", f"{prefix}/check", me, json=mine)).status_code == 200
        refused = await auth_api.call("POST", f"{prefix}/check", me, json=theirs)
        assert refused.status_code == 403, refused.text
        assert (refused.json()["code"], refused.json()["needed"]) == (
            "permission_denied",
            "platform:assay#view",
        )
        bulk_url = f"{prefix}/check/bulk"
        assert (await auth_api.call("POST", bulk_url, me, json={"items": [mine, mine]})).status_code == 200
        assert (await auth_api.call("POST", bulk_url, me, json={"items": [mine, theirs]})).status_code == 403
        # Services ask about anyone.
        assert (await auth_api.call("POST", f"{prefix}/check", json=theirs)).status_code == 200

    await written(auth_api, "platform", f"platform:assay#viewer@user:{me.id}", operation="touch")
    others = question("document:a#view", "user:someone")
    answered = await auth_api.call("POST", f"{base(docs)}/check", me, json=others)
    assert answered.status_code == 200 and answered.json()["allowed"] is False
    bulk = await auth_api.call("POST", f"{base(docs)}/check/bulk", me, json={"items": [others]})
    assert bulk.status_code == 200

    # A key reaches others only with a scope covering platform:assay#view.
    narrow = Principal(id=me.id, kind="api_key", scopes=(f"namespace:{unique}#view",))
    assert (
        await auth_api.call(
            "POST", f"{base(docs)}/check", narrow, json=question("document:a#view", f"user:{me.id}")
        )
    ).status_code == 200
    out_of_scope = await auth_api.call("POST", f"{base(docs)}/check", narrow, json=others)
    assert (out_of_scope.status_code, out_of_scope.json()["code"]) == (403, "scope_not_held")
    viewing = Principal(id=me.id, kind="api_key", scopes=("platform:assay#view",))
    assert (await auth_api.call("POST", f"{base(docs)}/check", viewing, json=others)).status_code == 200
