"""Passwords: Argon2id hashing, verification, rehashing and the password policy.

Hashing is deliberately slow and memory-hungry (64 MiB, 3 passes, 4 lanes by default), so it runs
in worker threads (the binding releases the GIL) and at most one hash per CPU at a time: a burst of
sign-ins queues instead of exhausting memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from prometheus_client import Counter

from assay_auth.domain.errors import WeakPassword
from assay_auth.settings import AuthSettings

log = logging.getLogger("assay.auth.passwords")

#: Longest password accepted, in bytes of UTF-8: long enough for any passphrase, short enough that
#: hashing one is not a way to burn the server's CPU.
MAX_PASSWORD_BYTES = 1024

VERIFICATIONS = Counter(
    "assay_auth_password_verifications_total",
    "Argon2id verifications, including those against the stand-in hash for unknown accounts",
)


class Passwords:
    def __init__(self, settings: AuthSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.password_hash_time_cost,
            memory_cost=settings.password_hash_memory_kib,
            parallelism=settings.password_hash_parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self.min_length = settings.password_min_length
        self._slots = asyncio.Semaphore(max(1, os.cpu_count() or 1))
        # Verified instead when there is no real hash to check (unknown account, no password
        # set), so that every failed sign-in costs the same time.
        self._stand_in = self._hasher.hash(secrets.token_urlsafe(16))

    def check_policy(self, password: str) -> None:
        """Raise `WeakPassword` unless `password` is acceptable."""
        if len(password) < self.min_length:
            raise WeakPassword(f"use at least {self.min_length} characters")
        if len(password.encode()) > MAX_PASSWORD_BYTES:
            raise WeakPassword(f"use at most {MAX_PASSWORD_BYTES} bytes")
        if not password.strip():
            raise WeakPassword("the password cannot be only spaces")

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches the hash `stored`; with no hash (None) the same work is done
        against a stand-in and the answer is False."""
        async with self._slots:
            return await asyncio.to_thread(self._verify, stored, password)

    def _verify(self, stored: str | None, password: str) -> bool:
        VERIFICATIONS.inc()
        try:
            return self._hasher.verify(stored or self._stand_in, password) and stored is not None
        except InvalidHashError:
            log.warning("a stored password hash cannot be read; treating it as a mismatch")
            self._burn(password)
            return False
        except VerificationError:
            return False

    def _burn(self, password: str) -> None:
        # An unreadable stored hash must not answer faster than a wrong password.
        with contextlib.suppress(VerificationError):
            self._hasher.verify(self._stand_in, password)

    def needs_rehash(self, stored: str) -> bool:
        """Whether `stored` was made with other parameters than the current ones."""
        try:
            return self._hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True
