"""Sign-in, sessions and throttling in the domain, on SQLite and Postgres, with a test clock."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest
import sqlalchemy as sa
from prometheus_client import REGISTRY

from assay_auth.domain.context import Actor
from assay_auth.domain.errors import (
    CurrentPasswordIncorrect,
    InvalidCredentials,
    InvalidSession,
    LoginThrottled,
    SessionNotFound,
)
from assay_auth.domain.identity import Identity
from assay_auth.domain.sessions import ClientInfo
from assay_auth.domain.tokens import digest
from assay_auth.store import tables
from assay_common.db import Database
from tests.auth.conftest import ManualClock, make_identity, outbox_events
from tests.auth_api import PASSWORD

ADMIN = Actor(id="tests", kind="service")
HERE = ClientInfo(address="192.0.2.1", user_agent="pytest")


async def make_user(identity: Identity, email: str = "ann@example.com", **fields: object) -> None:
    await identity.users.create(ADMIN, email=email, password=PASSWORD, **fields)  # type: ignore[arg-type]


async def session_count(db: Database) -> int:
    async with db.read() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(tables.sessions)) or 0)


async def test_login_makes_a_session_found_by_its_secret_only(identity: Identity) -> None:
    await make_user(identity)
    created = await identity.sessions.login("ANN@example.com", PASSWORD, HERE)
    valid = await identity.sessions.validate(created.secret)
    assert valid.session.id == created.session.id
    assert valid.user.email == "ann@example.com"
    assert valid.session.csrf_hash == digest(created.csrf_token)
    assert (valid.session.client_address, valid.session.user_agent) == ("192.0.2.1", "pytest")
    async with identity.ctx.db.read() as conn:
        stored = (await conn.execute(sa.select(tables.sessions))).one()
    assert stored.secret_hash == digest(created.secret) and created.secret not in str(stored)
    with pytest.raises(InvalidSession):
        await identity.sessions.validate(digest(created.secret))
    [(_, audit)] = await outbox_events(identity.ctx.db, "login_succeeded")
    assert audit.data["session_id"] == str(created.session.id)
    assert (audit.data["actor_id"], audit.data["client_address"]) == (str(valid.user.id), "192.0.2.1")


async def test_every_failed_login_answers_alike_and_costs_one_verification(identity: Identity) -> None:
    await make_user(identity)
    await identity.users.create(ADMIN, email="nopass@example.com")
    await make_user(identity, "off@example.com")
    user = await identity.users.list(search="off@", before=None, limit=1)
    await identity.users.set_disabled(ADMIN, user[0].id, True)

    answers = []
    for email, password in [
        ("ann@example.com", "wrong password!"),
        ("ghost@example.com", PASSWORD),
        ("nopass@example.com", PASSWORD),
        ("off@example.com", PASSWORD),
    ]:
        before = REGISTRY.get_sample_value("assay_auth_password_verifications_total") or 0.0
        with pytest.raises(InvalidCredentials) as failed:
            await identity.sessions.login(email, password, ClientInfo(address=email))
        after = REGISTRY.get_sample_value("assay_auth_password_verifications_total") or 0.0
        answers.append((failed.value.status, failed.value.code, failed.value.detail, after - before))
    assert len(set(answers)) == 1, answers
    assert answers[0][3] == 1.0
    reasons = [e.data["reason"] for _, e in await outbox_events(identity.ctx.db, "login_failed")]
    assert reasons == ["wrong_password", "unknown_user", "no_password", "disabled"]


async def test_unknown_user_takes_as_long_as_a_wrong_password(auth_db: Database, clock: ManualClock) -> None:
    # A hash expensive enough to dominate a sign-in, so timing differences would show.
    identity = make_identity(
        auth_db,
        clock,
        password_hash_memory_kib=32768,
        password_hash_time_cost=2,
        login_throttle_account_failures=50,
    )
    await make_user(identity)

    async def duration(email: str, address: str) -> float:
        started = time.perf_counter()
        with pytest.raises(InvalidCredentials):
            await identity.sessions.login(email, "wrong password!", ClientInfo(address=address))
        return time.perf_counter() - started

    # Interleaved, so that a machine getting busier or quieter meanwhile weighs on both alike.
    known_samples, unknown_samples = [], []
    for i in range(5):
        known_samples.append(await duration("ann@example.com", f"a{i}"))
        unknown_samples.append(await duration(f"ghost{i}@example.com", f"b{i}"))
    known, unknown = statistics.median(known_samples), statistics.median(unknown_samples)
    assert 0.5 < unknown / known < 2.0, (known_samples, unknown_samples)


async def test_idle_session_ends_and_is_deleted_when_found(identity: Identity, clock: ManualClock) -> None:
    await make_user(identity)
    idle = identity.ctx.settings.session_idle_ttl_seconds
    created = await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    clock.advance(idle - 1)
    kept = await identity.sessions.validate(created.secret)
    assert kept.session.last_seen_at == clock.now, "use moves the idle end"
    clock.advance(idle - 1)
    await identity.sessions.validate(created.secret)
    clock.advance(idle)
    assert await identity.sessions.list_live(kept.user.id) == []
    with pytest.raises(InvalidSession):
        await identity.sessions.validate(created.secret)
    assert await session_count(identity.ctx.db) == 0


async def test_session_ends_at_its_absolute_ttl_however_busy(auth_db: Database, clock: ManualClock) -> None:
    identity = make_identity(auth_db, clock, session_idle_ttl_seconds=60, session_absolute_ttl_seconds=300)
    await make_user(identity)
    created = await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    assert created.session.expires_at == clock.now + (created.session.expires_at - created.session.created_at)
    for _ in range(9):
        clock.advance(30)
        await identity.sessions.validate(created.secret)
    clock.advance(30)
    with pytest.raises(InvalidSession):
        await identity.sessions.validate(created.secret)
    assert await session_count(auth_db) == 0


async def test_a_busy_session_is_written_at_most_once_per_touch_interval(
    auth_db: Database, clock: ManualClock
) -> None:
    identity = make_identity(auth_db, clock, session_idle_ttl_seconds=100)
    await make_user(identity)
    created = await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    clock.advance(5)
    assert (
        await identity.sessions.validate(created.secret)
    ).session.last_seen_at == created.session.created_at
    clock.advance(5)
    assert (await identity.sessions.validate(created.secret)).session.last_seen_at == clock.now


async def test_login_replaces_the_session_the_browser_brought(identity: Identity) -> None:
    await make_user(identity)
    first = await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    second = await identity.sessions.login("ann@example.com", PASSWORD, HERE, replacing_secret=first.secret)
    with pytest.raises(InvalidSession):
        await identity.sessions.validate(first.secret)
    assert (await identity.sessions.validate(second.secret)).session.id == second.session.id


async def test_logout_revoke_and_revoke_all(identity: Identity) -> None:
    await make_user(identity)
    sessions = [await identity.sessions.login("ann@example.com", PASSWORD, HERE) for _ in range(4)]
    user_id = sessions[0].user.id
    me = Actor.user(user_id)
    assert await identity.sessions.logout(me, secret=sessions[0].secret, session_id=None)
    assert not await identity.sessions.logout(me, secret=sessions[0].secret, session_id=None)
    assert await identity.sessions.logout(me, secret=None, session_id=sessions[1].session.id)
    await identity.users.create(ADMIN, email="other@example.com")
    [other] = await identity.users.list(search="other@", before=None, limit=1)
    with pytest.raises(SessionNotFound):
        await identity.sessions.revoke(me, sessions[2].session.id, owner=other.id)
    await identity.sessions.revoke(me, sessions[2].session.id, owner=user_id)
    assert [s.id for s in await identity.sessions.list_live(user_id)] == [sessions[3].session.id]
    assert await identity.sessions.revoke_all(ADMIN, user_id) == 1
    assert await session_count(identity.ctx.db) == 0
    revoked = [e.data["session_ids"] for _, e in await outbox_events(identity.ctx.db, "credentials_revoked")]
    assert revoked == [[str(s.session.id)] for s in sessions]


async def test_password_change_ends_every_session_and_rotates_the_current_one(identity: Identity) -> None:
    await make_user(identity)
    current = await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    other = await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    me = Actor.user(current.user.id)
    with pytest.raises(CurrentPasswordIncorrect):
        await identity.sessions.change_password(
            me, current.user.id, "not it at all", "whatever long enough", HERE
        )
    fresh = await identity.sessions.change_password(
        me, current.user.id, PASSWORD, "a new long passphrase", HERE
    )
    for old in (current, other):
        with pytest.raises(InvalidSession):
            await identity.sessions.validate(old.secret)
    assert fresh.session.id not in (current.session.id, other.session.id)
    await identity.sessions.validate(fresh.secret)
    with pytest.raises(InvalidCredentials):
        await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    await identity.sessions.login("ann@example.com", "a new long passphrase", HERE)
    [(_, changed)] = await outbox_events(identity.ctx.db, "password_changed")
    assert changed.data["sessions_revoked"] == 2


async def test_login_rehashes_a_password_hashed_with_other_parameters(
    auth_db: Database, clock: ManualClock
) -> None:
    await make_user(make_identity(auth_db, clock))
    stronger = make_identity(auth_db, clock, password_hash_memory_kib=16384, password_hash_time_cost=2)

    async def stored_hash() -> str:
        async with auth_db.read() as conn:
            return str(await conn.scalar(sa.select(tables.users.c.password_hash)))

    assert "$m=8192,t=1,p=1$" in await stored_hash()
    await stronger.sessions.login("ann@example.com", PASSWORD, HERE)
    assert "$m=16384,t=2,p=1$" in await stored_hash()
    await stronger.sessions.login("ann@example.com", PASSWORD, HERE)
    rehashed = [e.data["password_rehashed"] for _, e in await outbox_events(auth_db, "login_succeeded")]
    assert rehashed == [True, False]


async def test_account_throttle_backs_off_exponentially(auth_db: Database, clock: ManualClock) -> None:
    identity = make_identity(
        auth_db,
        clock,
        login_throttle_account_failures=3,
        login_throttle_base_seconds=10,
        login_throttle_max_seconds=35,
    )
    await make_user(identity)

    async def attempt(password: str = "wrong password!", address: str = "a") -> BaseException | None:
        try:
            await identity.sessions.login("ann@example.com", password, ClientInfo(address=address))
        except (InvalidCredentials, LoginThrottled) as exc:
            return exc
        return None

    for i in range(3):
        assert isinstance(await attempt(address=f"x{i}"), InvalidCredentials)
    locked = await attempt(PASSWORD)
    assert isinstance(locked, LoginThrottled) and locked.retry_after == 10, "even the right password waits"
    clock.advance(10)
    assert isinstance(await attempt(), InvalidCredentials)
    locked = await attempt()
    assert isinstance(locked, LoginThrottled) and locked.retry_after == 20
    clock.advance(20)
    assert isinstance(await attempt(), InvalidCredentials)
    locked = await attempt()
    assert isinstance(locked, LoginThrottled) and locked.retry_after == 35, "capped at the maximum"
    clock.advance(35)
    assert await attempt(PASSWORD) is None, "the right password after the lock signs in and clears the count"
    assert isinstance(await attempt(), InvalidCredentials)
    assert isinstance(await attempt(), InvalidCredentials)
    throttled = [e.data for _, e in await outbox_events(auth_db, "login_throttled")]
    assert [(t["locked_by"], t["retry_after_seconds"]) for t in throttled] == [
        ("account", 10),
        ("account", 20),
        ("account", 35),
    ]


async def test_failures_further_apart_than_the_window_start_over(
    auth_db: Database, clock: ManualClock
) -> None:
    identity = make_identity(
        auth_db, clock, login_throttle_account_failures=2, login_throttle_window_seconds=60
    )
    await make_user(identity)
    for _ in range(5):
        with pytest.raises(InvalidCredentials):
            await identity.sessions.login("ann@example.com", "wrong password!", HERE)
        clock.advance(61)


async def test_address_throttle_covers_every_account_even_unknown_ones(
    auth_db: Database, clock: ManualClock
) -> None:
    identity = make_identity(auth_db, clock, login_throttle_address_failures=3)
    await make_user(identity)
    for i in range(3):
        with pytest.raises(InvalidCredentials):
            await identity.sessions.login(f"nobody{i}@example.com", PASSWORD, HERE)
    with pytest.raises(LoginThrottled):
        await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    await identity.sessions.login("ann@example.com", PASSWORD, ClientInfo(address="198.51.100.7"))
    [(_, throttled)] = await outbox_events(auth_db, "login_throttled")
    assert (throttled.data["locked_by"], throttled.data["client_address"]) == ("address", HERE.address)


async def test_a_burst_of_parallel_attempts_cannot_exceed_the_limit(
    auth_db: Database, clock: ManualClock
) -> None:
    identity = make_identity(auth_db, clock, login_throttle_account_failures=3)
    await make_user(identity)

    async def attempt(i: int) -> str:
        try:
            await identity.sessions.login("ann@example.com", "wrong password!", ClientInfo(address=f"p{i}"))
        except (InvalidCredentials, LoginThrottled) as exc:
            return exc.code
        return "signed_in"

    outcomes = await asyncio.gather(*(attempt(i) for i in range(12)))
    assert outcomes.count("invalid_credentials") == 3, outcomes
    assert outcomes.count("login_throttled") == 9


async def test_sweep_removes_ended_sessions(identity: Identity, clock: ManualClock) -> None:
    await make_user(identity)
    await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    clock.advance(60)
    kept = await identity.sessions.login("ann@example.com", PASSWORD, HERE)
    clock.advance(identity.ctx.settings.session_idle_ttl_seconds - 30)
    assert await identity.sweep() >= 1
    assert await session_count(identity.ctx.db) == 1
    await identity.sessions.validate(kept.secret)
