"""What every part of the auth domain works with: the store, the outbox, the settings, the clock,
the password hasher; and who is acting (for the audit trail)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay_auth.domain.passwords import Passwords
from assay_auth.settings import AuthSettings
from assay_common.db import Database, Transaction, utcnow
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.auth import AuthAudit, CredentialsRevoked

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Actor:
    """Who performs an action: a user, an API key's owner, a service, or nobody yet (anonymous)."""

    id: str | None
    kind: str
    address: str | None = None

    @classmethod
    def anonymous(cls, address: str | None = None) -> Actor:
        return cls(id=None, kind="anonymous", address=address)

    @classmethod
    def user(cls, user_id: uuid.UUID, address: str | None = None) -> Actor:
        return cls(id=str(user_id), kind="user", address=address)

    @property
    def user_id(self) -> uuid.UUID | None:
        """The acting user, when a user (directly or through an API key) acts."""
        if self.kind not in ("user", "api_key") or self.id is None:
            return None
        try:
            return uuid.UUID(self.id)
        except ValueError:
            return None


@dataclass
class AuthContext:
    db: Database
    outbox: Outbox
    settings: AuthSettings
    passwords: Passwords
    clock: Clock = utcnow

    def now(self) -> datetime:
        return self.clock()

    async def audit(
        self,
        tx: Transaction,
        record: type[AuthAudit],
        actor: Actor,
        *,
        target_type: str | None = None,
        target_id: object = None,
        **details: Any,
    ) -> None:
        """Write an audit record of `actor`'s action on a target; it reaches the audit stream
        only if `tx` commits."""
        target = None if target_id is None else str(target_id)
        data = record(
            actor_id=actor.id,
            actor_kind=actor.kind,
            client_address=actor.address,
            target_type=target_type,
            target_id=target,
            **details,
        )
        subject = f"{target_type}s/{target}" if target_type and target else None
        await self.outbox.add(tx, data, subject=subject, audit=True)

    async def revoked(
        self,
        tx: Transaction,
        user_id: uuid.UUID,
        *,
        reason: str,
        session_ids: Sequence[uuid.UUID] = (),
        api_key_ids: Sequence[uuid.UUID] = (),
        all_of_user: bool = False,
    ) -> None:
        """Tell whoever caches credentials (the gateway) that these ended before their time."""
        if not (session_ids or api_key_ids or all_of_user):
            return
        await self.outbox.add(
            tx,
            CredentialsRevoked(
                user_id=str(user_id),
                session_ids=[str(s) for s in session_ids],
                api_key_ids=[str(k) for k in api_key_ids],
                all_of_user=all_of_user,
                reason=reason,
            ),
            subject=f"users/{user_id}",
        )
