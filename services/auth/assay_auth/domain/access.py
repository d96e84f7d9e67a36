"""Who may do what, from the principal the gateway vouches for in the internal token.

- `service` principals (other Assay services, the operator's tooling holding the platform key) act
  as administrators, and alone may call the internal routes.
- `user` principals are users signed in through a session (or another user credential); when the
  principal names its session, the session must still be live.
- `api_key` principals act for the key's owner, within the key's scopes.
- `anonymous` principals may only sign in and ask for password recovery.

Administrators are decided by the platform permission store: the caller's subject (`user:<id>`)
must hold `platform:assay#administer` (directly, through a group, however it was granted), and a
credential limited by scopes (an API key, a narrowed token) must carry one covering it (`admin`
does; see `assay_common.permission_checks`). The store is read at its current revision, so a role
granted or revoked a moment ago counts at once. A user's `is_admin` flag is only its mirror.

A user who is disabled or gone is treated as not signed in, whatever the token says.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.errors import (
    AdminRequired,
    ApiKeyRequired,
    NotSignedIn,
    ServiceRequired,
    UserSessionRequired,
)
from assay_auth.domain.permission_service import PLATFORM_STORE, Consistency, NoSchema, PermissionStores
from assay_auth.domain.permissions import InvalidPermissionQuery, ObjectRef, SubjectRef, parse_subject_ref
from assay_auth.store import sessions as session_store
from assay_auth.store import users as user_store
from assay_auth.store.rows import UserRow
from assay_common.internal_auth import Principal
from assay_common.permission_checks import (
    Need,
    PermissionDenied,
    ScopeNotHeld,
    platform,
    scopes_cover,
    subject_of,
)

log = logging.getLogger("assay.auth.access")

#: What administering needs.
ADMINISTER = platform("administer")
#: What checking another subject's permissions needs (checks reveal grants, not the graph).
VIEW = platform("view")
#: How long `standing` reuses a caller's confirmation (an enabled user, a live session), and
#: `may_check` its `platform:assay#view`, per process. The gateway already reuses a credential's
#: validation for seconds, so this adds at most this much to how late a revocation reaches the
#: routes using it (permission checks), and spares their hot path a database read or a permission
#: evaluation per request.
STANDING_REUSE_SECONDS = 1.0
#: Callers remembered at most; all are forgotten at once when full (a second's worth of callers).
STANDINGS_KEPT = 10_000


@dataclass(frozen=True)
class SignedIn:
    actor: Actor
    user: UserRow
    session_id: uuid.UUID | None


@dataclass(frozen=True)
class KeyInUse:
    """The API key a request is made with, and its owner."""

    actor: Actor
    user: UserRow
    key_id: uuid.UUID


class Access:
    def __init__(self, ctx: AuthContext, permissions: PermissionStores) -> None:
        self.ctx = ctx
        self.permissions = permissions
        self._standings: dict[Principal, tuple[float, str | None]] = {}
        #: Callers found to hold `platform:assay#view`, until when (reused like standings).
        self._viewers: dict[Principal, float] = {}

    async def admin(self, principal: Principal, address: str | None) -> Actor:
        """The acting administrator; `NotSignedIn` (401) or `AdminRequired` (403) otherwise."""
        if principal.kind == "service":
            return Actor(id=principal.id, kind="service", address=address)
        signed_in = await self._signed_in(principal, address)
        # The current revision: a role granted or revoked a moment ago counts at once.
        if not (
            scopes_cover(principal, ADMINISTER)
            and await self._granted(principal, ADMINISTER, Consistency("fully_consistent"))
        ):
            raise AdminRequired("this needs an administrator", needed=str(ADMINISTER))
        return signed_in.actor

    async def may_check(self, principal: Principal, subjects: Iterable[SubjectRef]) -> None:
        """Nothing when a caller whose `standing` is confirmed may ask permission checks about
        `subjects`: anyone about themselves; about anyone else, services and holders of
        `platform:assay#view` (within their scopes). `ScopeNotHeld` or `PermissionDenied` (403)
        otherwise."""
        if principal.kind == "service":
            return
        own = subject_of(principal)
        if all(str(subject) == own for subject in subjects):
            return
        now = time.monotonic()
        if self._viewers.get(principal, 0.0) > now:
            return
        if not scopes_cover(principal, VIEW):
            raise ScopeNotHeld(f"checking another subject needs a scope covering {VIEW}", needed=str(VIEW))
        # Checks are answered at a recent revision, and so is who may ask; a refusal is confirmed
        # at the current one, so a role granted a moment ago counts.
        if not (
            await self._granted(principal, VIEW, Consistency())
            or await self._granted(principal, VIEW, Consistency("fully_consistent"))
        ):
            raise PermissionDenied(f"checking another subject than yourself needs {VIEW}", needed=str(VIEW))
        if len(self._viewers) >= STANDINGS_KEPT:
            self._viewers.clear()
        self._viewers[principal] = now + STANDING_REUSE_SECONDS

    async def user(self, principal: Principal, address: str | None) -> SignedIn:
        """The signed-in user acting for themselves; API keys and services are refused (403)."""
        if principal.kind in ("api_key", "service"):
            raise UserSessionRequired("sign in as the user to do this")
        return await self._signed_in(principal, address)

    async def anyone_signed_in(self, principal: Principal, address: str | None) -> SignedIn:
        """The user behind a session or an API key."""
        if principal.kind == "service":
            raise UserSessionRequired("a service is not a user")
        return await self._signed_in(principal, address)

    async def api_key(self, principal: Principal, address: str | None) -> KeyInUse:
        """The API key the caller authenticated with; 403 for any other credential."""
        if principal.kind != "api_key" or not principal.api_key_id:
            raise ApiKeyRequired("only a request made with an API key can name its key")
        signed_in = await self._signed_in(principal, address)
        try:
            key_id = uuid.UUID(principal.api_key_id)
        except ValueError:
            raise NotSignedIn("sign in first") from None
        return KeyInUse(signed_in.actor, signed_in.user, key_id)

    async def standing(self, principal: Principal, address: str | None) -> Actor:
        """Whoever is authenticated: a service, a user, or an API key's owner; the user's standing
        is confirmed at most once per `STANDING_REUSE_SECONDS`."""
        if principal.kind == "service":
            return Actor(id=principal.id, kind="service", address=address)
        now = time.monotonic()
        known = self._standings.get(principal)
        if known is not None and known[0] > now:
            return Actor(id=known[1], kind=principal.kind, address=address)
        actor = (await self.anyone_signed_in(principal, address)).actor
        if len(self._standings) >= STANDINGS_KEPT:
            self._standings.clear()
        self._standings[principal] = (now + STANDING_REUSE_SECONDS, actor.id)
        return actor

    async def _granted(self, principal: Principal, need: Need, consistency: Consistency) -> bool:
        """Whether the principal's subject has `need` in the platform store. A store that cannot
        answer (no schema, or an operator's own schema without the permission) grants nothing."""
        subject = subject_of(principal)
        if subject is None:
            return False
        item = (ObjectRef(need.resource_type, need.resource_id), need.permission, parse_subject_ref(subject))
        try:
            (allowed,), _ = await self.permissions.check(PLATFORM_STORE, [item], consistency)
        except (NoSchema, InvalidPermissionQuery) as exc:
            log.warning("the platform permission store cannot answer %s: %s", need, exc.detail)
            return False
        return allowed

    def service(self, principal: Principal) -> None:
        if principal.kind != "service":
            raise ServiceRequired("this route is for Assay's services only")

    async def _signed_in(self, principal: Principal, address: str | None) -> SignedIn:
        if principal.kind not in ("user", "api_key"):
            raise NotSignedIn("sign in first")
        try:
            user_id = uuid.UUID(principal.id)
            session_id = uuid.UUID(principal.session_id) if principal.session_id else None
        except ValueError:
            raise NotSignedIn("sign in first") from None
        now = self.ctx.now()
        async with self.ctx.db.read() as conn:
            user = await user_store.get(conn, user_id)
            session = await session_store.get(conn, session_id) if session_id is not None else None
        if user is None or user.disabled:
            raise NotSignedIn("sign in first")
        if session_id is not None:
            idle = timedelta(seconds=self.ctx.settings.session_idle_ttl_seconds)
            if (
                session is None
                or session.user_id != user_id
                or session.expires_at <= now
                or session.last_seen_at + idle <= now
            ):
                raise NotSignedIn("the session has ended; sign in again")
        return SignedIn(Actor(id=str(user_id), kind=principal.kind, address=address), user, session_id)
