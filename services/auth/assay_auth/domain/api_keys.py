"""API keys: `assay_` + 256 random bits, shown once at creation and stored as a digest.

A key acts for its owner with its scopes (`admin`, or permissions of the platform store such as
`namespace:payments#operate`, which the permission checks interpret: see
`assay_common.permission_checks`), until it expires or is revoked, and only while its owner is
enabled. Its last use is recorded at most once a minute.
"""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.errors import ApiKeyNotFound, InvalidApiKey, InvalidExpiry, InvalidScopes, UserNotFound
from assay_auth.domain.permissions import InvalidRelationship
from assay_auth.domain.permissions.relationships import (
    WILDCARD,
    is_relation_name,
    is_type_name,
    validate_object_id,
)
from assay_auth.domain.tokens import API_KEY_DISPLAY_LENGTH, API_KEY_PREFIX, digest, new_api_key
from assay_auth.store import api_keys as store
from assay_auth.store import users as user_store
from assay_auth.store.rows import ApiKeyRow, UserRow
from assay_common.db import Transaction, uuid7
from assay_common.events.schemas.auth import ApiKeyCreated, ApiKeyRevoked
from assay_common.permission_checks import ADMIN_SCOPE, EVERYTHING_SCOPE, Need

MAX_SCOPES = 64
MAX_SCOPE_LENGTH = 200
#: A key's last use is written at most this often.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class NewApiKey:
    row: ApiKeyRow
    key: str


@dataclass(frozen=True)
class ValidApiKey:
    row: ApiKeyRow
    user: UserRow


def scope_problem(scope: str) -> str | None:
    """What is wrong with `scope`; None when it is one: `*` (all the owner may), `admin`, or
    `<type>:<id>#<permission>` of the platform permission store, the id `*` standing for any
    (`namespace:payments#operate`)."""
    if scope in (ADMIN_SCOPE, EVERYTHING_SCOPE):
        return None
    if len(scope) > MAX_SCOPE_LENGTH:
        return f"longer than {MAX_SCOPE_LENGTH} characters"
    need = Need.parse(scope)
    if need is None:
        return "not `*`, `admin` nor `<type>:<id>#<permission>`"
    if not is_type_name(need.resource_type):
        return f"{need.resource_type!r} is not a type name"
    if need.resource_id != WILDCARD:
        try:
            validate_object_id(need.resource_id)
        except InvalidRelationship:
            return f"{need.resource_id!r} is not an object id (nor `*`)"
    if not is_relation_name(need.permission):
        return f"{need.permission!r} is not a permission name"
    return None


def checked_scopes(scopes: list[str]) -> list[str]:
    unique = list(dict.fromkeys(scopes))
    if len(unique) > MAX_SCOPES:
        raise InvalidScopes(f"give at most {MAX_SCOPES} scopes")
    for scope in unique:
        problem = scope_problem(scope)
        if problem is not None:
            raise InvalidScopes(
                f"{scope!r} is not a scope ({problem}): a scope is `*`, `admin` or "
                "`<type>:<id or *>#<permission>`, e.g. `namespace:payments#operate`",
                scope=scope,
            )
    return unique


class ApiKeys:
    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx

    async def create(
        self,
        actor: Actor,
        owner_id: uuid.UUID,
        *,
        name: str,
        scopes: list[str],
        expires_at: datetime | None,
    ) -> NewApiKey:
        async with self.ctx.db.transaction() as tx:
            return await self.add(tx, actor, owner_id, name=name, scopes=scopes, expires_at=expires_at)

    async def add(
        self,
        tx: Transaction,
        actor: Actor,
        owner_id: uuid.UUID,
        *,
        name: str,
        scopes: list[str],
        expires_at: datetime | None,
    ) -> NewApiKey:
        """`create`, inside a transaction of the caller's."""
        scopes = checked_scopes(scopes)
        now = self.ctx.now()
        if expires_at is not None and expires_at <= now:
            raise InvalidExpiry("give an expiry in the future, or none")
        key = new_api_key()
        row = ApiKeyRow(
            id=uuid7(),
            user_id=owner_id,
            name=name,
            prefix=key[:API_KEY_DISPLAY_LENGTH],
            scopes=scopes,
            created_at=now,
            expires_at=expires_at,
            last_used_at=None,
        )
        owner = await user_store.get(tx.conn, owner_id, for_update=True)
        if owner is None or owner.disabled:
            raise UserNotFound(f"user {owner_id} does not exist or is disabled")
        await store.insert(tx.conn, {**dataclasses.asdict(row), "secret_hash": digest(key)})
        await self.ctx.audit(
            tx,
            ApiKeyCreated,
            actor,
            target_type="api_key",
            target_id=row.id,
            owner_id=str(owner_id),
            name=name,
            scopes=scopes,
            expires_at=expires_at,
        )
        return NewApiKey(row, key)

    async def validate(self, key: str) -> ValidApiKey:
        """The live key; `InvalidApiKey` otherwise."""
        if not key.startswith(API_KEY_PREFIX):
            raise InvalidApiKey("an Assay API key starts with assay_")
        now = self.ctx.now()
        async with self.ctx.db.read() as conn:
            found = await store.by_secret_hash(conn, digest(key))
        if found is None or (found.key.expires_at is not None and found.key.expires_at <= now):
            raise InvalidApiKey("the API key is unknown, expired or revoked")
        if found.user.disabled:
            raise InvalidApiKey("the API key's owner is disabled")
        row = found.key
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            async with self.ctx.db.transaction() as tx:
                if await store.touch(tx.conn, row.id, now=now, cutoff=now - LAST_USED_RESOLUTION):
                    row = dataclasses.replace(row, last_used_at=now)
        return ValidApiKey(row, found.user)

    async def get(self, key_id: uuid.UUID, *, owner: uuid.UUID | None) -> ApiKeyRow:
        async with self.ctx.db.read() as conn:
            row = await store.get(conn, key_id)
        if row is None or (owner is not None and row.user_id != owner):
            raise ApiKeyNotFound(f"API key {key_id} does not exist")
        return row

    async def list(self, owner_id: uuid.UUID, *, before: uuid.UUID | None, limit: int) -> list[ApiKeyRow]:
        async with self.ctx.db.read() as conn:
            return await store.list_of_user(conn, owner_id, before=before, limit=limit)

    async def revoke(self, actor: Actor, key_id: uuid.UUID, *, owner: uuid.UUID | None) -> None:
        """Revoke a key; with `owner`, only one of that user's (else it is not found)."""
        async with self.ctx.db.transaction() as tx:
            row = await store.get(tx.conn, key_id)
            if (
                row is None
                or (owner is not None and row.user_id != owner)
                or not await store.delete(tx.conn, key_id)
            ):
                raise ApiKeyNotFound(f"API key {key_id} does not exist")
            await self.ctx.revoked(tx, row.user_id, reason="revoked", api_key_ids=[key_id])
            await self.ctx.audit(
                tx, ApiKeyRevoked, actor, target_type="api_key", target_id=key_id, owner_id=str(row.user_id)
            )
