"""The auth domain as one object: what the routes and the background loops work with."""

from __future__ import annotations

import asyncio
import logging

from assay_auth.domain.access import Access
from assay_auth.domain.api_keys import ApiKeys
from assay_auth.domain.audit import AuditLog
from assay_auth.domain.context import AuthContext, Clock
from assay_auth.domain.passwords import Passwords
from assay_auth.domain.recovery import Recovery
from assay_auth.domain.sessions import Sessions
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
        self.access = Access(self.ctx)
        self.users = Users(self.ctx)
        self.sessions = Sessions(self.ctx, self.throttle)
        self.api_keys = ApiKeys(self.ctx)
        self.recovery = Recovery(self.ctx)
        self.audit = AuditLog(self.ctx)

    async def sweep(self) -> int:
        """Remove what has ended: sessions, recovery tokens, stale throttle counters."""
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            removed = await self.sessions.sweep(tx, now)
            removed += await self.recovery.sweep(tx)
            removed += await self.throttle.sweep(tx, now)
        return removed

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ctx.settings.sweep_interval_seconds)
            try:
                await self.sweep()
            except Exception:
                # The next round tries again; a passing database outage must not stop the service.
                log.warning("the sweep of ended sessions and tokens failed", exc_info=True)
