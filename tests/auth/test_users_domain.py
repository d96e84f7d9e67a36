"""Users in the store, on SQLite and Postgres: uniqueness, listing, updates, disabling, deletion."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from assay_auth.domain.context import Actor
from assay_auth.domain.errors import CannotChangeSelf, EmailTaken, InvalidEmail, UserNotFound, WeakPassword
from assay_auth.domain.identity import Identity
from assay_auth.domain.sessions import ClientInfo
from assay_auth.domain.users import InvalidMetadata
from assay_auth.store import tables
from assay_common.db import Database
from tests.auth.conftest import outbox_events
from tests.auth_api import PASSWORD

ADMIN = Actor(id="tests", kind="service")


async def test_migrations_create_exactly_the_tables_the_code_uses(auth_db: Database) -> None:
    def differences(conn: sa.Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        found: list[object] = []
        for difference in compare_metadata(context, tables.metadata):
            # Column changes come in groups; comments (documentation in the code) do not count,
            # nor tables of Alembic's own.
            if isinstance(difference, list):
                found += [change for change in difference if change[0] != "modify_comment"]
            elif difference[0] != "remove_table":
                found.append(difference)
        return found

    async with auth_db.engine.connect() as conn:
        assert await conn.run_sync(differences) == []


async def test_emails_are_unique_whatever_their_case_and_kept_as_written(identity: Identity) -> None:
    ann = await identity.users.create(ADMIN, email="  Ann@Example.COM ", display_name="Ann")
    assert ann.email == "Ann@Example.COM"
    with pytest.raises(EmailTaken):
        await identity.users.create(ADMIN, email="ann@example.com")
    assert (await identity.users.get(ann.id)).display_name == "Ann"
    [(subject, created)] = await outbox_events(identity.ctx.db, "user_created")
    assert subject == "audit.auth.user_created"
    assert created.data["target_id"] == str(ann.id)
    assert created.data["actor_kind"] == "service"


@pytest.mark.parametrize("address", ["no-at-sign", "two@@example.com", "a b@example.com", "@example.com"])
async def test_malformed_emails_are_refused(identity: Identity, address: str) -> None:
    with pytest.raises(InvalidEmail):
        await identity.users.create(ADMIN, email=address)


async def test_a_password_given_at_creation_must_meet_the_policy(identity: Identity) -> None:
    with pytest.raises(WeakPassword):
        await identity.users.create(ADMIN, email="weak@example.com", password="short")
    with pytest.raises(UserNotFound):
        await identity.users.get(uuid.uuid4())


async def test_oversized_metadata_is_refused(identity: Identity) -> None:
    with pytest.raises(InvalidMetadata):
        await identity.users.create(ADMIN, email="big@example.com", metadata={"blob": "x" * 20_000})


async def test_listing_searches_email_and_name_literally_and_pages_newest_first(identity: Identity) -> None:
    made = [
        await identity.users.create(ADMIN, email=f"user{i}@example.com", display_name=f"Team_{i % 2}")
        for i in range(5)
    ]
    await identity.users.create(ADMIN, email="percent@example.com", display_name="100% sure")
    first = await identity.users.list(search="USER", before=None, limit=3)
    assert [u.id for u in first] == [made[4].id, made[3].id, made[2].id]
    rest = await identity.users.list(search="user", before=first[-1].id, limit=3)
    assert [u.id for u in rest] == [made[1].id, made[0].id]
    assert {u.email for u in await identity.users.list(search="team_1", before=None, limit=10)} == {
        "user1@example.com",
        "user3@example.com",
    }
    # `%` and `_` are characters to find, not wildcards.
    assert [u.email for u in await identity.users.list(search="0%", before=None, limit=10)] == [
        "percent@example.com"
    ]
    assert await identity.users.list(search="user_", before=None, limit=10) == []


async def test_update_changes_only_given_fields_and_a_new_email_is_unverified(identity: Identity) -> None:
    user = await identity.users.create(ADMIN, email="bob@example.com", email_verified=True)
    await identity.users.create(ADMIN, email="taken@example.com")
    with pytest.raises(EmailTaken):
        await identity.users.update(ADMIN, user.id, {"email": "TAKEN@example.com"})
    updated = await identity.users.update(
        ADMIN, user.id, {"email": "robert@example.com", "metadata": {"team": "a"}}
    )
    assert (updated.email, updated.email_verified, updated.metadata) == (
        "robert@example.com",
        False,
        {"team": "a"},
    )
    assert updated.display_name == ""
    # A change of letter case only keeps the verification.
    verified = await identity.users.update(ADMIN, user.id, {"email_verified": True})
    assert (await identity.users.update(ADMIN, user.id, {"email": "Robert@example.com"})).email_verified
    assert verified.updated_at <= (await identity.users.get(user.id)).updated_at
    [*_, (_, last)] = await outbox_events(identity.ctx.db, "user_updated")
    assert last.data["fields"] == ["email"]


async def test_privilege_change_disable_and_delete_end_sessions(identity: Identity) -> None:
    user = await identity.users.create(ADMIN, email="carol@example.com", password=PASSWORD)
    first = await identity.sessions.login("carol@example.com", PASSWORD, ClientInfo())
    await identity.users.update(ADMIN, user.id, {"is_admin": True})
    assert await identity.sessions.list_live(user.id) == []

    await identity.sessions.login("carol@example.com", PASSWORD, ClientInfo())
    disabled = await identity.users.set_disabled(ADMIN, user.id, True)
    assert disabled.disabled and await identity.sessions.list_live(user.id) == []
    enabled = await identity.users.set_disabled(ADMIN, user.id, False)
    assert not enabled.disabled

    await identity.sessions.login("carol@example.com", PASSWORD, ClientInfo())
    await identity.api_keys.create(ADMIN, user.id, name="ci", scopes=[], expires_at=None)
    await identity.users.delete(ADMIN, user.id)
    with pytest.raises(UserNotFound):
        await identity.users.get(user.id)
    async with identity.ctx.db.read() as conn:
        for table in (tables.sessions, tables.api_keys):
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(table).where(table.c.user_id == user.id)
            )
            assert count == 0, table.name
    revoked = [e.data for _, e in await outbox_events(identity.ctx.db, "credentials_revoked")]
    assert [r["reason"] for r in revoked] == ["privileges_changed", "user_disabled", "user_deleted"]
    assert revoked[0]["session_ids"] == [str(first.session.id)]
    assert all(r["all_of_user"] for r in revoked)
    actions = [
        e.type.rsplit(".", 1)[1] for s, e in await outbox_events(identity.ctx.db) if s.startswith("audit.")
    ]
    assert {"user_disabled", "user_enabled", "user_deleted"} <= set(actions)


async def test_an_administrator_cannot_disable_delete_or_demote_themselves(identity: Identity) -> None:
    admin = await identity.users.create(ADMIN, email="root@example.com", is_admin=True)
    me = Actor.user(admin.id)
    with pytest.raises(CannotChangeSelf):
        await identity.users.set_disabled(me, admin.id, True)
    with pytest.raises(CannotChangeSelf):
        await identity.users.delete(me, admin.id)
    with pytest.raises(CannotChangeSelf):
        await identity.users.update(me, admin.id, {"is_admin": False})
    assert (await identity.users.get(admin.id)).is_admin


async def test_admin_password_reset_replaces_the_password_and_ends_sessions(identity: Identity) -> None:
    user = await identity.users.create(ADMIN, email="dan@example.com", password=PASSWORD)
    await identity.sessions.login("dan@example.com", PASSWORD, ClientInfo())
    await identity.users.reset_password(ADMIN, user.id, "a brand new passphrase")
    assert await identity.sessions.list_live(user.id) == []
    await identity.sessions.login("dan@example.com", "a brand new passphrase", ClientInfo())
    [(_, reset)] = await outbox_events(identity.ctx.db, "password_reset")
    assert (reset.data["via"], reset.data["sessions_revoked"]) == ("admin", 1)
