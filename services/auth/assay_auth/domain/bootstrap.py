"""The first administrator of a fresh installation.

On a platform with no user yet, `assay up` (or an operator's tooling holding the platform key)
asks for a bootstrap administrator: a user without a password, an API key with the `admin` scope
for it, and a token to set the password with. The key and the token are handed back once and
stored only as digests. Once any user exists the request is refused, so it cannot be used to make
a second administrator.

A platform started without that tooling (the compose file, Kubernetes) is set up from the
dashboard's first-run page instead: while there is no user, and `first_user_becomes_admin` lets a
newcomer administer a fresh platform, anyone may create the first administrator with a password
(`first_administrator`); the same check in the same transaction makes exactly one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from assay_auth.domain.api_keys import ApiKeys
from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.errors import AlreadyBootstrapped, AlreadySetUp
from assay_auth.domain.recovery import Recovery
from assay_auth.domain.users import Users
from assay_auth.store import users as user_store
from assay_auth.store.rows import UserRow
from assay_common.permission_checks import ADMIN_SCOPE


@dataclass(frozen=True)
class BootstrapAdmin:
    user: UserRow
    api_key: str
    password_token: str
    password_token_expires_at: datetime


class Bootstrap:
    def __init__(self, ctx: AuthContext, users: Users, api_keys: ApiKeys, recovery: Recovery) -> None:
        self.ctx = ctx
        self.users = users
        self.api_keys = api_keys
        self.recovery = recovery

    async def admin(self, actor: Actor, email: str) -> BootstrapAdmin:
        """The first user, an administrator; `AlreadyBootstrapped` when there is any user."""
        user = await self.users.new(email=email, display_name="Administrator", is_admin=True)
        ttl = timedelta(seconds=self.ctx.settings.bootstrap_password_link_ttl_seconds)
        async with self.ctx.db.transaction() as tx:
            if not await user_store.lock_and_check_empty(tx.conn):
                raise AlreadyBootstrapped("this platform has users already; sign in as one of them")
            await self.users.insert(tx, actor, user)
            key = await self.api_keys.add(
                tx, actor, user.id, name="bootstrap", scopes=[ADMIN_SCOPE], expires_at=None
            )
            token, expires_at = await self.recovery.issue(tx, user.id, ttl)
        return BootstrapAdmin(user, key.key, token, expires_at)

    async def setup_needed(self) -> bool:
        """Whether the first-run page may create the first administrator now."""
        if not self.ctx.settings.first_user_becomes_admin:
            return False
        async with self.ctx.db.read() as conn:
            return await user_store.is_empty(conn)

    async def first_administrator(
        self, *, email: str, display_name: str, password: str, address: str | None = None
    ) -> UserRow:
        """The first user, an administrator with a password; `AlreadySetUp` once there is any user
        (or when `first_user_becomes_admin` is off: then only the operator's tooling makes one)."""
        if not self.ctx.settings.first_user_becomes_admin:
            raise AlreadySetUp("this platform's first administrator is made by its operator (assay up)")
        user = await self.users.new(
            email=email, display_name=display_name or "Administrator", is_admin=True, password=password
        )
        async with self.ctx.db.transaction() as tx:
            if not await user_store.lock_and_check_empty(tx.conn):
                raise AlreadySetUp("this platform has users already; sign in as one of them")
            # The newcomer made themselves administrator: the audit names them.
            await self.users.insert(tx, Actor.user(user.id, address), user)
        return user
