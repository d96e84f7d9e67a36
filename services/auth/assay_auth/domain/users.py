"""Users: create, read, list, update, disable and enable, delete; the administrator's password reset.

Email addresses are unique whatever their letter case (`Ann@x.io` and `ann@x.io` are one user) and
are kept as written. Changing a user's privileges, disabling or deleting them, or setting their
password ends all their sessions. `is_admin` is mirrored into the platform permission store: made
or set true, the user gets `platform:assay#admin`; set false, that direct grant goes (in the same
transaction).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from typing import Any, TypedDict

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.errors import CannotChangeSelf, EmailTaken, InvalidEmail, UserNotFound
from assay_auth.domain.platform_schema import PlatformRoles
from assay_auth.store import sessions as session_store
from assay_auth.store import users as store
from assay_auth.store.rows import UserRow
from assay_common.db import Transaction, uuid7
from assay_common.errors import Invalid
from assay_common.events.schemas.auth import (
    PasswordReset,
    UserCreated,
    UserDeleted,
    UserDisabled,
    UserEnabled,
    UserUpdated,
)

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]{1,255}$")
MAX_METADATA_BYTES = 16 * 1024


class InvalidMetadata(Invalid):
    code = "invalid_metadata"
    title = "Invalid user metadata"


class UserChanges(TypedDict, total=False):
    email: str
    email_verified: bool
    display_name: str
    metadata: dict[str, Any]
    is_admin: bool


def email_key(email: str) -> str:
    """The form in which emails are compared: trimmed and lower-cased."""
    return email.strip().lower()


def checked_email(email: str) -> str:
    email = email.strip()
    if len(email) > 320 or not _EMAIL.match(email):
        raise InvalidEmail("write the address as name@domain")
    return email


def checked_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(metadata).encode()) > MAX_METADATA_BYTES:
        raise InvalidMetadata(f"keep metadata under {MAX_METADATA_BYTES} bytes of JSON")
    return metadata


class Users:
    def __init__(self, ctx: AuthContext, roles: PlatformRoles | None = None) -> None:
        self.ctx = ctx
        self.roles = roles

    async def create(
        self,
        actor: Actor,
        *,
        email: str,
        display_name: str = "",
        metadata: dict[str, Any] | None = None,
        email_verified: bool = False,
        is_admin: bool = False,
        password: str | None = None,
    ) -> UserRow:
        user = await self.new(
            email=email,
            display_name=display_name,
            metadata=metadata,
            email_verified=email_verified,
            is_admin=is_admin,
            password=password,
        )
        async with self.ctx.db.transaction() as tx:
            await self.insert(tx, actor, user)
        return user

    async def new(
        self,
        *,
        email: str,
        display_name: str = "",
        metadata: dict[str, Any] | None = None,
        email_verified: bool = False,
        is_admin: bool = False,
        password: str | None = None,
    ) -> UserRow:
        """A user checked and ready to insert (its password hashed: slow, so outside any
        transaction)."""
        email = checked_email(email)
        if password is not None:
            self.ctx.passwords.check_policy(password)
        password_hash = await self.ctx.passwords.hash(password) if password is not None else None
        now = self.ctx.now()
        return UserRow(
            id=uuid7(),
            email=email,
            email_key=email_key(email),
            email_verified=email_verified,
            display_name=display_name,
            metadata=checked_metadata(metadata or {}),
            is_admin=is_admin,
            password_hash=password_hash,
            password_changed_at=now if password_hash else None,
            disabled_at=None,
            created_at=now,
            updated_at=now,
        )

    async def insert(self, tx: Transaction, actor: Actor, user: UserRow) -> None:
        if not await store.insert(tx.conn, dataclasses.asdict(user)):
            raise EmailTaken(f"{user.email} belongs to another user")
        await self.ctx.audit(
            tx,
            UserCreated,
            actor,
            target_type="user",
            target_id=user.id,
            email=user.email,
            is_admin=user.is_admin,
        )
        if user.is_admin and self.roles is not None:
            await self.roles.grant_admin(tx, actor, user.id)

    async def get(self, user_id: uuid.UUID) -> UserRow:
        async with self.ctx.db.read() as conn:
            user = await store.get(conn, user_id)
        if user is None:
            raise UserNotFound(f"user {user_id} does not exist")
        return user

    async def list(self, *, search: str | None, before: uuid.UUID | None, limit: int) -> list[UserRow]:
        async with self.ctx.db.read() as conn:
            return await store.list_page(conn, search=search, before=before, limit=limit)

    async def update(self, actor: Actor, user_id: uuid.UUID, changes: UserChanges) -> UserRow:
        values: dict[str, Any] = dict(changes)
        if "email" in values:
            values["email"] = checked_email(values["email"])
            values["email_key"] = email_key(values["email"])
        if "metadata" in values:
            checked_metadata(values["metadata"])
        if "is_admin" in values and actor.user_id == user_id and not values["is_admin"]:
            raise CannotChangeSelf("another administrator must take your privileges away")
        try:
            async with self.ctx.db.transaction() as tx:
                user = await self._locked(tx.conn, user_id)
                if "email_key" in values and values["email_key"] != user.email_key:
                    taken = await store.by_email_key(tx.conn, values["email_key"])
                    if taken is not None:
                        raise EmailTaken(f"{values['email']} belongs to another user")
                    # A new address is not verified until proven otherwise.
                    values.setdefault("email_verified", False)
                changed = sorted(k for k, v in values.items() if k != "email_key" and getattr(user, k) != v)
                if not changed:
                    return user
                values["updated_at"] = self.ctx.now()
                await store.update(tx.conn, user_id, **values)
                if "is_admin" in changed:
                    # Privileges changed: every session starts over with the new ones.
                    ended = await session_store.delete_of_user(tx.conn, user_id)
                    await self.ctx.revoked(
                        tx, user_id, reason="privileges_changed", session_ids=ended, all_of_user=True
                    )
                    if self.roles is not None and values["is_admin"]:
                        await self.roles.grant_admin(tx, actor, user_id)
                    elif self.roles is not None:
                        await self.roles.revoke_admin(tx, actor, user_id)
                await self.ctx.audit(
                    tx, UserUpdated, actor, target_type="user", target_id=user_id, fields=changed
                )
                updated = await self._locked(tx.conn, user_id)
        except sa.exc.IntegrityError:
            # Another request took the address between our check and our write.
            raise EmailTaken(f"{values.get('email')} belongs to another user") from None
        return updated

    async def set_disabled(self, actor: Actor, user_id: uuid.UUID, disabled: bool) -> UserRow:
        if disabled and actor.user_id == user_id:
            raise CannotChangeSelf("another administrator must disable you")
        async with self.ctx.db.transaction() as tx:
            user = await self._locked(tx.conn, user_id)
            if user.disabled == disabled:
                return user
            now = self.ctx.now()
            await store.update(tx.conn, user_id, disabled_at=now if disabled else None, updated_at=now)
            if disabled:
                ended = await session_store.delete_of_user(tx.conn, user_id)
                await self.ctx.revoked(
                    tx, user_id, reason="user_disabled", session_ids=ended, all_of_user=True
                )
            await self.ctx.audit(
                tx, UserDisabled if disabled else UserEnabled, actor, target_type="user", target_id=user_id
            )
            return await self._locked(tx.conn, user_id)

    async def delete(self, actor: Actor, user_id: uuid.UUID) -> None:
        if actor.user_id == user_id:
            raise CannotChangeSelf("another administrator must delete you")
        async with self.ctx.db.transaction() as tx:
            user = await self._locked(tx.conn, user_id)
            # Sessions, API keys and recovery tokens go with the user (ON DELETE CASCADE).
            await store.delete(tx.conn, user_id)
            await self.ctx.revoked(tx, user_id, reason="user_deleted", all_of_user=True)
            await self.ctx.audit(
                tx, UserDeleted, actor, target_type="user", target_id=user_id, email=user.email
            )

    async def reset_password(self, actor: Actor, user_id: uuid.UUID, password: str) -> None:
        """Set a user's password as an administrator; all their sessions end."""
        self.ctx.passwords.check_policy(password)
        password_hash = await self.ctx.passwords.hash(password)
        async with self.ctx.db.transaction() as tx:
            await self._locked(tx.conn, user_id)
            now = self.ctx.now()
            await store.update(
                tx.conn, user_id, password_hash=password_hash, password_changed_at=now, updated_at=now
            )
            ended = await session_store.delete_of_user(tx.conn, user_id)
            await self.ctx.revoked(tx, user_id, reason="password_reset", session_ids=ended)
            await self.ctx.audit(
                tx,
                PasswordReset,
                actor,
                target_type="user",
                target_id=user_id,
                via="admin",
                sessions_revoked=len(ended),
            )

    async def _locked(self, conn: AsyncConnection, user_id: uuid.UUID) -> UserRow:
        user = await store.get(conn, user_id, for_update=True)
        if user is None:
            raise UserNotFound(f"user {user_id} does not exist")
        return user
