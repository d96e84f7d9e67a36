"""Plain rows of the auth tables, as the domain sees them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Json = Any


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    email: str
    email_key: str
    email_verified: bool
    display_name: str
    metadata: dict[str, Json]
    is_admin: bool
    password_hash: str | None
    password_changed_at: datetime | None
    disabled_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None


@dataclass(frozen=True)
class SessionRow:
    id: uuid.UUID
    user_id: uuid.UUID
    csrf_hash: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    client_address: str | None
    user_agent: str | None


@dataclass(frozen=True)
class ApiKeyRow:
    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class ThrottleRow:
    key: str
    failures: int
    last_failure_at: datetime
    locked_until: datetime | None


@dataclass(frozen=True)
class AuditRow:
    id: str
    occurred_at: datetime
    action: str
    service: str
    actor_id: str | None
    actor_kind: str
    target_type: str | None
    target_id: str | None
    client_address: str | None
    data: dict[str, Json]
