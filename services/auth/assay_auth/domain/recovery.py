"""Self-service password recovery.

A request names an email address and is always accepted alike, whether or not the address belongs
to anyone: the work happens after the answer. For an enabled user with a verified address, a
single-use token valid for the recovery TTL is made (only its digest is stored; a new one replaces
the old, at most one per cooldown) and handed to the mail sender in the
`assay.auth.password_recovery_requested` event, sealed with the recovery key. Resetting with the
token (or with one `issue` handed out) sets the new password and ends every session of the user.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import datetime, timedelta

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.errors import InvalidRecoveryToken, RecoveryUnavailable
from assay_auth.domain.tokens import digest, new_secret
from assay_auth.domain.users import email_key
from assay_auth.store import recovery as store
from assay_auth.store import sessions as session_store
from assay_auth.store import users as user_store
from assay_common.db import Transaction
from assay_common.events.schemas.auth import (
    PasswordRecoveryRequested,
    PasswordReset,
    RecoveryDelivery,
    RecoveryRequested,
    seal_recovery_delivery,
)

log = logging.getLogger("assay.auth.recovery")


class Recovery:
    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx
        self.key = ctx.settings.password_recovery_key.get_secret_value()
        self.ttl = timedelta(seconds=ctx.settings.password_recovery_ttl_seconds)
        self.cooldown = timedelta(seconds=ctx.settings.password_recovery_cooldown_seconds)
        self._pending: set[asyncio.Task[None]] = set()

    def _check_enabled(self) -> None:
        if not self.key:
            raise RecoveryUnavailable("an operator must set the auth service's password_recovery_key first")

    def request(self, email: str, actor: Actor) -> None:
        """Accept a request; it is carried out in the background, so that neither the answer nor
        its timing depends on the address."""
        self._check_enabled()
        task = asyncio.get_running_loop().create_task(self._carry_out(email, actor))
        self._pending.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("a password-recovery request failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the requests being carried out (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)

    async def _carry_out(self, email: str, actor: Actor) -> None:
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            found = await user_store.by_email_key(tx.conn, email_key(email))
            # Locked, so that two requests at once make one token, not a conflict.
            user = await user_store.get(tx.conn, found.id, for_update=True) if found is not None else None
            if user is None:
                await self._audit(tx, actor, email, None, "unknown_email")
                return
            if user.disabled or not user.email_verified:
                await self._audit(tx, actor, email, user.id, "not_eligible")
                return
            issued = await store.issued_at(tx.conn, user.id)
            if issued is not None and now - issued < self.cooldown:
                await self._audit(tx, actor, email, user.id, "cooldown")
                return
            token = new_secret()
            expires_at = now + self.ttl
            await store.replace(
                tx.conn, user.id, token_hash=digest(token), created_at=now, expires_at=expires_at
            )
            sealed = seal_recovery_delivery(self.key, RecoveryDelivery(email=user.email, token=token))
            await self.ctx.outbox.add(
                tx,
                PasswordRecoveryRequested(user_id=str(user.id), sealed=sealed, expires_at=expires_at),
                subject=f"users/{user.id}",
            )
            await self._audit(tx, actor, email, user.id, "token_issued")

    async def _audit(self, tx: Transaction, actor: Actor, email: str, user_id: object, outcome: str) -> None:
        await self.ctx.audit(
            tx,
            RecoveryRequested,
            actor,
            target_type="user" if user_id else None,
            target_id=user_id,
            email=email[:320],
            outcome=outcome,
        )

    async def issue(self, tx: Transaction, user_id: uuid.UUID, ttl: timedelta) -> tuple[str, datetime]:
        """A token for `user_id` to set a password with, handed to the caller rather than mailed
        (the bootstrap administrator's link): the token and when it stops working."""
        token = new_secret()
        now = self.ctx.now()
        await store.replace(tx.conn, user_id, token_hash=digest(token), created_at=now, expires_at=now + ttl)
        return token, now + ttl

    async def reset(self, token: str, new_password: str, actor: Actor) -> None:
        """Set the password of the token's user and use the token up; every session ends. Works
        without the recovery key too: tokens handed out by `issue` need no mail."""
        now = self.ctx.now()
        async with self.ctx.db.read() as conn:
            user_id = await store.owner(conn, digest(token), now=now)
            user = await user_store.get(conn, user_id) if user_id is not None else None
        if user is None or user.disabled:
            raise InvalidRecoveryToken("ask for a new recovery email")
        self.ctx.passwords.check_policy(new_password)
        password_hash = await self.ctx.passwords.hash(new_password)
        async with self.ctx.db.transaction() as tx:
            if await store.take(tx.conn, digest(token), now=self.ctx.now()) != user.id:
                raise InvalidRecoveryToken("ask for a new recovery email")
            now = self.ctx.now()
            await user_store.update(
                tx.conn, user.id, password_hash=password_hash, password_changed_at=now, updated_at=now
            )
            ended = await session_store.delete_of_user(tx.conn, user.id)
            await self.ctx.revoked(tx, user.id, reason="password_reset", session_ids=ended)
            await self.ctx.audit(
                tx,
                PasswordReset,
                actor,
                target_type="user",
                target_id=user.id,
                via="recovery",
                sessions_revoked=len(ended),
            )

    async def sweep(self, tx: Transaction) -> int:
        return await store.delete_expired(tx.conn, now=self.ctx.now())
