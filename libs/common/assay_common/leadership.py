"""Leader election with fencing tokens: background work that must run on one replica at a time.

Replicas of a service share one row per singleton in `leader_leases`: who holds the lease, until
when, and a fencing token that grows by one each time the lease changes hands. A candidate takes
the lease when it is free or expired and renews it while it holds it. Every write of the singleton
work runs in a transaction that first calls `Leadership.fence` with the token it was given: the
write commits only if the lease still names this holder with that token.

Safety rests on that fence, not on clocks or on `Leadership.token`. A takeover must update the
lease row; on Postgres the fence holds that row's lock (`FOR UPDATE`) until the writer commits,
and on SQLite a writer holds the database's only write lock from `BEGIN IMMEDIATE` on. So a
takeover commits either before the fence, which then fails, or after the writer's commit: the
writes of two tokens never interleave.

Expiry times are written and compared with the replica's clock (`utcnow()`). SQLite has no other
clock, so the statements stay the same on both backends; on Postgres, replicas' clocks are kept in
step (NTP) to milliseconds against leases of seconds. Clocks only affect liveness: a replica whose
clock runs ahead takes over early (the displaced leader's next fenced write fails and it goes back
to waiting), one whose clock runs behind takes over late after a crash. A statement that waited for
a lock compares with the time it was sent, which only makes it take over later. The leader's own
view of its lease uses the monotonic clock from before each renewal was sent, never later than the
expiry that renewal wrote.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from assay_common.cancellation import raise_if_cancelled
from assay_common.db import Database, Transaction, UtcDateTime, insert_ignoring_conflict, utcnow

log = logging.getLogger("assay.leadership")

#: The expiry of a lease row that no one has held yet: free to take.
NEVER_HELD = datetime(1970, 1, 1, tzinfo=UTC)


def leader_leases_table(metadata: sa.MetaData) -> sa.Table:
    """One lease per singleton; the service's migration creates it."""
    return sa.Table(
        "leader_leases",
        metadata,
        sa.Column("name", sa.String(100), primary_key=True, comment="the singleton, e.g. the cron scheduler"),
        sa.Column("holder", sa.String(255), nullable=False, comment="the replica holding the lease"),
        sa.Column("token", sa.BigInteger, nullable=False, comment="+1 each time the lease changes hands"),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.Column("renewed_at", UtcDateTime, nullable=False),
    )


class NotLeader(Exception):
    """A fenced write was attempted with a token that no longer holds the lease."""


class Leadership:
    """The lease `name` as seen by one replica, `holder`.

    `holder` must name this running process uniquely among the replicas (host and process id, say):
    two processes with one name would both lead. A singleton loop is written as::

        while True:
            token = await leadership.wait_for_leadership()
            try:
                ...  # each write transaction calls `await leadership.fence(tx, token)` first
            except NotLeader:
                continue

    and may race its waits against `wait_until_lost(token)` to stop as soon as leadership is lost.
    """

    def __init__(
        self,
        db: Database,
        table: sa.Table,
        name: str,
        holder: str,
        *,
        ttl_seconds: float = 10.0,
        renew_seconds: float | None = None,
        follow_seconds: float = 1.0,
    ) -> None:
        renew = ttl_seconds / 3 if renew_seconds is None else renew_seconds
        if not 0 < renew < ttl_seconds:
            raise ValueError("renew_seconds must be positive and shorter than ttl_seconds")
        self.db = db
        self.table = table
        self.name = name
        self.holder = holder
        self.ttl_seconds = ttl_seconds
        self.renew_seconds = renew
        #: How often a holder that does not lead tries to take the lease: a released lease is
        #: taken within this long, an expired one within this long after it expired.
        self.follow_seconds = min(follow_seconds, renew)
        self._token: int | None = None
        # Set and replaced at every change of `_token`: waiters wake and look again.
        self._changed = asyncio.Event()
        # Ends leadership once the lease may have expired unless a renewal comes first.
        self._lapse: asyncio.TimerHandle | None = None

    @property
    def token(self) -> int | None:
        """The fencing token while this holder leads, else None. Advisory: only `fence` guards a
        write."""
        return self._token

    async def campaign(self) -> None:
        """Until cancelled: take the lease when it is free or expired (trying every
        `follow_seconds`), renew it while held (every `renew_seconds`), and give up leading the
        moment a renewal fails or is late enough that the lease might have expired. On
        cancellation, resign."""
        try:
            while True:
                raise_if_cancelled()
                try:
                    await self.acquire_or_renew()
                except (sa.exc.DBAPIError, OSError) as exc:
                    log.warning("%s could not renew %s: %s", self.holder, self.name, type(exc).__name__)
                await asyncio.sleep(self.renew_seconds if self._token is not None else self.follow_seconds)
        finally:
            try:
                await self.resign()
            except (sa.exc.DBAPIError, OSError) as exc:
                log.warning(
                    "%s could not resign %s (%s); it lapses after %ss",
                    self.holder,
                    self.name,
                    type(exc).__name__,
                    self.ttl_seconds,
                )

    async def acquire_or_renew(self) -> int | None:
        """One turn of the campaign: take the lease if it is free or expired, or renew it if this
        holder has it. Returns the token while this holder leads, else None."""
        loop = asyncio.get_running_loop()
        sent = loop.time()
        now = utcnow()
        table = self.table
        take = (
            table.update()
            .where(table.c.name == self.name, sa.or_(table.c.holder == self.holder, table.c.expires_at < now))
            .values(
                holder=self.holder,
                # SET reads the row as it was: the token moves on only when the holder changes.
                token=sa.case((table.c.holder == self.holder, table.c.token), else_=table.c.token + 1),
                expires_at=now + timedelta(seconds=self.ttl_seconds),
                renewed_at=now,
            )
            .returning(table.c.token)
        )
        unheld = {"name": self.name, "holder": "", "token": 0, "expires_at": NEVER_HELD, "renewed_at": now}
        try:
            async with self.db.transaction() as tx:
                await tx.execute(insert_ignoring_conflict(self.db.backend, table), unheld)
                token: int | None = (await tx.execute(take)).scalar_one_or_none()
        except (sa.exc.DBAPIError, OSError):
            self._stop_leading("its renewal failed")
            raise
        valid_until = sent + self.ttl_seconds
        if token is None:
            self._stop_leading("another replica holds the lease")
        elif loop.time() >= valid_until:
            self._stop_leading("its renewal came after the lease may have expired")
            token = None
        else:
            self._lead(token, valid_until)
        return token

    async def wait_for_leadership(self) -> int:
        """Block until this holder leads; returns its token."""
        while self._token is None:
            await self._changed.wait()
        return self._token

    async def wait_until_lost(self, token: int) -> None:
        """Return once this holder no longer leads with `token` (at once if it does not)."""
        while self._token == token:
            await self._changed.wait()

    async def resign(self) -> None:
        """Stop leading and release the lease now (expires_at = now) if held, so another replica
        takes over at its next turn instead of after the TTL (graceful shutdown). `campaign` does
        this when cancelled; while it still runs, it would take the lease back."""
        self._stop_leading("it resigned")
        now = utcnow()
        table = self.table
        release = (
            table.update()
            .where(table.c.name == self.name, table.c.holder == self.holder, table.c.expires_at > now)
            .values(expires_at=now)
        )
        async with self.db.transaction() as tx:
            await tx.execute(release)

    async def fence(self, tx: Transaction, token: int) -> None:
        """Inside a write transaction: raise NotLeader unless the lease still names this holder
        with `token` and has not expired. The row stays locked until `tx` ends on Postgres (FOR
        UPDATE; SQLite renders no such clause, its writers hold the one write lock already), so no
        takeover commits between this check and the caller's writes."""
        table = self.table
        held = (
            sa.select(table.c.token)
            .where(
                table.c.name == self.name,
                table.c.holder == self.holder,
                table.c.token == token,
                table.c.expires_at > utcnow(),
            )
            .with_for_update()
        )
        if (await tx.execute(held)).first() is None:
            if self._token == token:
                self._stop_leading("its lease moved or lapsed")
            raise NotLeader(f"{self.holder} does not lead {self.name} with token {token}")

    def _lead(self, token: int, valid_until: float) -> None:
        if self._lapse is not None:
            self._lapse.cancel()
        self._lapse = asyncio.get_running_loop().call_at(
            valid_until, self._stop_leading, "no renewal came before the lease may have expired"
        )
        if token != self._token:
            log.info("%s leads %s with token %s", self.holder, self.name, token)
            self._announce(token)

    def _stop_leading(self, reason: str) -> None:
        if self._lapse is not None:
            self._lapse.cancel()
            self._lapse = None
        if self._token is not None:
            log.info("%s stopped leading %s (token %s): %s", self.holder, self.name, self._token, reason)
            self._announce(None)

    def _announce(self, token: int | None) -> None:
        self._token = token
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()
