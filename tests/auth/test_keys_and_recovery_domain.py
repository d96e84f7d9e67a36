"""API keys, password recovery and the audit log in the domain, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from assay_auth.domain.context import Actor
from assay_auth.domain.errors import (
    ApiKeyNotFound,
    InvalidApiKey,
    InvalidCredentials,
    InvalidExpiry,
    InvalidRecoveryToken,
    InvalidScopes,
    InvalidSession,
    RecoveryUnavailable,
    UserNotFound,
)
from assay_auth.domain.identity import Identity
from assay_auth.domain.sessions import ClientInfo
from assay_auth.domain.tokens import digest
from assay_auth.store import tables
from assay_auth.store.rows import AuditRow
from assay_common.db import Database, utcnow, uuid7
from assay_common.events.envelope import CloudEvent
from assay_common.events.schemas.access import BY_SERVICE
from assay_common.events.schemas.auth import RecoveryDeliveryUnreadable, open_recovery_delivery
from tests.auth.conftest import ManualClock, make_identity, outbox_events
from tests.auth_api import PASSWORD, RECOVERY_KEY

ADMIN = Actor(id="tests", kind="service")
NEW_PASSWORD = "another quite long passphrase"


async def new_user(identity: Identity, email: str = "ann@example.com", **fields: object) -> uuid.UUID:
    user = await identity.users.create(ADMIN, email=email, password=PASSWORD, **fields)  # type: ignore[arg-type]
    return user.id


# ---- API keys ---------------------------------------------------------------------------------


async def test_key_is_shown_once_stored_as_a_digest_and_validates(identity: Identity) -> None:
    owner = await new_user(identity)
    created = await identity.api_keys.create(
        Actor.user(owner), owner, name="ci", scopes=["admin", "namespace:main#view", "admin"], expires_at=None
    )
    assert created.key.startswith("assay_") and len(created.key) == 6 + 43
    assert created.row.prefix == created.key[:12]
    assert created.row.scopes == ["admin", "namespace:main#view"]
    async with identity.ctx.db.read() as conn:
        stored = (await conn.execute(sa.select(tables.api_keys))).one()
    assert stored.secret_hash == digest(created.key) and created.key not in str(stored)
    valid = await identity.api_keys.validate(created.key)
    assert (valid.row.id, valid.user.id) == (created.row.id, owner)
    for wrong in ("assay_" + "x" * 43, created.key[6:], created.key + "x"):
        with pytest.raises(InvalidApiKey):
            await identity.api_keys.validate(wrong)


async def test_key_expires_and_stops_with_a_disabled_owner(identity: Identity, clock: ManualClock) -> None:
    owner = await new_user(identity)
    with pytest.raises(InvalidExpiry):
        await identity.api_keys.create(ADMIN, owner, name="old", scopes=[], expires_at=clock.now)
    created = await identity.api_keys.create(
        ADMIN, owner, name="short", scopes=[], expires_at=clock.now + timedelta(seconds=30)
    )
    clock.advance(29)
    await identity.api_keys.validate(created.key)
    clock.advance(1)
    with pytest.raises(InvalidApiKey):
        await identity.api_keys.validate(created.key)
    forever = await identity.api_keys.create(ADMIN, owner, name="long", scopes=[], expires_at=None)
    await identity.users.set_disabled(ADMIN, owner, True)
    with pytest.raises(InvalidApiKey):
        await identity.api_keys.validate(forever.key)
    with pytest.raises(UserNotFound):
        await identity.api_keys.create(ADMIN, owner, name="more", scopes=[], expires_at=None)


async def test_last_use_is_recorded_at_most_once_a_minute(identity: Identity, clock: ManualClock) -> None:
    owner = await new_user(identity)
    created = await identity.api_keys.create(ADMIN, owner, name="ci", scopes=[], expires_at=None)
    first = clock.now
    assert (await identity.api_keys.validate(created.key)).row.last_used_at == first
    clock.advance(59)
    assert (await identity.api_keys.validate(created.key)).row.last_used_at == first
    clock.advance(1)
    assert (await identity.api_keys.validate(created.key)).row.last_used_at == clock.now
    assert (await identity.api_keys.get(created.row.id, owner=owner)).last_used_at == clock.now


async def test_scopes_are_checked(identity: Identity) -> None:
    owner = await new_user(identity)
    too_many = [f"namespace:n{i}#view" for i in range(65)]
    for scopes in (
        ["has space"],
        [""],
        ["admins"],
        ["namespace:x#"],
        ["x:y#view"],
        ["namespace:a.b#view"],
        too_many,
    ):
        with pytest.raises(InvalidScopes):
            await identity.api_keys.create(ADMIN, owner, name="bad", scopes=scopes, expires_at=None)
    wildcard = await identity.api_keys.create(
        ADMIN, owner, name="any", scopes=["vault_mount:*#write"], expires_at=None
    )
    assert wildcard.row.scopes == ["vault_mount:*#write"]


async def test_listing_pages_and_revoking_only_the_owners_key(identity: Identity) -> None:
    owner = await new_user(identity)
    other = await new_user(identity, "other@example.com")
    made = [
        (await identity.api_keys.create(ADMIN, owner, name=f"k{i}", scopes=[], expires_at=None)).row.id
        for i in range(3)
    ]
    page = await identity.api_keys.list(owner, before=None, limit=2)
    assert [k.id for k in page] == [made[2], made[1]]
    assert [k.id for k in await identity.api_keys.list(owner, before=page[-1].id, limit=2)] == [made[0]]
    with pytest.raises(ApiKeyNotFound):
        await identity.api_keys.revoke(Actor.user(other), made[0], owner=other)
    await identity.api_keys.revoke(Actor.user(owner), made[0], owner=owner)
    with pytest.raises(ApiKeyNotFound):
        await identity.api_keys.revoke(Actor.user(owner), made[0], owner=owner)
    assert len(await identity.api_keys.list(owner, before=None, limit=10)) == 2
    [(_, revoked)] = await outbox_events(identity.ctx.db, "credentials_revoked")
    assert revoked.data["api_key_ids"] == [str(made[0])]
    [(_, audit)] = await outbox_events(identity.ctx.db, "api_key_revoked")
    assert (audit.data["target_id"], audit.data["owner_id"]) == (str(made[0]), str(owner))


# ---- password recovery ------------------------------------------------------------------------


async def issued_tokens(db: Database) -> list[str]:
    """The recovery tokens handed to the mail sender so far, opened with the key."""
    events = await outbox_events(db, "password_recovery_requested")
    return [open_recovery_delivery(RECOVERY_KEY, e.data["sealed"]).token for _, e in events]


async def request(identity: Identity, email: str) -> None:
    identity.recovery.request(email, Actor.anonymous("192.0.2.9"))
    await identity.recovery.drain()


async def test_recovery_token_resets_the_password_once(identity: Identity) -> None:
    owner = await new_user(identity, email_verified=True)
    session = await identity.sessions.login("ann@example.com", PASSWORD, ClientInfo())
    await request(identity, "ANN@example.com")
    [(subject, event)] = await outbox_events(identity.ctx.db, "password_recovery_requested")
    assert subject == "assay.auth._.password_recovery_requested"
    delivery = open_recovery_delivery(RECOVERY_KEY, event.data["sealed"])
    assert delivery.email == "ann@example.com"
    assert event.data["user_id"] == str(owner)
    assert delivery.token not in event.to_json().decode(), "the token travels sealed only"
    with pytest.raises(RecoveryDeliveryUnreadable):
        open_recovery_delivery("A" * 43 + "=", event.data["sealed"])
    async with identity.ctx.db.read() as conn:
        assert await conn.scalar(sa.select(tables.recovery_tokens.c.token_hash)) == digest(delivery.token)

    await identity.recovery.reset(delivery.token, NEW_PASSWORD, Actor.anonymous())
    with pytest.raises(InvalidSession):
        await identity.sessions.validate(session.secret)
    await identity.sessions.login("ann@example.com", NEW_PASSWORD, ClientInfo())
    with pytest.raises(InvalidRecoveryToken):
        await identity.recovery.reset(delivery.token, "yet another passphrase", Actor.anonymous())
    with pytest.raises(InvalidCredentials):
        await identity.sessions.login("ann@example.com", "yet another passphrase", ClientInfo())
    [(_, reset)] = await outbox_events(identity.ctx.db, "password_reset")
    assert (reset.data["via"], reset.data["sessions_revoked"]) == ("recovery", 1)


async def test_concurrent_resets_with_one_token_succeed_once(identity: Identity) -> None:
    await new_user(identity, email_verified=True)
    await request(identity, "ann@example.com")
    [token] = await issued_tokens(identity.ctx.db)

    async def reset(password: str) -> str:
        try:
            await identity.recovery.reset(token, password, Actor.anonymous())
        except InvalidRecoveryToken:
            return "refused"
        return "reset"

    outcomes = await asyncio.gather(*(reset(f"parallel passphrase {i}") for i in range(4)))
    assert sorted(outcomes) == ["refused", "refused", "refused", "reset"]


async def test_recovery_token_expires(identity: Identity, clock: ManualClock) -> None:
    await new_user(identity, email_verified=True)
    await request(identity, "ann@example.com")
    [token] = await issued_tokens(identity.ctx.db)
    clock.advance(identity.ctx.settings.password_recovery_ttl_seconds)
    with pytest.raises(InvalidRecoveryToken):
        await identity.recovery.reset(token, NEW_PASSWORD, Actor.anonymous())
    assert await identity.sweep() >= 1
    async with identity.ctx.db.read() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(tables.recovery_tokens)) == 0


async def test_only_enabled_users_with_verified_addresses_get_tokens(
    identity: Identity, clock: ManualClock
) -> None:
    await new_user(identity, "unverified@example.com")
    off = await new_user(identity, "off@example.com", email_verified=True)
    await identity.users.set_disabled(ADMIN, off, True)
    await new_user(identity, email_verified=True)
    for address in ("nobody@example.com", "unverified@example.com", "off@example.com"):
        await request(identity, address)
    await request(identity, "ann@example.com")
    await request(identity, "ann@example.com")  # within the cooldown
    clock.advance(identity.ctx.settings.password_recovery_cooldown_seconds)
    await request(identity, "ann@example.com")
    first, second = await issued_tokens(identity.ctx.db)
    with pytest.raises(InvalidRecoveryToken):
        await identity.recovery.reset(first, NEW_PASSWORD, Actor.anonymous())
    await identity.recovery.reset(second, NEW_PASSWORD, Actor.anonymous())
    outcomes = [
        (e.data["email"], e.data["outcome"])
        for _, e in await outbox_events(identity.ctx.db, "recovery_requested")
    ]
    assert outcomes == [
        ("nobody@example.com", "unknown_email"),
        ("unverified@example.com", "not_eligible"),
        ("off@example.com", "not_eligible"),
        ("ann@example.com", "token_issued"),
        ("ann@example.com", "cooldown"),
        ("ann@example.com", "token_issued"),
    ]


async def test_a_bad_new_password_keeps_the_token(identity: Identity) -> None:
    await new_user(identity, email_verified=True)
    await request(identity, "ann@example.com")
    [token] = await issued_tokens(identity.ctx.db)
    with pytest.raises(InvalidRecoveryToken):
        await identity.recovery.reset("not-a-token", NEW_PASSWORD, Actor.anonymous())
    with pytest.raises(Exception, match="at least"):
        await identity.recovery.reset(token, "short", Actor.anonymous())
    await identity.recovery.reset(token, NEW_PASSWORD, Actor.anonymous())


async def test_recovery_is_off_without_a_key(auth_db: Database, clock: ManualClock) -> None:
    identity = make_identity(auth_db, clock, password_recovery_key="")
    with pytest.raises(RecoveryUnavailable):
        identity.recovery.request("ann@example.com", Actor.anonymous())
    # Resetting still works with tokens handed out directly (the bootstrap administrator's link).
    with pytest.raises(InvalidRecoveryToken):
        await identity.recovery.reset("token", NEW_PASSWORD, Actor.anonymous())


# ---- audit log --------------------------------------------------------------------------------


async def audit_rows(identity: Identity, **filters: Any) -> list[AuditRow]:
    """The audit log's records matching `filters` (the others unset), newest first."""
    unset = dict.fromkeys(("actor", "action", "service", "target", "since", "until", "before"))
    return await identity.audit.query(**{**unset, "limit": 10, **filters})


async def test_audit_records_are_stored_once_and_queried_by_filters(identity: Identity) -> None:
    owner = await new_user(identity)
    await identity.users.update(ADMIN, owner, {"display_name": "Ann"})
    audit = [e for s, e in await outbox_events(identity.ctx.db) if s.startswith("audit.")]
    assert [e.short_type for e in audit] == ["user_created", "user_updated"]
    for event in [*audit, audit[0]]:  # a redelivery changes nothing
        async with identity.ctx.db.transaction() as tx:
            await identity.audit.store_record(tx, event)
    async with identity.ctx.db.transaction() as tx:
        await identity.audit.store_record(
            tx, CloudEvent(id=str(uuid.uuid4()), source="x", type="not.assay", time=utcnow(), data={})
        )

    async def query(**filters: Any) -> list[AuditRow]:
        return await audit_rows(identity, **filters)

    everything = await query()
    assert [(r.action, r.service) for r in everything] == [("user_updated", "auth"), ("user_created", "auth")]
    assert everything[1].data["email"] == "ann@example.com"
    assert [r.action for r in await query(action="user_created")] == ["user_created"]
    assert len(await query(target=str(owner), actor="tests")) == 2
    assert await query(actor="someone-else") == []
    newest = everything[0]
    assert [r.id for r in await query(before=newest.id)] == [everything[1].id]
    assert await query(since=newest.occurred_at + timedelta(seconds=1)) == []
    assert len(await query(until=newest.occurred_at + timedelta(seconds=1))) == 2


async def test_the_audit_log_keeps_the_records_of_every_service(identity: Identity) -> None:
    denied = BY_SERVICE["workflow"](
        actor_id="u-1",
        actor_kind="api_key",
        client_address="10.1.2.3",
        target_type="namespace",
        target_id="payments",
        method="GET",
        path="/api/v1/workflows",
        status=403,
        code="permission_denied",
        needed="namespace:payments#view",
    )
    event = CloudEvent(
        id=str(uuid7()),
        source="/assay/workflow",
        type=denied.type_name(),
        time=utcnow(),
        data=denied.model_dump(mode="json"),
    )
    for _ in range(2):  # a replay (a new consumer reads the stream from its start) changes nothing
        async with identity.ctx.db.transaction() as tx:
            await identity.audit.store_record(tx, event)
    (row,) = await audit_rows(identity, action="access_denied", service="workflow", target="payments")
    assert (row.id, row.service, row.actor_id, row.actor_kind, row.target_type, row.client_address) == (
        event.id,
        "workflow",
        "u-1",
        "api_key",
        "namespace",
        "10.1.2.3",
    )
    assert row.data["needed"] == "namespace:payments#view"
    assert await audit_rows(identity, action="access_denied", service="auth") == []
