"""Queries on passkeys and on pending WebAuthn ceremonies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_auth.store.tables import passkeys, webauthn_ceremonies
from assay_common.db import insert_ignoring_conflict, to_row


@dataclass(frozen=True)
class PasskeyRow:
    id: uuid.UUID
    user_id: uuid.UUID
    credential_id: str
    public_key: str
    sign_count: int
    transports: list[str]
    aaguid: str
    device_type: str
    backed_up: bool
    name: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class CeremonyRow:
    challenge_hash: str
    kind: str
    user_id: uuid.UUID | None
    created_at: datetime
    expires_at: datetime


_BY_ID = sa.select(passkeys).where(passkeys.c.id == sa.bindparam("b_id"))
_BY_CREDENTIAL = sa.select(passkeys).where(passkeys.c.credential_id == sa.bindparam("b_credential_id"))
_OF_USER = (
    sa.select(passkeys)
    .where(passkeys.c.user_id == sa.bindparam("b_user_id"))
    .order_by(passkeys.c.id)
    .limit(sa.bindparam("b_limit"))
)
_CREDENTIAL_IDS = sa.select(passkeys.c.credential_id).where(passkeys.c.user_id == sa.bindparam("b_user_id"))
# A use is recorded only if the counter still is what the check saw: of two assertions verified at
# once against the same counter, one wins and the other is refused as a replay.
_USED = (
    passkeys.update()
    .where(passkeys.c.id == sa.bindparam("b_id"), passkeys.c.sign_count == sa.bindparam("b_seen"))
    .values(sign_count=sa.bindparam("b_count"), last_used_at=sa.bindparam("b_now"))
)
_TAKE = (
    webauthn_ceremonies.delete()
    .where(
        webauthn_ceremonies.c.challenge_hash == sa.bindparam("b_hash"),
        webauthn_ceremonies.c.kind == sa.bindparam("b_kind"),
    )
    .returning(*webauthn_ceremonies.c)
)


async def insert(conn: AsyncConnection, row: PasskeyRow) -> bool:
    """Store a passkey; False when its credential id is registered already."""
    statement = insert_ignoring_conflict(conn.dialect.name, passkeys)
    values: dict[str, Any] = {c.name: getattr(row, c.name) for c in passkeys.c}
    return (await conn.execute(statement, values)).rowcount > 0


async def get(conn: AsyncConnection, passkey_id: uuid.UUID) -> PasskeyRow | None:
    row = (await conn.execute(_BY_ID, {"b_id": passkey_id})).first()
    return to_row(PasskeyRow, row) if row else None


async def by_credential_id(conn: AsyncConnection, credential_id: str) -> PasskeyRow | None:
    row = (await conn.execute(_BY_CREDENTIAL, {"b_credential_id": credential_id})).first()
    return to_row(PasskeyRow, row) if row else None


async def of_user(conn: AsyncConnection, user_id: uuid.UUID, *, limit: int) -> list[PasskeyRow]:
    """The user's passkeys, oldest first."""
    rows = (await conn.execute(_OF_USER, {"b_user_id": user_id, "b_limit": limit})).all()
    return [to_row(PasskeyRow, row) for row in rows]


async def credential_ids(conn: AsyncConnection, user_id: uuid.UUID) -> list[str]:
    return list((await conn.execute(_CREDENTIAL_IDS, {"b_user_id": user_id})).scalars())


async def record_use(
    conn: AsyncConnection, passkey_id: uuid.UUID, *, seen: int, sign_count: int, now: datetime
) -> bool:
    """Store the new counter and the time of use; False when the counter moved since it was read."""
    values = {"b_id": passkey_id, "b_seen": seen, "b_count": sign_count, "b_now": now}
    return (await conn.execute(_USED, values)).rowcount > 0


async def rename(conn: AsyncConnection, passkey_id: uuid.UUID, name: str) -> None:
    await conn.execute(passkeys.update().where(passkeys.c.id == passkey_id).values(name=name))


async def delete(conn: AsyncConnection, passkey_id: uuid.UUID) -> bool:
    return (await conn.execute(passkeys.delete().where(passkeys.c.id == passkey_id))).rowcount > 0


async def insert_ceremony(conn: AsyncConnection, row: CeremonyRow) -> None:
    await conn.execute(
        webauthn_ceremonies.insert(), {c.name: getattr(row, c.name) for c in webauthn_ceremonies.c}
    )


async def take_ceremony(conn: AsyncConnection, challenge_hash: str, kind: str) -> CeremonyRow | None:
    """Use up a ceremony (expired or not: the caller judges): of two concurrent uses exactly one
    gets it."""
    row = (await conn.execute(_TAKE, {"b_hash": challenge_hash, "b_kind": kind})).first()
    return to_row(CeremonyRow, row) if row else None


async def delete_ended_ceremonies(conn: AsyncConnection, *, now: datetime) -> int:
    statement = webauthn_ceremonies.delete().where(webauthn_ceremonies.c.expires_at <= now)
    return (await conn.execute(statement)).rowcount
