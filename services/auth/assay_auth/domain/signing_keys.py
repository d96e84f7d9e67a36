"""The Ed25519 keys that sign Assay's JWTs, their rotation and their JWKS.

One key is active and signs; a rotation makes a new active key and retires the old one. A retired
key stays published in the JWKS until every token it can have signed has expired (its `drop_after`:
retirement + the longest token life + a margin), then the sweep removes it.

The single active key is enforced by the database (a unique `active` column that is true or null),
and a rotation retires the key it replaces with a conditional update, so replicas rotating at the
same moment make one new key between them.

Private keys are sealed with `signing_key_encryption_key` (Fernet) when it is set; without it they
are stored as PEM in the clear.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from joserfc.errors import SecurityWarning
from joserfc.jwk import OKPKey

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.sealing import KeyNotOpened, KeySealer
from assay_auth.store import signing_keys as store
from assay_auth.store.signing_keys import PrivateKeyRow, SigningKeyRow
from assay_common.db import Transaction
from assay_common.errors import Conflict, Unavailable
from assay_common.events.schemas.auth import SigningKeyRotated

log = logging.getLogger("assay.auth.signing_keys")

ALGORITHM = "EdDSA"
#: A retired key stays published this much longer than the longest token it signed: room for
#: clocks that disagree a little and for the leeway verifiers allow.
RETIRED_KEY_MARGIN = timedelta(minutes=5)
#: Who rotates on schedule.
ROTATOR = Actor(id="auth", kind="service")

# RFC 9864 deprecates the name "EdDSA" for "Ed25519", but the verifiers in use today know only
# "EdDSA"; the warning would repeat on every token.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", category=SecurityWarning)

RotationReason = Literal["initial", "scheduled", "manual"]


class SigningKeyUnavailable(Unavailable):
    code = "signing_key_unavailable"
    title = "The token signing key cannot be opened"


class RotationConflict(Conflict):
    code = "rotation_conflict"
    title = "Another rotation of the signing keys ran at the same time"


@dataclass(frozen=True)
class ActiveKey:
    kid: str
    key: OKPKey


def public_jwk(row: SigningKeyRow) -> dict[str, Any]:
    """The key as the JWKS publishes it."""
    return {**row.public_jwk, "kid": row.kid, "alg": row.algorithm, "use": "sig"}


class SigningKeys:
    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx
        self._sealer = KeySealer(ctx.settings.signing_key_encryption_key.get_secret_value())
        # A key's private part never changes, so an opened key is kept (by kid) for the next token.
        self._opened: dict[str, OKPKey] = {}

    @property
    def sealing(self) -> bool:
        return self._sealer.sealing

    async def active(self) -> ActiveKey:
        """The key that signs now (made when there is none yet). Read from the database every
        time: another replica may have rotated, and a retired key must sign nothing more."""
        async with self.ctx.db.read() as conn:
            row = await store.active(conn)
        if row is None:
            await self.rotate(ROTATOR, reason="initial")
            async with self.ctx.db.read() as conn:
                row = await store.active(conn)
            if row is None:
                raise SigningKeyUnavailable("no active signing key")
        return ActiveKey(row.kid, self._open(row))

    async def published(self) -> list[dict[str, Any]]:
        """The public keys verifiers need: the active key and retired ones whose tokens may live."""
        async with self.ctx.db.read() as conn:
            rows = await store.listed(conn, published_at=self.ctx.now())
        return [public_jwk(row) for row in rows]

    async def listed(self) -> list[SigningKeyRow]:
        async with self.ctx.db.read() as conn:
            return await store.listed(conn)

    async def rotate(
        self, actor: Actor, *, reason: RotationReason, retiring: str | None = None
    ) -> SigningKeyRow | None:
        """Make a new active key, retiring the active one (with `retiring`, only if that is still
        the active one; for the `initial` key, only if there is none). None when another rotation
        won the race: its key is the active one."""
        key = OKPKey.generate_key("Ed25519", private=True)
        kid = key.thumbprint()
        pem = key.as_pem(private=True).decode()
        now = self.ctx.now()
        row = SigningKeyRow(
            kid=kid,
            algorithm=ALGORITHM,
            public_jwk=key.as_dict(private=False),
            active=True,
            created_at=now,
            retired_at=None,
            drop_after=None,
        )
        ttl = timedelta(seconds=self.ctx.settings.token_ttl_seconds)
        try:
            async with self.ctx.db.transaction() as tx:
                current = await store.active(tx.conn)
                if (reason == "initial" and current is not None) or (
                    retiring is not None and (current is None or current.kid != retiring)
                ):
                    return None
                if current is not None and not await store.retire(
                    tx.conn, current.kid, now=now, drop_after=now + ttl + RETIRED_KEY_MARGIN
                ):
                    return None
                await store.insert(
                    tx.conn,
                    {
                        "kid": kid,
                        "algorithm": ALGORITHM,
                        "private_key": self._seal(pem),
                        "sealed": self.sealing,
                        "public_jwk": row.public_jwk,
                        "active": True,
                        "created_at": now,
                        "retired_at": None,
                        "drop_after": None,
                    },
                )
                await self.ctx.audit(
                    tx,
                    SigningKeyRotated,
                    actor,
                    target_type="signing_key",
                    target_id=kid,
                    retired_kid=current.kid if current is not None else None,
                    reason=reason,
                )
        except sa.exc.IntegrityError:
            # Another replica made the first key at the same moment; the unique `active` refused ours.
            return None
        self._opened[kid] = key
        return row

    async def rotate_now(self, actor: Actor) -> SigningKeyRow:
        """A rotation an administrator asked for."""
        rotated = await self.rotate(actor, reason="manual")
        if rotated is None:
            raise RotationConflict("another rotation ran at the same moment; its key is active now")
        return rotated

    async def rotate_if_due(self) -> SigningKeyRow | None:
        """Rotate when the active key is older than `signing_key_rotation_seconds` (or there is none)."""
        async with self.ctx.db.read() as conn:
            current = await store.active(conn)
        if current is None:
            return await self.rotate(ROTATOR, reason="initial")
        age = timedelta(seconds=self.ctx.settings.signing_key_rotation_seconds)
        if current.created_at + age > self.ctx.now():
            return None
        return await self.rotate(ROTATOR, reason="scheduled", retiring=current.kid)

    async def sweep(self, tx: Transaction, now: datetime) -> int:
        """Drop retired keys whose tokens have all expired."""
        return await store.drop_expired(tx.conn, now)

    def _seal(self, pem: str) -> str:
        return self._sealer.seal(pem)

    def _open(self, row: PrivateKeyRow) -> OKPKey:
        opened = self._opened.get(row.kid)
        if opened is not None:
            return opened
        try:
            pem = self._sealer.open(row.private_key, sealed=row.sealed)
        except KeyNotOpened as exc:
            log.error("signing key %s cannot be opened: %s", row.kid, exc)
            raise SigningKeyUnavailable(f"the signing key cannot be opened: {exc}") from None
        key = OKPKey.import_key(pem)
        self._opened[row.kid] = key
        return key
