"""Who may do what, from the principal the gateway vouches for in the internal token.

- `service` principals (other Assay services, the operator's tooling holding the platform key) act
  as administrators, and alone may call the internal routes.
- `user` principals are users signed in through a session (or another user credential); when the
  principal names its session, the session must still be live.
- `api_key` principals act for the key's owner, with the key's scopes; administration through an
  API key needs an administrator's key carrying the `admin` scope.
- `anonymous` principals may only sign in and ask for password recovery.

A user who is disabled or gone is treated as not signed in, whatever the token says.
"""

from __future__ import annotations

import time
import uuid
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
from assay_auth.store import sessions as session_store
from assay_auth.store import users as user_store
from assay_auth.store.rows import UserRow
from assay_common.internal_auth import Principal

#: The scope an administrator's API key needs to administer.
ADMIN_SCOPE = "admin"
#: How long `standing` reuses a caller's confirmation (an enabled user, a live session), per
#: process. The gateway already reuses a credential's validation for seconds, so this adds at most
#: this much to how late a revocation reaches the routes using it (permission checks), and spares
#: their hot path a database read per request.
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
    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx
        self._standings: dict[Principal, tuple[float, str | None]] = {}

    async def admin(self, principal: Principal, address: str | None) -> Actor:
        """The acting administrator; `NotSignedIn` (401) or `AdminRequired` (403) otherwise."""
        if principal.kind == "service":
            return Actor(id=principal.id, kind="service", address=address)
        signed_in = await self._signed_in(principal, address)
        if not signed_in.user.is_admin or (
            principal.kind == "api_key" and ADMIN_SCOPE not in principal.scopes
        ):
            raise AdminRequired("this needs an administrator")
        return signed_in.actor

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
