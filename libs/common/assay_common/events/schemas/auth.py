"""Events and audit records of the auth service.

Domain events go to the events stream (`assay.auth._.<name>`, platform-wide); audit records to the
audit stream (`audit.auth.<name>`). No payload carries a password, a password hash, a session
secret or an API key. The one secret that travels, a password-recovery token, is sealed for the
mail sender (`seal_recovery_delivery` / `open_recovery_delivery`): the events stream is readable by
event subscribers, so a token in clear there would let any of them take over the account.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography.fernet import Fernet, InvalidToken
from pydantic import Field

from assay_common.events.envelope import EventData, event_type

# ---- domain events ---------------------------------------------------------------------------


@event_type(
    "auth",
    "password_recovery_requested",
    "A password-recovery token was issued; `sealed` holds it and the address to mail it to",
)
class PasswordRecoveryRequested(EventData):
    user_id: str
    sealed: str
    expires_at: datetime


@event_type(
    "auth",
    "credentials_revoked",
    "Sessions or API keys stopped being valid before their expiry (logout, revocation, password "
    "change, user disabled or deleted, privileges changed); caches of them must be dropped",
)
class CredentialsRevoked(EventData):
    user_id: str
    session_ids: list[str] = Field(default_factory=list)
    api_key_ids: list[str] = Field(default_factory=list)
    all_of_user: bool = False
    reason: str


@event_type(
    "auth",
    "biscuit_revoked",
    "Blocks of biscuit tokens were revoked: every token carrying one of these revocation ids, "
    "and every token attenuated from it, must be refused from now on",
)
class BiscuitRevoked(EventData):
    revocation_ids: list[str] = Field(description="Revocation ids (hex) of the revoked blocks")


@event_type(
    "auth",
    "relationships_changed",
    "Relationships of a permission store were written or deleted; caches of permission answers at "
    "older revisions of that store are stale",
)
class RelationshipsChanged(EventData):
    store: str
    revision: int = Field(description="The store's revision after the change")
    zookie: str = Field(description="A consistency token: a check with it sees this change")
    created: int
    touched: int
    deleted: int
    object_types: list[str] = Field(description="Resource types of the relationships that changed")


@event_type(
    "auth",
    "permission_schema_changed",
    "A new version of a permission store's schema took effect",
)
class PermissionSchemaChanged(EventData):
    store: str
    version: int
    revision: int = Field(description="The store's revision at which the schema took effect")
    zookie: str


@dataclass(frozen=True)
class RecoveryDelivery:
    """What a mail sender needs: where to send the recovery token."""

    email: str
    token: str


class RecoveryDeliveryUnreadable(ValueError):
    """The sealed delivery was not made with this key, or was altered."""


def seal_recovery_delivery(key: str, delivery: RecoveryDelivery) -> str:
    """Encrypt and authenticate `delivery` with `key` (a Fernet key: 32 url-safe base64 bytes)."""
    plain = json.dumps({"email": delivery.email, "token": delivery.token}).encode()
    return Fernet(key.encode()).encrypt(plain).decode()


def open_recovery_delivery(key: str, sealed: str) -> RecoveryDelivery:
    """The delivery inside `sealed`, for the holder of `key`."""
    try:
        data = json.loads(Fernet(key.encode()).decrypt(sealed.encode()))
    except (InvalidToken, ValueError) as exc:
        raise RecoveryDeliveryUnreadable("the sealed recovery delivery cannot be opened") from exc
    return RecoveryDelivery(email=str(data["email"]), token=str(data["token"]))


# ---- audit records ---------------------------------------------------------------------------


class AuthAudit(EventData):
    """What every audit record of the auth service carries: who did it, from where, to what."""

    actor_id: str | None = None
    actor_kind: str
    client_address: str | None = None
    target_type: str | None = None
    target_id: str | None = None


@event_type(
    "auth",
    "login_succeeded",
    "A user signed in with a password or a passkey; a session was created",
    audit=True,
)
class LoginSucceeded(AuthAudit):
    session_id: str
    password_rehashed: bool
    method: Literal["password", "passkey"] = "password"
    passkey_id: str | None = Field(default=None, description="The passkey used, for `passkey`")


@event_type("auth", "login_failed", "A sign-in with a password or a passkey failed", audit=True)
class LoginFailed(AuthAudit):
    email: str | None = Field(default=None, description="As typed; none for a passkey sign-in without one")
    reason: Literal[
        "unknown_user",
        "wrong_password",
        "no_password",
        "disabled",
        "unknown_challenge",
        "unknown_passkey",
        "invalid_assertion",
        "counter_regression",
    ]
    method: Literal["password", "passkey"] = "password"
    passkey_id: str | None = Field(default=None, description="The passkey presented, when it is known")


@event_type("auth", "login_throttled", "A sign-in was refused without a check: too many failures", audit=True)
class LoginThrottled(AuthAudit):
    email: str
    locked_by: Literal["account", "address"]
    retry_after_seconds: int


@event_type("auth", "logged_out", "A user signed out; the session ended", audit=True)
class LoggedOut(AuthAudit):
    session_id: str


@event_type("auth", "sessions_revoked", "Sessions of a user were revoked", audit=True)
class SessionsRevoked(AuthAudit):
    session_ids: list[str]


@event_type(
    "auth", "password_changed", "A user changed their password; their other sessions ended", audit=True
)
class PasswordChanged(AuthAudit):
    sessions_revoked: int


@event_type("auth", "password_reset", "A password was set by an admin or with a recovery token", audit=True)
class PasswordReset(AuthAudit):
    via: Literal["admin", "recovery"]
    sessions_revoked: int


@event_type("auth", "recovery_requested", "Password recovery was asked for an email address", audit=True)
class RecoveryRequested(AuthAudit):
    email: str
    outcome: Literal["token_issued", "unknown_email", "not_eligible", "cooldown"]


@event_type("auth", "api_key_created", "An API key was created", audit=True)
class ApiKeyCreated(AuthAudit):
    owner_id: str
    name: str
    scopes: list[str]
    expires_at: datetime | None = None


@event_type("auth", "api_key_revoked", "An API key was revoked", audit=True)
class ApiKeyRevoked(AuthAudit):
    owner_id: str


@event_type("auth", "user_created", "A user was created", audit=True)
class UserCreated(AuthAudit):
    email: str
    is_admin: bool


@event_type("auth", "user_updated", "A user's profile or privileges changed", audit=True)
class UserUpdated(AuthAudit):
    fields: list[str]


@event_type("auth", "user_disabled", "A user was disabled; their sessions ended", audit=True)
class UserDisabled(AuthAudit):
    pass


@event_type("auth", "user_enabled", "A disabled user was enabled again", audit=True)
class UserEnabled(AuthAudit):
    pass


@event_type(
    "auth", "user_deleted", "A user was deleted with their sessions, API keys and passkeys", audit=True
)
class UserDeleted(AuthAudit):
    email: str


@event_type("auth", "passkey_added", "A user registered a passkey (a WebAuthn credential)", audit=True)
class PasskeyAdded(AuthAudit):
    owner_id: str
    name: str
    aaguid: str = Field(description="The authenticator model (all zeros when it does not say)")


@event_type("auth", "passkey_renamed", "A passkey was renamed", audit=True)
class PasskeyRenamed(AuthAudit):
    owner_id: str
    name: str


@event_type("auth", "passkey_removed", "A passkey was removed; it can no longer sign in", audit=True)
class PasskeyRemoved(AuthAudit):
    owner_id: str


@event_type(
    "auth",
    "signing_key_rotated",
    "A new JWT signing key became active; the one before stays published until its tokens expire",
    audit=True,
)
class SigningKeyRotated(AuthAudit):
    retired_kid: str | None = Field(description="The key that signed until now; none for the first key")
    reason: Literal["initial", "scheduled", "manual"]


@event_type("auth", "token_issued", "A session or an API key was exchanged for a short-lived JWT", audit=True)
class TokenIssued(AuthAudit):
    jti: str
    kid: str
    subject_kind: Literal["user", "api_key"]
    scopes: list[str]
    expires_at: datetime


@event_type(
    "auth",
    "biscuit_root_key_rotated",
    "A new biscuit root key became active; the one before still verifies until it is retired",
    audit=True,
)
class BiscuitRootKeyRotated(AuthAudit):
    previous_key_id: int | None = Field(description="The key that signed until now; none for the first key")
    reason: Literal["initial", "manual"]


@event_type(
    "auth",
    "biscuit_root_key_retired",
    "A rotated biscuit root key was deleted; the tokens it signed no longer verify",
    audit=True,
)
class BiscuitRootKeyRetired(AuthAudit):
    pass


@event_type(
    "auth", "biscuit_issued", "A biscuit capability token was issued (the token is not kept)", audit=True
)
class BiscuitIssued(AuthAudit):
    subject: str
    root_key_id: int
    namespaces: list[str] | None = Field(description="The namespaces it is restricted to; none: any")
    operations: list[str] | None = Field(description="The operations it is restricted to; none: any")
    resources: list[str] | None = Field(description="The resources it is restricted to; none: any")
    checks: int = Field(description="How many checks written as datalog it carries")
    expires_at: datetime


@event_type(
    "auth",
    "biscuit_revocation_recorded",
    "Revocation ids of biscuit blocks were added to the revocation list",
    audit=True,
)
class BiscuitRevocationRecorded(AuthAudit):
    revocation_ids: list[str]
    via: Literal["token", "revocation_ids"] = Field(
        description="`token`: a holder presented the token; `revocation_ids`: an administrator named them"
    )


@event_type(
    "auth",
    "permission_schema_written",
    "A permission store's schema was replaced (`forced`: even though relationships lost their meaning)",
    audit=True,
)
class PermissionSchemaWritten(AuthAudit):
    store: str
    version: int
    revision: int
    forced: bool
    orphaned: int = Field(
        default=0, description="Kinds of existing relationships the schema no longer allows"
    )


@event_type(
    "auth",
    "relationships_written",
    "Relationships of a permission store were created, touched or deleted (counts only)",
    audit=True,
)
class RelationshipsWritten(AuthAudit):
    store: str
    revision: int
    created: int
    touched: int
    deleted: int
    by_filter: bool = Field(default=False, description="Deleted by a filter rather than one by one")
    preconditions: int = 0
