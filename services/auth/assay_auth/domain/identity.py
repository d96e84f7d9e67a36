"""The auth domain as one object: what the routes and the background loops work with."""

from __future__ import annotations

import asyncio
import logging

from assay_auth.domain.access import Access
from assay_auth.domain.api_keys import ApiKeys
from assay_auth.domain.audit import AuditLog
from assay_auth.domain.biscuits import Biscuits
from assay_auth.domain.bootstrap import Bootstrap
from assay_auth.domain.context import AuthContext, Clock
from assay_auth.domain.jwt_tokens import TokenExchange
from assay_auth.domain.passkeys import Passkeys
from assay_auth.domain.passwords import Passwords
from assay_auth.domain.permission_service import PermissionStores
from assay_auth.domain.platform_schema import PlatformRoles
from assay_auth.domain.recovery import Recovery
from assay_auth.domain.sessions import Sessions
from assay_auth.domain.signing_keys import SigningKeys
from assay_auth.domain.throttle import LoginThrottle
from assay_auth.domain.users import Users
from assay_auth.settings import AuthSettings
from assay_common.db import Database, utcnow
from assay_common.events.outbox import Outbox

log = logging.getLogger("assay.auth")


class Identity:
    def __init__(self, db: Database, outbox: Outbox, settings: AuthSettings, clock: Clock = utcnow) -> None:
        self.ctx = AuthContext(db, outbox, settings, Passwords(settings), clock)
        self.throttle = LoginThrottle(settings)
        self.permissions = PermissionStores(self.ctx)
        self.access = Access(self.ctx, self.permissions)
        self.platform = PlatformRoles(self.ctx, self.permissions)
        self.users = Users(self.ctx, self.platform)
        self.sessions = Sessions(self.ctx, self.throttle, self.platform)
        self.passkeys = Passkeys(self.ctx, self.sessions)
        self.api_keys = ApiKeys(self.ctx)
        self.recovery = Recovery(self.ctx)
        self.bootstrap = Bootstrap(self.ctx, self.users, self.api_keys, self.recovery)
        self.audit = AuditLog(self.ctx)
        self.signing_keys = SigningKeys(self.ctx)
        self.tokens = TokenExchange(self.ctx, self.access, self.signing_keys)
        self.biscuits = Biscuits(self.ctx)

    async def sweep(self) -> int:
        """Remove what has ended: sessions, recovery tokens, stale throttle counters, passkey
        ceremonies nobody finished, signing keys whose tokens have all expired."""
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            removed = await self.sessions.sweep(tx, now)
            removed += await self.recovery.sweep(tx)
            removed += await self.throttle.sweep(tx, now)
            removed += await self.passkeys.sweep(tx, now)
            removed += await self.signing_keys.sweep(tx, now)
        return removed

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.sweep_interval_seconds)
            try:
                await self.sweep()
            except Exception:
                # The next round tries again; a passing database outage must not stop the service.
                log.warning("the sweep of ended sessions and tokens failed", exc_info=True)

    async def rotate_signing_keys_forever(self) -> None:
        """Rotate the JWT signing key when it is due; every replica checks, one rotates."""
        rotation = self.ctx.settings.signing_key_rotation_seconds
        # Checked often enough that a key is replaced within a tenth of its life of being due.
        interval = max(1.0, min(60.0, rotation / 10))
        while True:
            try:
                await self.signing_keys.rotate_if_due()
            except Exception:
                log.warning("the scheduled rotation of the signing key failed", exc_info=True)
            await asyncio.sleep(interval)
