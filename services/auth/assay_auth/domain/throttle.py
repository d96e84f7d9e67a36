"""Sign-in throttling, per account and per client address, with exponential backoff.

Each attempt is counted as a failure before the password is checked, and forgiven if it succeeds.
Counting first, in one transaction that holds the counter's row, makes the limit hold under a
burst of parallel attempts: once a key reaches its limit it is locked before the next attempt can
start. From the limit on, every attempt locks the key for `base * 2^(failures - limit)` seconds
(at most `max`); an attempt on a locked key is refused without a password check. Failures further
apart than the window start the count again.

Accounts are keyed by the email as typed (lower-cased), whether or not such a user exists, so
throttling says nothing about which accounts exist.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from assay_auth.settings import AuthSettings
from assay_auth.store import throttle as store
from assay_common.db import Transaction

Scope = Literal["account", "address"]


@dataclass(frozen=True)
class Lock:
    scope: Scope
    until: datetime

    def retry_after(self, now: datetime) -> int:
        """Whole seconds to wait (at least one)."""
        return max(1, math.ceil((self.until - now).total_seconds()))


@dataclass(frozen=True)
class ThrottleKeys:
    account: str
    address: str | None

    @classmethod
    def of(cls, email_key: str, address: str | None) -> ThrottleKeys:
        return cls(
            account=f"account:{email_key}"[:400], address=f"address:{address}"[:400] if address else None
        )

    def scoped(self) -> list[tuple[Scope, str]]:
        keys: list[tuple[Scope, str]] = [("account", self.account)]
        if self.address:
            keys.append(("address", self.address))
        return keys


class LoginThrottle:
    def __init__(self, settings: AuthSettings) -> None:
        self.window = timedelta(seconds=settings.login_throttle_window_seconds)
        self.limits: dict[Scope, int] = {
            "account": settings.login_throttle_account_failures,
            "address": settings.login_throttle_address_failures,
        }
        self.base = settings.login_throttle_base_seconds
        self.longest = settings.login_throttle_max_seconds

    def backoff(self, failures: int, scope: Scope) -> timedelta:
        over = failures - self.limits[scope]
        return timedelta(seconds=min(self.base * 2 ** min(over, 62), self.longest))

    async def count(self, tx: Transaction, keys: ThrottleKeys, now: datetime) -> Lock | None:
        """Count an attempt on every key; the lock of the first locked key, if any (then `tx` must
        be rolled back: the counts it made are not to stand)."""
        for scope, key in keys.scoped():
            attempt = await store.count_attempt(tx.conn, key, now=now, window_start=now - self.window)
            if attempt.locked_until is not None:
                return Lock(scope, attempt.locked_until)
            if attempt.failures >= self.limits[scope]:
                await store.lock(tx.conn, key, until=now + self.backoff(attempt.failures, scope))
        return None

    async def succeeded(self, tx: Transaction, keys: ThrottleKeys) -> None:
        """The account starts afresh; the address gets back the attempt counted in advance."""
        await store.clear(tx.conn, keys.account)
        if keys.address:
            await store.forgive(tx.conn, keys.address)

    async def sweep(self, tx: Transaction, now: datetime) -> int:
        return await store.delete_stale(tx.conn, now=now, window_start=now - self.window)
