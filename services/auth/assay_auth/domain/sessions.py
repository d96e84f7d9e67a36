"""Sessions: sign-in with a password, validation, sign-out, listing and revocation, and the
signed-in user's password change.

A session is identified in the browser by an opaque 256-bit secret (the `assay_session` cookie);
the store keeps only its digest. It ends when unused for the idle TTL or, used or not, at the
absolute TTL after sign-in; an ended session found on validation is deleted. Sign-in always makes
a new session (and ends the one the browser brought along), so a session id planted before
sign-in is worthless; a password change ends every other session and replaces the current one.
On a platform that never had an administrator, the first sign-in makes its user one
(`first_user_becomes_admin`), in the sign-in's transaction.

Every failed sign-in answers alike — unknown email, wrong password, no password set, disabled
user — with one Argon2id verification each (against a stand-in hash when there is no real one),
so neither the answer nor its timing tells which.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.errors import (
    CurrentPasswordIncorrect,
    InvalidCredentials,
    InvalidSession,
    LoginThrottled,
    SessionNotFound,
)
from assay_auth.domain.platform_schema import PlatformRoles
from assay_auth.domain.throttle import Lock, LoginThrottle, ThrottleKeys
from assay_auth.domain.tokens import digest, new_secret
from assay_auth.domain.users import email_key
from assay_auth.store import sessions as store
from assay_auth.store import users as user_store
from assay_auth.store.rows import SessionRow, UserRow
from assay_common.db import Transaction, uuid7
from assay_common.events.schemas import auth as audit

#: Touches of a busy session are written at most this often (or a tenth of the idle TTL).
_TOUCH_INTERVAL = timedelta(seconds=60)


@dataclass(frozen=True)
class NewSession:
    """A session just made, with the secrets the browser gets once (as cookies)."""

    session: SessionRow
    user: UserRow
    secret: str
    csrf_token: str


@dataclass(frozen=True)
class ValidSession:
    session: SessionRow
    user: UserRow
    idle_expires_at: datetime


@dataclass(frozen=True)
class ClientInfo:
    address: str | None = None
    user_agent: str | None = None


def _failure_reason(user: UserRow | None, matches: bool) -> str:
    """Why a sign-in failed, for the audit log only (the caller never learns it)."""
    if user is None:
        return "unknown_user"
    if user.password_hash is None:
        return "no_password"
    return "wrong_password" if not matches else "disabled"


class _Locked(Exception):
    def __init__(self, lock: Lock) -> None:
        self.lock = lock


class Sessions:
    def __init__(self, ctx: AuthContext, throttle: LoginThrottle, roles: PlatformRoles | None = None) -> None:
        self.ctx = ctx
        self.throttle = throttle
        self.roles = roles
        self.idle = timedelta(seconds=ctx.settings.session_idle_ttl_seconds)
        self.lifetime = timedelta(seconds=ctx.settings.session_absolute_ttl_seconds)
        self.touch_interval = min(_TOUCH_INTERVAL, self.idle / 10)

    def idle_expiry(self, session: SessionRow) -> datetime:
        return min(session.last_seen_at + self.idle, session.expires_at)

    async def login(
        self, email: str, password: str, client: ClientInfo, *, replacing_secret: str | None = None
    ) -> NewSession:
        """Sign in; `InvalidCredentials` or `LoginThrottled` otherwise."""
        key = email_key(email)
        keys = ThrottleKeys.of(key, client.address)
        anonymous = Actor.anonymous(client.address)
        now = self.ctx.now()
        try:
            async with self.ctx.db.transaction() as tx:
                lock = await self.throttle.count(tx, keys, now)
                if lock is not None:
                    raise _Locked(lock)
        except _Locked as locked:
            retry_after = locked.lock.retry_after(now)
            async with self.ctx.db.transaction() as tx:
                await self.ctx.audit(
                    tx,
                    audit.LoginThrottled,
                    anonymous,
                    email=email[:320],
                    locked_by=locked.lock.scope,
                    retry_after_seconds=retry_after,
                )
            raise LoginThrottled(retry_after) from None

        async with self.ctx.db.read() as conn:
            user = await user_store.by_email_key(conn, key)
        stored = user.password_hash if user is not None else None
        matches = await self.ctx.passwords.verify(stored, password)
        if user is None or not matches or user.disabled:
            reason = _failure_reason(user, matches)
            async with self.ctx.db.transaction() as tx:
                await self.ctx.audit(
                    tx,
                    audit.LoginFailed,
                    anonymous,
                    target_type="user" if user else None,
                    target_id=user.id if user else None,
                    email=email[:320],
                    reason=reason,
                )
            raise InvalidCredentials("the email or password is not correct")

        assert stored is not None
        new_hash = (
            await self.ctx.passwords.hash(password) if self.ctx.passwords.needs_rehash(stored) else None
        )
        async with self.ctx.db.transaction() as tx:
            await self.throttle.succeeded(tx, keys)
            if new_hash is not None:
                # The same password, hashed with the current parameters.
                await user_store.update(tx.conn, user.id, password_hash=new_hash)
            created = await self.start(tx, user, client, replacing_secret=replacing_secret)
            await self.audit_sign_in(tx, created, client, password_rehashed=new_hash is not None)
        return created

    async def audit_sign_in(
        self, tx: Transaction, created: NewSession, client: ClientInfo, **details: Any
    ) -> None:
        """The audit record of a sign-in that made `created` (`details`: how it was made)."""
        user = created.user
        await self.ctx.audit(
            tx,
            audit.LoginSucceeded,
            Actor.user(user.id, client.address),
            target_type="user",
            target_id=user.id,
            session_id=str(created.session.id),
            **details,
        )

    async def start(
        self, tx: Transaction, user: UserRow, client: ClientInfo, *, replacing_secret: str | None
    ) -> NewSession:
        """A new session of `user`, whichever way they proved who they are; the browser's previous
        session (`replacing_secret`, its cookie) ends."""
        if replacing_secret:
            replaced = await store.delete_by_secret_hash(tx.conn, digest(replacing_secret))
            if replaced is not None:
                await self._ended(
                    tx, replaced, Actor.user(replaced.user_id, client.address), reason="replaced"
                )
        if self.roles is not None:
            await self.roles.first_user(tx, Actor.user(user.id, client.address), user.id)
        return await self._create(tx, user, client)

    async def _create(self, tx: Transaction, user: UserRow, client: ClientInfo) -> NewSession:
        now = self.ctx.now()
        secret, csrf = new_secret(), new_secret()
        row = SessionRow(
            id=uuid7(),
            user_id=user.id,
            csrf_hash=digest(csrf),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.lifetime,
            client_address=client.address[:100] if client.address else None,
            user_agent=client.user_agent[:300] if client.user_agent else None,
        )
        await store.insert(tx.conn, {**dataclasses.asdict(row), "secret_hash": digest(secret)})
        return NewSession(row, user, secret, csrf)

    async def validate(self, secret: str) -> ValidSession:
        """The live session of this secret; `InvalidSession` otherwise. An ended session is
        deleted; a live one is marked used (at most once per touch interval)."""
        now = self.ctx.now()
        async with self.ctx.db.read() as conn:
            found = await store.by_secret_hash(conn, digest(secret))
        if found is None:
            raise InvalidSession("the session is unknown or has ended")
        session, user = found.session, found.user
        if session.expires_at <= now or session.last_seen_at + self.idle <= now:
            async with self.ctx.db.transaction() as tx:
                await store.delete(tx.conn, session.id)
            raise InvalidSession("the session has ended")
        if user.disabled:
            raise InvalidSession("the session's user is disabled")
        if now - session.last_seen_at >= self.touch_interval:
            async with self.ctx.db.transaction() as tx:
                await store.touch(tx.conn, session.id, now=now, cutoff=now - self.touch_interval)
            session = dataclasses.replace(session, last_seen_at=now)
        return ValidSession(session, user, self.idle_expiry(session))

    async def logout(self, actor: Actor, *, secret: str | None, session_id: uuid.UUID | None) -> bool:
        """End the session of this secret (the browser's cookie) or, without one, the session the
        signed-in actor acts through; False when there was none."""
        async with self.ctx.db.transaction() as tx:
            if secret:
                ended = await store.delete_by_secret_hash(tx.conn, digest(secret))
            elif session_id is not None and actor.user_id is not None:
                ended = await store.delete_of_owner(tx.conn, session_id, actor.user_id)
            else:
                ended = None
            if ended is not None:
                await self._ended(tx, ended, actor, reason="logged_out")
        return ended is not None

    async def _ended(self, tx: Transaction, ended: SessionRow, actor: Actor, *, reason: str) -> None:
        await self.ctx.revoked(tx, ended.user_id, reason=reason, session_ids=[ended.id])
        await self.ctx.audit(
            tx,
            audit.LoggedOut,
            actor,
            target_type="user",
            target_id=ended.user_id,
            session_id=str(ended.id),
        )

    async def list_live(self, user_id: uuid.UUID) -> list[SessionRow]:
        now = self.ctx.now()
        async with self.ctx.db.read() as conn:
            return await store.live_of_user(conn, user_id, now=now, idle_cutoff=now - self.idle)

    async def revoke(self, actor: Actor, session_id: uuid.UUID, *, owner: uuid.UUID | None) -> None:
        """End one session; with `owner`, only one of that user's (else it is not found)."""
        async with self.ctx.db.transaction() as tx:
            session = await store.get(tx.conn, session_id)
            if (
                session is None
                or (owner is not None and session.user_id != owner)
                or not await store.delete(tx.conn, session_id)
            ):
                raise SessionNotFound(f"session {session_id} does not exist")
            await self._revoked(tx, actor, session.user_id, [session_id])

    async def revoke_all(self, actor: Actor, user_id: uuid.UUID) -> int:
        async with self.ctx.db.transaction() as tx:
            ended = await store.delete_of_user(tx.conn, user_id)
            if ended:
                await self._revoked(tx, actor, user_id, ended)
        return len(ended)

    async def _revoked(
        self, tx: Transaction, actor: Actor, user_id: uuid.UUID, ended: list[uuid.UUID]
    ) -> None:
        await self.ctx.revoked(tx, user_id, reason="revoked", session_ids=ended)
        await self.ctx.audit(
            tx,
            audit.SessionsRevoked,
            actor,
            target_type="user",
            target_id=user_id,
            session_ids=[str(s) for s in ended],
        )

    async def change_password(
        self, actor: Actor, user_id: uuid.UUID, current: str, new: str, client: ClientInfo
    ) -> NewSession:
        """The signed-in user's own change: the current password is checked (and throttled like
        a sign-in); every session of the user ends and the caller gets a fresh one."""
        async with self.ctx.db.read() as conn:
            user = await user_store.get(conn, user_id)
        if user is None:
            raise InvalidSession("the user no longer exists")
        keys = ThrottleKeys.of(user.email_key, client.address)
        now = self.ctx.now()
        try:
            async with self.ctx.db.transaction() as tx:
                lock = await self.throttle.count(tx, keys, now)
                if lock is not None:
                    raise _Locked(lock)
        except _Locked as locked:
            raise LoginThrottled(locked.lock.retry_after(now)) from None
        if not await self.ctx.passwords.verify(user.password_hash, current):
            raise CurrentPasswordIncorrect("the current password is not correct")
        self.ctx.passwords.check_policy(new)
        new_hash = await self.ctx.passwords.hash(new)
        async with self.ctx.db.transaction() as tx:
            await self.throttle.succeeded(tx, keys)
            now = self.ctx.now()
            await user_store.update(
                tx.conn, user_id, password_hash=new_hash, password_changed_at=now, updated_at=now
            )
            ended = await store.delete_of_user(tx.conn, user_id)
            await self.ctx.revoked(tx, user_id, reason="password_changed", session_ids=ended)
            created = await self._create(tx, user, client)
            await self.ctx.audit(
                tx,
                audit.PasswordChanged,
                actor,
                target_type="user",
                target_id=user_id,
                sessions_revoked=len(ended),
            )
        return created

    async def sweep(self, tx: Transaction, now: datetime) -> int:
        return await store.delete_ended(tx.conn, now=now, idle_cutoff=now - self.idle)
