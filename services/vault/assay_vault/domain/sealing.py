"""Sealing: initialise the vault, unseal it with key shares, seal it, rotate its KEK.

The states are those of Vault: uninitialised (no seal configuration) → sealed → unsealed.

- `initialize` makes the root key, splits it into key shares (`shamir`), stores what checks a
  rebuilt root key (`root_check`) and KEK version 1 wrapped by the root key, and answers the
  shares exactly once: nothing stored can rebuild the root key. The vault stays sealed.
- `submit` collects key shares in this replica's memory (progress, a nonce per attempt, reset);
  at the threshold it rebuilds the root key, checks it, unwraps the KEKs and fills the keyring.
  Each replica is unsealed on its own, as each Vault node is: shares never leave the process.
- `seal` wipes this replica's keys and starts a new seal epoch in the database, with the event
  `sealed` in the same transaction; every replica follows that event (`follow`) and wipes its
  keys too, and checks the epoch every `seal_check_seconds` (`watch`) in case it missed the event.
- A process starts sealed: the keys live in memory only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from nats.aio.msg import Msg
from pydantic import ValidationError

from assay_common.db import Database, utcnow
from assay_common.errors import BadRequest, Conflict, Sealed
from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.vault import KekRotated, VaultInitialized, VaultSealed, VaultUnsealed
from assay_vault.domain import shamir
from assay_vault.domain.keyring import Keyring, new_key, root_check, root_key_matches, wrap_kek
from assay_vault.store import seal as store
from assay_vault.store.seal import SealConfigRow

log = logging.getLogger("assay.vault.sealing")

DEFAULT_SHARES = 5
DEFAULT_THRESHOLD = 3


class NotInitialized(BadRequest):
    code = "vault_not_initialized"
    title = "The vault is not initialized"


class AlreadyInitialized(Conflict):
    code = "vault_already_initialized"
    title = "The vault is initialized already"


class UnsealFailed(BadRequest):
    code = "unseal_failed"
    title = "The key shares do not unseal the vault"


class UnsealKeyMissing(BadRequest):
    code = "unseal_key_missing"
    title = "An unseal key or a reset is needed"


class RotationConflict(Conflict):
    code = "kek_rotation_conflict"
    title = "Another rotation made this version at the same time"


@dataclass(frozen=True)
class SealStatus:
    initialized: bool
    sealed: bool
    #: Key shares made at init and how many unseal (0 before init).
    secret_shares: int
    secret_threshold: int
    #: Shares this replica holds towards the threshold, and the nonce of that attempt ("" if none).
    progress: int
    nonce: str
    #: The KEK version new records are sealed with; None while sealed.
    kek_version: int | None
    replica: str

    @property
    def state(self) -> Literal["uninitialized", "sealed", "unsealed"]:
        if not self.initialized:
            return "uninitialized"
        return "sealed" if self.sealed else "unsealed"


@dataclass(frozen=True)
class KeyStatus:
    """The KEK new records are sealed with (Vault's "term" of its keyring)."""

    kek_version: int
    installed_at: datetime
    #: Records this replica sealed with it since it was unsealed.
    encryptions: int


def replica_name() -> str:
    """How this process names itself in events: host and process id."""
    return f"{socket.gethostname()}/{os.getpid()}"


class Sealing:
    def __init__(self, db: Database, outbox: Outbox, keyring: Keyring, replica: str | None = None) -> None:
        self.db = db
        self.outbox = outbox
        self.keyring = keyring
        self.replica = replica or replica_name()
        self._shares: list[bytes] = []
        self._nonce = ""
        self._lock = asyncio.Lock()
        self._loading: set[asyncio.Task[None]] = set()
        #: The newest seal epoch a `sealed` event announced.
        self._sealed_epoch = 0
        keyring.on_unknown_version = self._load_soon
        #: Called once this replica was unsealed or made a new KEK version (to rewrap records).
        self.on_keys_changed: Callable[[], None] | None = None

    async def config(self) -> SealConfigRow | None:
        async with self.db.read() as conn:
            return await store.get_config(conn)

    async def _initialized(self) -> SealConfigRow:
        config = await self.config()
        if config is None:
            raise NotInitialized("initialize the vault first (`init`)")
        return config

    def _status(self, config: SealConfigRow | None) -> SealStatus:
        return SealStatus(
            initialized=config is not None,
            sealed=self.keyring.sealed,
            secret_shares=config.secret_shares if config else 0,
            secret_threshold=config.secret_threshold if config else 0,
            progress=len(self._shares),
            nonce=self._nonce,
            kek_version=self.keyring.kek_version,
            replica=self.replica,
        )

    async def status(self) -> SealStatus:
        return self._status(await self.config())

    async def initialize(self, shares: int, threshold: int, actor: str) -> list[bytes]:
        """The key shares of a new root key, answered this once; the vault stays sealed."""
        shamir.check_config(shares, threshold)
        root = new_key()
        kek = new_key()
        try:
            split = shamir.split(bytes(root), shares, threshold)
            now = utcnow()
            config = SealConfigRow(shares, threshold, root_check(root), 1, now, None)
            async with self.db.transaction() as tx:
                if not await store.insert_config(tx.conn, config):
                    raise AlreadyInitialized("the vault is initialized already")
                await store.insert_kek(tx.conn, 1, wrap_kek(root, 1, kek), now)
                await self.outbox.add(
                    tx,
                    VaultInitialized(secret_shares=shares, secret_threshold=threshold, initialized_by=actor),
                    subject="sys/seal",
                )
        finally:
            root[:] = bytes(len(root))
            kek[:] = bytes(len(kek))
        log.info("the vault was initialized with %d key shares, threshold %d", shares, threshold)
        return split

    def _reset(self) -> None:
        self._shares = []
        self._nonce = ""

    async def submit(self, share: bytes | None, *, reset: bool = False) -> SealStatus:
        """One more key share towards unsealing this replica (or a reset of the attempt)."""
        async with self._lock:
            config = await self._initialized()
            if reset:
                self._reset()
                return self._status(config)
            if share is None:
                raise UnsealKeyMissing("send an unseal key (`key`), or `reset` to start again")
            if not self.keyring.sealed:
                return self._status(config)
            if share in self._shares:
                return self._status(config)  # as Vault: a share given twice counts once
            if any(held[0] == share[0] for held in self._shares):
                self._reset()  # as Vault, whose attempt ends at any share that does not combine
                raise UnsealFailed("two key shares have the same index; the attempt starts again")
            if not self._shares:
                self._nonce = str(uuid.uuid4())
            self._shares.append(share)
            if len(self._shares) < config.secret_threshold:
                return self._status(config)
            root = bytearray(shamir.combine(self._shares))
            self._reset()
            if not root_key_matches(root, config.root_check):
                root[:] = bytes(len(root))
                raise UnsealFailed("the key shares do not rebuild the root key; the attempt starts again")
            await self._unseal(root)
            return self._status(config)

    async def _unseal(self, root: bytearray) -> None:
        try:
            async with self.db.transaction() as tx:
                epoch = await store.epoch(tx.conn)
                assert epoch is not None
                self.keyring.install(root, await store.keks(tx.conn), epoch)
                if self._sealed_epoch > epoch:  # sealed elsewhere while this unseal read the keys
                    raise Sealed("the vault was sealed during this unseal; unseal it again")
                await self.outbox.add(
                    tx, VaultUnsealed(seal_epoch=epoch, replica=self.replica), subject="sys/seal"
                )
        except BaseException:
            self.keyring.wipe()
            root[:] = bytes(len(root))
            raise
        log.info("this replica of the vault is unsealed (seal epoch %d)", epoch)
        self._keys_changed()

    async def seal(self, actor: str) -> None:
        """Seal this replica at once and, through the event `sealed`, every other one (idempotent)."""
        async with self._lock:
            self.keyring.wipe()
            self._reset()
            async with self.db.transaction() as tx:
                epoch = await store.raise_epoch(tx.conn, utcnow())
                if epoch is None:
                    return  # not initialized: nothing to seal (Vault answers 204 too)
                await self.outbox.add(
                    tx,
                    VaultSealed(seal_epoch=epoch, replica=self.replica, sealed_by=actor),
                    subject="sys/seal",
                )
        log.info("the vault was sealed by %s (seal epoch %d)", actor, epoch)

    async def rotate(self, actor: str) -> int:
        """Make the next KEK version; new records are sealed with it. Its number."""
        async with self.db.transaction() as tx:
            version = await store.latest_kek_version(tx.conn) + 1
            wrapped = self.keyring.new_kek(version)
            if not await store.insert_kek(tx.conn, version, wrapped, utcnow()):
                raise RotationConflict(
                    f"key-encryption key version {version} was made concurrently; try again"
                )
            await self.outbox.add(tx, KekRotated(version=version, rotated_by=actor), subject="sys/keys")
        self.keyring.add_kek(version, wrapped)
        log.info("key-encryption key version %d made by %s", version, actor)
        self._keys_changed()
        return version

    def _keys_changed(self) -> None:
        if self.on_keys_changed is not None:
            self.on_keys_changed()

    async def key_status(self) -> KeyStatus:
        """The current KEK version and when it was made; `Sealed` while sealed."""
        version = self.keyring.kek_version
        if version is None:
            raise Sealed("the vault is sealed; unseal it with the unseal keys")
        async with self.db.read() as conn:
            installed_at = await store.kek_created_at(conn, version)
        assert installed_at is not None  # KEK versions are never deleted
        return KeyStatus(version, installed_at, self.keyring.encryptions(version))

    # ---- following the other replicas ------------------------------------------------------------

    async def catch_up(self) -> None:
        """Wipe the keys if the vault was sealed since this replica was unsealed; load KEK
        versions made elsewhere."""
        unsealed_in = self.keyring.epoch
        if unsealed_in is None:
            return
        async with self.db.read() as conn:
            epoch = await store.epoch(conn)
            newer = await store.keks(conn, newer_than=self.keyring.kek_version or 0)
        if epoch is None or epoch > unsealed_in:
            self._sealed_elsewhere()
        elif self.keyring.epoch == unsealed_in:  # not sealed (or unsealed again) meanwhile
            for version, wrapped in sorted(newer.items()):
                self.keyring.add_kek(version, wrapped)

    def _sealed_elsewhere(self) -> None:
        if not self.keyring.sealed:
            log.info("the vault was sealed on another replica; this one wipes its keys")
        self.keyring.wipe()
        self._reset()

    def _load_soon(self, _version: int) -> None:
        task = asyncio.get_running_loop().create_task(self.catch_up())
        self._loading.add(task)
        task.add_done_callback(self._loading.discard)

    async def _on_event(self, message: Msg) -> None:
        try:
            event = CloudEvent.model_validate_json(message.data)
        except ValidationError:
            log.warning("ignored a vault seal message that is not an event")
            return
        if event.type == VaultSealed.type_name():
            epoch = event.data.get("seal_epoch")
            if not isinstance(epoch, int):
                return
            self._sealed_epoch = max(self._sealed_epoch, epoch)
            unsealed_in = self.keyring.epoch
            if unsealed_in is not None and epoch > unsealed_in:
                self._sealed_elsewhere()
        else:
            await self.catch_up()

    async def follow(self, bus: EventBus) -> None:
        """Follow `sealed` and `kek_rotated` with plain subscriptions (every replica hears each)
        until cancelled."""
        subscriptions = [
            await bus.nc.subscribe(bus.subjects.event("vault", None, data.event_name), cb=self._on_event)
            for data in (VaultSealed, KekRotated)
        ]
        try:
            await asyncio.Event().wait()
        finally:
            for subscription in subscriptions:
                with contextlib.suppress(Exception):
                    await subscription.unsubscribe()

    async def watch(self, every_seconds: float) -> None:
        """`catch_up` every `every_seconds`: the seal holds even when an event was missed."""
        while True:
            await asyncio.sleep(every_seconds)
            await self.catch_up()

    async def auto_unseal(self, key_file: Path) -> None:
        """Unseal with the key shares in `key_file` (one per line). For development only: whoever
        reads the file can unseal the vault."""
        if await self.config() is None:
            log.info("auto-unseal: the vault is not initialized yet; it stays sealed")
            return
        try:
            lines = (await asyncio.to_thread(key_file.read_text)).split()
        except FileNotFoundError:
            log.info("auto-unseal: no key file yet; the vault stays sealed")
            return
        except OSError as exc:
            log.error(
                "auto-unseal: cannot read the key file (%s); the vault stays sealed", type(exc).__name__
            )
            return
        try:
            for line in lines:
                await self.submit(shamir.decode_share(line))
        except (shamir.MalformedShare, UnsealFailed) as exc:
            log.error("auto-unseal failed: %s; the vault stays sealed", exc.detail)
            return
        if self.keyring.sealed:
            log.error("auto-unseal: the key file holds too few key shares; the vault stays sealed")
        else:
            log.warning("the vault auto-unsealed from a key file: fine for development, unsafe in production")
