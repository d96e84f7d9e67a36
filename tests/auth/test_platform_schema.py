"""The built-in platform schema: what it grants, its installation at start (once, upgraded when an
older built-in one is there, never over an operator's own), and the administrators it records —
the bootstrap administrator, users made administrators, and the first user to sign in. On SQLite
and Postgres in the domain, and over HTTP with auth processes of their own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from nats.js.errors import NotFoundError

from assay.local import free_port
from assay_auth.domain.context import Actor
from assay_auth.domain.identity import Identity
from assay_auth.domain.permission_service import PLATFORM_STORE, Consistency
from assay_auth.domain.permissions import (
    Evaluator,
    InMemoryRelationships,
    parse_object_ref,
    parse_relationship,
    parse_schema,
    parse_subject_ref,
)
from assay_auth.domain.platform_schema import (
    PLATFORM_SCHEMA,
    SCHEMA_VERSION,
    builtin_schema,
    marker_of,
)
from assay_auth.domain.sessions import ClientInfo
from assay_auth.store.permissions import RelationshipFilter
from assay_common.db import Database
from assay_common.events.bus import EventBus
from tests.auth.conftest import ManualClock, make_identity, outbox_events
from tests.auth_api import PASSWORD, AuthApi, auth_process, email
from tests.conftest import Stack, run_subjects

TOOLING = Actor(id="assay-up", kind="service")
OPERATOR = Actor(id="operator", kind="service")
ADMINS = RelationshipFilter(resource_type="platform", resource_id="assay", relation="admin")
ADMIN_QUERY = {"resource_type": "platform", "resource_id": "assay", "relation": "admin"}
#: A built-in schema of an earlier release: fewer types, an older marker.
OLDER = builtin_schema(
    0,
    """\
definition user {}

definition platform {
    relation admin: user
    permission administer = admin
}
""",
)
#: The built-in schema as an operator changed it (the marker stays, the text no longer matches).
HAND_EDITED = PLATFORM_SCHEMA + "\ndefinition team {\n    relation lead: user\n}\n"


# ---- the schema itself -------------------------------------------------------------------------

RELATIONSHIPS = [
    "platform:assay#admin@user:root",
    "platform:assay#operator@group:ops#member",
    "platform:assay#viewer@user:*",
    "group:ops#member@user:olga",
    "group:oncall#member@user:omar",
    "group:ops#member@group:oncall#member",
    "namespace:payments#platform@platform:assay",
    "namespace:payments#worker@user:wanda",
    "namespace:payments#viewer@user:vic",
    "namespace:payments#admin@user:nadia",
    "namespace:orphan#operator@user:oscar",
    "vault_mount:kv#platform@platform:assay",
    "vault_mount:kv#reader@user:rita",
    "vault_mount:kv#writer@user:will",
    "vault_path:kv/team#reader@user:tess",
    "vault_path:kv/team#writer@group:ops#member",
    "api_key:k1#owner@user:kate",
    "api_key:k1#platform@platform:assay",
]

EXPECTATIONS = [
    # Platform roles reach every namespace linked to the platform.
    ("namespace:payments#administer@user:root", True),
    ("namespace:payments#operate@user:olga", True),
    ("namespace:payments#operate@user:omar", True),
    ("namespace:payments#administer@user:olga", False),
    ("namespace:payments#view@user:anyone", True),
    ("namespace:payments#operate@user:anyone", False),
    # Namespace roles stay in their namespace.
    ("namespace:payments#administer@user:nadia", True),
    ("namespace:payments#work@user:nadia", True),
    ("namespace:payments#work@user:wanda", True),
    ("namespace:payments#view@user:wanda", True),
    ("namespace:payments#operate@user:wanda", False),
    ("namespace:payments#view@user:vic", True),
    ("namespace:payments#work@user:vic", False),
    ("namespace:orphan#operate@user:oscar", True),
    ("namespace:orphan#operate@user:olga", False),
    ("namespace:orphan#view@user:anyone", False),
    # Secrets: platform administrators and those granted them; not operators or viewers.
    ("vault_mount:kv#administer@user:root", True),
    ("vault_mount:kv#read@user:root", True),
    ("vault_mount:kv#read@user:olga", False),
    ("vault_mount:kv#read@user:anyone", False),
    ("vault_mount:kv#read@user:rita", True),
    ("vault_mount:kv#write@user:rita", False),
    ("vault_mount:kv#read@user:will", True),
    ("vault_mount:kv#write@user:will", True),
    ("vault_mount:kv#administer@user:will", False),
    # Folders of a mount: only those granted them.
    ("vault_path:kv/team#read@user:tess", True),
    ("vault_path:kv/team#write@user:tess", False),
    ("vault_path:kv/team#write@user:omar", True),
    ("vault_path:kv/team#read@user:root", False),
    ("vault_mount:kv#read@user:tess", False),
    # API keys: their owner and platform administrators.
    ("api_key:k1#manage@user:kate", True),
    ("api_key:k1#manage@user:root", True),
    ("api_key:k1#manage@user:olga", False),
    # The platform's own permissions.
    ("platform:assay#administer@user:root", True),
    ("platform:assay#operate@user:omar", True),
    ("platform:assay#view@user:anyone", True),
    ("platform:assay#operate@user:anyone", False),
]


def test_the_builtin_schema_parses_and_carries_its_version() -> None:
    schema = parse_schema(PLATFORM_SCHEMA)

    assert set(schema.definitions) == {
        "user",
        "group",
        "platform",
        "namespace",
        "vault_mount",
        "vault_path",
        "api_key",
    }
    assert PLATFORM_SCHEMA.startswith(f"// assay platform schema v{SCHEMA_VERSION} ")
    marker = marker_of(PLATFORM_SCHEMA)
    assert marker is not None and (marker.version, marker.unchanged) == (SCHEMA_VERSION, True)
    edited = marker_of(HAND_EDITED)
    assert edited is not None and not edited.unchanged
    older = marker_of(OLDER)
    assert older is not None and (older.version, older.unchanged) == (0, True)
    assert marker_of("definition user {}\n") is None


@pytest.mark.parametrize(("question", "expected"), EXPECTATIONS)
async def test_the_builtin_schema_grants_what_the_roles_say(question: str, expected: bool) -> None:
    schema = parse_schema(PLATFORM_SCHEMA)
    relationships = [parse_relationship(text) for text in RELATIONSHIPS]
    for relationship in relationships:
        schema.check_relationship(relationship)
    resource_text, _, subject_text = question.partition("@")
    resource, _, permission = resource_text.partition("#")
    evaluator = Evaluator(schema, InMemoryRelationships(relationships))

    answer = await evaluator.check(parse_object_ref(resource), permission, parse_subject_ref(subject_text))

    assert answer is expected, question


# ---- installation (domain, each backend) -------------------------------------------------------


async def schema_text(identity: Identity) -> tuple[int, str]:
    found = await identity.permissions.read_schema(PLATFORM_STORE)
    return found.version, found.text


async def test_installation_writes_the_schema_once(identity: Identity) -> None:
    first = await identity.platform.install()
    second = await identity.platform.install()

    assert (first.outcome, first.version) == ("installed", 1)
    assert (second.outcome, second.version) == ("current", 1)
    assert await schema_text(identity) == (1, PLATFORM_SCHEMA)
    found = await identity.permissions.read_schema(PLATFORM_STORE)
    assert found.created_by == "auth"


async def test_replicas_installing_at_once_write_it_once(auth_db: Database, clock: ManualClock) -> None:
    replicas = [make_identity(auth_db, clock) for _ in range(4)]

    results = await asyncio.gather(*(replica.platform.install() for replica in replicas))

    assert sorted(r.outcome for r in results) == ["current", "current", "current", "installed"]
    assert await schema_text(replicas[0]) == (1, PLATFORM_SCHEMA)


async def test_an_older_builtin_schema_is_upgraded(identity: Identity) -> None:
    await identity.permissions.write_schema(OPERATOR, PLATFORM_STORE, OLDER)

    upgraded = await identity.platform.install()

    assert (upgraded.outcome, upgraded.version) == ("upgraded", 2)
    assert await schema_text(identity) == (2, PLATFORM_SCHEMA)


@pytest.mark.parametrize(
    "text",
    [
        HAND_EDITED,
        "definition user {}\n\ndefinition platform {\n    relation admin: user\n}\n",
        builtin_schema(SCHEMA_VERSION + 1, "definition user {}\n"),
        # An older built-in one that was edited is the operator's now.
        OLDER + "\ndefinition team {}\n",
    ],
    ids=["edited", "own", "newer", "older-edited"],
)
async def test_a_schema_not_an_unchanged_older_builtin_is_kept(identity: Identity, text: str) -> None:
    await identity.permissions.write_schema(OPERATOR, PLATFORM_STORE, text)

    kept = await identity.platform.install()

    assert (kept.outcome, kept.version) == ("kept", 1)
    assert await schema_text(identity) == (1, text)


# ---- administrators (domain, each backend) -----------------------------------------------------


async def admins(identity: Identity) -> list[str]:
    page = await identity.permissions.read(PLATFORM_STORE, ADMINS, Consistency("fully_consistent"))
    return sorted(str(r.subject) for r in page.items)


@pytest.fixture
async def installed(identity: Identity) -> Identity:
    await identity.platform.install()
    return identity


async def test_the_bootstrap_administrator_is_a_platform_admin(installed: Identity) -> None:
    made = await installed.bootstrap.admin(TOOLING, "admin@localhost")

    assert await admins(installed) == [f"user:{made.user.id}"]
    written = [e for _, e in await outbox_events(installed.ctx.db, "relationships_written")]
    assert [(e.data["actor_id"], e.data["actor_kind"], e.data["store"]) for e in written] == [
        ("assay-up", "service", PLATFORM_STORE)
    ]


async def test_users_made_administrators_get_and_lose_the_role(installed: Identity) -> None:
    boss = await installed.users.create(TOOLING, email="boss@example.com", is_admin=True)
    ann = await installed.users.create(TOOLING, email="ann@example.com")
    assert await admins(installed) == [f"user:{boss.id}"]

    by_boss = Actor.user(boss.id)
    await installed.users.update(by_boss, ann.id, {"is_admin": True})
    assert await admins(installed) == sorted([f"user:{boss.id}", f"user:{ann.id}"])
    await installed.users.update(by_boss, ann.id, {"is_admin": False})
    assert await admins(installed) == [f"user:{boss.id}"]
    written = [e for _, e in await outbox_events(installed.ctx.db, "relationships_written")]
    assert [e.data["actor_id"] for e in written] == ["assay-up", str(boss.id), str(boss.id)]


async def test_the_first_user_to_sign_in_becomes_admin(installed: Identity) -> None:
    ann = await installed.users.create(TOOLING, email="ann@example.com", password=PASSWORD)
    bob = await installed.users.create(TOOLING, email="bob@example.com", password=PASSWORD)

    await installed.sessions.login("ann@example.com", PASSWORD, ClientInfo(address="10.0.0.1"))
    await installed.sessions.login("bob@example.com", PASSWORD, ClientInfo())
    await installed.sessions.login("ann@example.com", PASSWORD, ClientInfo())

    assert await admins(installed) == [f"user:{ann.id}"]
    (written,) = [e for _, e in await outbox_events(installed.ctx.db, "relationships_written")]
    assert (written.data["actor_id"], written.data["actor_kind"]) == (str(ann.id), "user")
    assert written.data["client_address"] == "10.0.0.1"
    assert bob.id != ann.id


async def test_of_concurrent_first_sign_ins_one_wins(auth_db: Database, clock: ManualClock) -> None:
    replicas = [make_identity(auth_db, clock) for _ in range(3)]
    await replicas[0].platform.install()
    users = [
        await replicas[0].users.create(TOOLING, email=f"u{i}@example.com", password=PASSWORD)
        for i in range(6)
    ]

    await asyncio.gather(
        *(
            replicas[i % len(replicas)].sessions.login(user.email, PASSWORD, ClientInfo())
            for i, user in enumerate(users)
        )
    )

    found = await admins(replicas[0])
    assert len(found) == 1 and found[0] in {f"user:{u.id}" for u in users}


async def test_revoking_every_admin_does_not_hand_the_platform_to_the_next_sign_in(
    installed: Identity,
) -> None:
    ann = await installed.users.create(TOOLING, email="ann@example.com", password=PASSWORD)
    await installed.users.create(TOOLING, email="bob@example.com", password=PASSWORD)
    await installed.sessions.login("ann@example.com", PASSWORD, ClientInfo())
    assert await admins(installed) == [f"user:{ann.id}"]
    await installed.permissions.delete_matching(OPERATOR, PLATFORM_STORE, ADMINS)

    # A replica that never saw an administrator (nothing remembered in the process).
    fresh = make_identity(installed.ctx.db, ManualClock())
    await fresh.sessions.login("bob@example.com", PASSWORD, ClientInfo())

    assert await admins(installed) == []


async def test_first_user_becomes_admin_can_be_switched_off(auth_db: Database, clock: ManualClock) -> None:
    identity = make_identity(auth_db, clock, first_user_becomes_admin=False)
    await identity.platform.install()
    await identity.users.create(TOOLING, email="ann@example.com", password=PASSWORD)

    await identity.sessions.login("ann@example.com", PASSWORD, ClientInfo())

    assert await admins(identity) == []


async def test_without_the_platform_schema_grants_are_left_out_and_nothing_fails(
    identity: Identity,
) -> None:
    await identity.permissions.write_schema(OPERATOR, PLATFORM_STORE, "definition user {}\n")
    everything = RelationshipFilter()
    consistent = Consistency("fully_consistent")
    before = await identity.permissions.read(PLATFORM_STORE, everything, consistent)

    made = await identity.bootstrap.admin(TOOLING, "admin@localhost")
    await identity.recovery.reset(made.password_token, PASSWORD, Actor.anonymous())
    await identity.sessions.login("admin@localhost", PASSWORD, ClientInfo())

    assert made.user.is_admin
    after = await identity.permissions.read(PLATFORM_STORE, everything, consistent)
    # Nothing written, not even an empty revision (which would turn every cached answer stale).
    assert after.items == [] and after.read_at == before.read_at


# ---- at the running service --------------------------------------------------------------------


async def test_the_stack_has_the_builtin_schema_and_its_bootstrap_admin(
    stack: Stack, auth_api: AuthApi
) -> None:
    response = await auth_api.call("GET", "/api/v1/auth/permissions/schema")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["store"], body["schema"], body["created_by"]) == (PLATFORM_STORE, PLATFORM_SCHEMA, "auth")

    assert stack.platform.bootstrap is not None
    listed = await auth_api.call(
        "GET", "/api/v1/auth/users", params={"search": stack.platform.bootstrap.email}
    )
    (admin,) = [u for u in listed.json()["items"] if u["email"] == stack.platform.bootstrap.email]
    check = await auth_api.call(
        "POST",
        "/api/v1/auth/permissions/check",
        json={
            "resource": "platform:assay",
            "permission": "admin",
            "subject": f"user:{admin['id']}",
            "consistency": {"mode": "fully_consistent"},
        },
    )
    assert check.status_code == 200 and check.json()["allowed"] is True


async def test_users_made_administrators_over_http_get_the_role(auth_api: AuthApi, unique: str) -> None:
    boss = await auth_api.create_user(email(unique, "boss"), is_admin=True)
    plain = await auth_api.create_user(email(unique, "plain"))

    async def is_platform_admin(user_id: str) -> bool:
        answer = await auth_api.call(
            "GET",
            "/api/v1/auth/permissions/relationships",
            params={**ADMIN_QUERY, "subject_type": "user", "subject_id": user_id},
        )
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["items"])

    assert await is_platform_admin(boss["id"]) and not await is_platform_admin(plain["id"])
    patched = await auth_api.call("PATCH", f"/api/v1/auth/users/{plain['id']}", json={"is_admin": True})
    assert patched.status_code == 200, patched.text
    assert await is_platform_admin(plain["id"])
    patched = await auth_api.call("PATCH", f"/api/v1/auth/users/{plain['id']}", json={"is_admin": False})
    assert patched.status_code == 200, patched.text
    assert not await is_platform_admin(plain["id"])


class FreshAuth:
    """Auth processes of their own on one database of their own, started one after another as a
    deployment's replicas (or restarts) would be."""

    def __init__(self, stack: Stack, data_dir: Path) -> None:
        self.stack = stack
        port = free_port()
        self.subjects = run_subjects(f"auth{port}")
        self.env = {
            "ASSAY_DATA_DIR": str(data_dir),
            "ASSAY_NATS_URL": stack.nats.url,
            "ASSAY_SUBJECT_PREFIX": self.subjects.events_prefix,
            "ASSAY_AUDIT_SUBJECT_PREFIX": self.subjects.audit_prefix,
            "ASSAY_EVENTS_STREAM": self.subjects.events_stream,
            "ASSAY_AUDIT_STREAM": self.subjects.audit_stream,
        }
        if stack.database_url:
            self.env["ASSAY_DATABASE_URL"] = stack.database_url
            self.env["ASSAY_AUTH_DB_SCHEMA"] = f"auth_fresh_{port}"
        self.started = 0

    def start(self, env: Mapping[str, str] | None = None) -> contextlib.AbstractAsyncContextManager[AuthApi]:
        self.started += 1
        label = f"fresh-auth-{self.subjects.events_stream.lower()}-{self.started}"
        return auth_process(self.stack.platform, label, {**self.env, **(env or {})})

    async def delete_streams(self) -> None:
        bus = EventBus(self.stack.nats.url, self.subjects, events_max_age=3600, audit_max_age=3600)
        await bus.connect()
        for stream in (self.subjects.events_stream, self.subjects.audit_stream):
            with contextlib.suppress(NotFoundError):
                await bus.js.delete_stream(stream)
        await bus.close()


@pytest.fixture
async def fresh(stack: Stack, tmp_path: Path) -> AsyncIterator[FreshAuth]:
    made = FreshAuth(stack, tmp_path / "fresh-auth")
    try:
        yield made
    finally:
        await made.delete_streams()


async def read_schema(api: AuthApi) -> dict[str, object]:
    response = await api.call("GET", "/api/v1/auth/permissions/schema")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def admin_ids(api: AuthApi) -> list[str]:
    response = await api.call("GET", "/api/v1/auth/permissions/relationships", params=ADMIN_QUERY)
    assert response.status_code == 200, response.text
    return sorted(item["subject_id"] for item in response.json()["items"])


async def test_a_fresh_service_installs_the_schema_and_its_first_sign_in_wins(
    fresh: FreshAuth, unique: str
) -> None:
    async with fresh.start() as api:
        schema = await read_schema(api)
        assert (schema["version"], schema["schema"]) == (1, PLATFORM_SCHEMA)
        users = [await api.create_user(email(unique, f"u{i}")) for i in range(4)]
        assert await admin_ids(api) == []

        answers = await asyncio.gather(*(api.login(user["email"]) for user in users))

        assert [a.status_code for a in answers] == [200] * len(users)
        (winner,) = await admin_ids(api)
        assert winner in {user["id"] for user in users}
        assert (await api.login(users[0]["email"])).status_code == 200
        assert await admin_ids(api) == [winner]

    # A second start on the same database: nothing is written again.
    async with fresh.start() as api:
        assert await read_schema(api) == schema
        assert await admin_ids(api) == [winner]


async def test_at_start_an_older_builtin_schema_is_upgraded_and_an_edited_one_kept(
    fresh: FreshAuth,
) -> None:
    async with fresh.start() as api:
        written = await api.call("PUT", "/api/v1/auth/permissions/schema", json={"schema": OLDER})
        assert written.status_code == 200, written.text
        assert written.json()["version"] == 2

    async with fresh.start() as api:
        upgraded = await read_schema(api)
        assert (upgraded["version"], upgraded["schema"]) == (3, PLATFORM_SCHEMA)
        written = await api.call("PUT", "/api/v1/auth/permissions/schema", json={"schema": HAND_EDITED})
        assert written.status_code == 200, written.text

    async with fresh.start() as api:
        kept = await read_schema(api)
        assert (kept["version"], kept["schema"]) == (4, HAND_EDITED)


async def test_with_the_setting_off_no_sign_in_makes_an_admin(fresh: FreshAuth, unique: str) -> None:
    async with fresh.start({"ASSAY_AUTH_FIRST_USER_BECOMES_ADMIN": "false"}) as api:
        user = await api.create_user(email(unique))
        signed_in = await api.signed_in(user["email"])
        assert signed_in.user_id == user["id"]
        assert await admin_ids(api) == []
        # Administrators are still made explicitly.
        boss = await api.create_user(email(unique, "boss"), is_admin=True)
        assert await admin_ids(api) == [boss["id"]]
