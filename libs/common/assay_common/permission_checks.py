"""Whether a caller may do something: the permission checks every service makes (docs/permissions.md).

A `Need` is a permission on an object of the platform permission store (`namespace:payments#operate`).
A principal holds it when

- it is a `service` (Assay's own services and the operator's tooling act as administrators), or
- its scopes cover it (below) and its subject (`user:<id>`) has it in the permission store.

Scopes. An API key reaches only what its scopes name; a user (a session, a user's token, an
external issuer's token) is limited by scopes only when it carries some other than `admin`
(a token exchanged for narrower scopes). A scope `<type>:<id>#<permission>` covers that permission
and the weaker ones of the same object (`namespace:x#operate` covers `work` and `view` of `x`; the
id may be `*`); `platform:assay#…` scopes also cover what the platform role reaches through the
`platform` relation of namespaces; `admin` is `platform:assay#administer` and `*` is everything
the owner may do.
Scopes restrict, they never grant: the subject must still have the permission.

The answers come from the auth service over NATS request/reply (`<prefix>-rpc.auth.permissions.check`,
answered by any one auth replica). Each answer is kept with the store revision it holds at until
`cache_seconds` pass or a `relationships_changed`/`permission_schema_changed` event names a newer
revision; a caller holding a zookie (the consistency token of a write) is answered at least as
fresh as that write.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import orjson
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from pydantic import BaseModel, Field, ValidationError

from assay_common.errors import AssayError, Forbidden, Invalid, Unavailable
from assay_common.events.bus import EventBus
from assay_common.events.envelope import CloudEvent
from assay_common.internal_auth import Principal

log = logging.getLogger("assay.permissions")

#: The permission store the platform's own authorization uses.
PLATFORM_STORE = "platform"
#: The one object of type `platform`.
PLATFORM_ID = "assay"
#: The scope that stands for `platform:assay#administer`.
ADMIN_SCOPE = "admin"
#: The scope of a credential that may do everything its owner may (`assay login`'s key).
EVERYTHING_SCOPE = "*"
#: The NATS request subject (after the prefix) the auth service answers checks on.
CHECK_TOPIC = "permissions.check"
#: The request header with a consistency token (a zookie, e.g. the `written_at` of a grant): the
#: checks a request needs are answered at least as fresh as that write.
CONSISTENCY_TOKEN_HEADER = "assay-consistency-token"
#: Events of the auth service after which cached answers at older revisions are stale.
CHANGE_EVENTS = ("relationships_changed", "permission_schema_changed")


# ---- what is needed ------------------------------------------------------------------------------

#: What the permission store takes as an object id (SpiceDB's grammar).
OBJECT_ID = re.compile(r"[a-zA-Z0-9/_|\-=+]{1,1024}")


@dataclass(frozen=True)
class Need:
    """A permission on an object of the platform permission store."""

    resource_type: str
    resource_id: str
    permission: str

    @property
    def resource(self) -> str:
        return f"{self.resource_type}:{self.resource_id}"

    def __str__(self) -> str:
        return f"{self.resource}#{self.permission}"

    @classmethod
    def parse(cls, text: str) -> Need | None:
        """`type:id#permission`, or None for anything else."""
        resource, _, permission = text.partition("#")
        resource_type, _, resource_id = resource.partition(":")
        if not (resource_type and resource_id and permission):
            return None
        return cls(resource_type, resource_id, permission)


def platform(permission: str) -> Need:
    return Need("platform", PLATFORM_ID, permission)


def namespace(name: str, permission: str) -> Need:
    return Need("namespace", name, permission)


def vault_mount(path: str, permission: str) -> Need:
    return Need("vault_mount", path, permission)


# ---- scopes --------------------------------------------------------------------------------------

#: The permissions of each type of the platform schema, strongest first: in the schema each one
#: includes every one after it, so a scope naming one covers those after it too.
PERMISSION_ORDER: dict[str, tuple[str, ...]] = {
    "platform": ("administer", "operate", "view"),
    "namespace": ("administer", "operate", "work", "view"),
    "vault_mount": ("administer", "write", "read"),
    "vault_path": ("write", "read"),
    "api_key": ("manage",),
}
#: What a platform role reaches through the `platform` relation of other objects (the platform
#: schema's arrows): the strongest permission of each type it covers.
PLATFORM_REACH: dict[str, dict[str, str]] = {
    "administer": {"namespace": "administer", "vault_mount": "administer", "api_key": "manage"},
    "operate": {"namespace": "operate"},
    "view": {"namespace": "view"},
}


def _at_least(resource_type: str, held: str, needed: str) -> bool:
    order = PERMISSION_ORDER.get(resource_type)
    if order is None or held not in order or needed not in order:
        return held == needed
    return order.index(held) <= order.index(needed)


def scope_covers(scope: str, need: Need) -> bool:
    """Whether one scope string covers `need`."""
    if scope == EVERYTHING_SCOPE:
        return True
    held = platform("administer") if scope == ADMIN_SCOPE else Need.parse(scope)
    if held is None:
        return False
    on_platform = held.resource_type == "platform" and held.resource_id == PLATFORM_ID
    if on_platform and need.resource_type != "platform":
        reached = PLATFORM_REACH.get(held.permission, {}).get(need.resource_type)
        return reached is not None and _at_least(need.resource_type, reached, need.permission)
    if held.resource_type != need.resource_type or held.resource_id not in ("*", need.resource_id):
        return False
    return _at_least(need.resource_type, held.permission, need.permission)


def platform_role_reaching(need: Need) -> Need | None:
    """The weakest platform permission that reaches `need` through the object's `platform`
    relation (the platform schema's arrows, read backwards); None for the platform itself."""
    if need.resource_type == "platform":
        return None
    for permission in reversed(PERMISSION_ORDER["platform"]):
        reached = PLATFORM_REACH[permission].get(need.resource_type)
        if reached is not None and _at_least(need.resource_type, reached, need.permission):
            return platform(permission)
    return None


def limited_by_scopes(principal: Principal) -> bool:
    """Whether `principal`'s scopes restrict what it may do (see the module's description)."""
    if principal.kind in ("api_key", "biscuit"):
        return True
    return any(scope not in (ADMIN_SCOPE, EVERYTHING_SCOPE) for scope in principal.scopes)


def scopes_cover(principal: Principal, need: Need) -> bool:
    if not limited_by_scopes(principal):
        return True
    return any(scope_covers(scope, need) for scope in principal.scopes)


def subject_of(principal: Principal) -> str | None:
    """The subject that stands for `principal` in the permission store; None when there is none.

    Users, API keys and biscuits act as `user:<id>` (the user, the key's owner, the token's
    subject); an external issuer's principal `<alias>:<subject>` is `user:<alias>|<subject>`."""
    if principal.kind in ("user", "api_key", "biscuit"):
        return f"user:{principal.id}"
    if principal.kind == "external":
        return "user:" + principal.id.replace(":", "|", 1)
    return None


# ---- errors --------------------------------------------------------------------------------------


class PermissionDenied(Forbidden):
    code = "permission_denied"
    title = "The caller lacks the permission"


class ScopeNotHeld(Forbidden):
    code = "scope_not_held"
    title = "The credential's scopes do not cover this"


class PermissionsUnavailable(Unavailable):
    code = "permissions_unavailable"
    title = "Permissions cannot be checked now"


# ---- the wire ------------------------------------------------------------------------------------


class CheckQuery(BaseModel):
    """A request to the auth service: each check is `[resource, permission, subject]`."""

    checks: list[tuple[str, str, str]] = Field(min_length=1, max_length=1000)
    #: The permission store asked; the platform's own unless named.
    store: str = PLATFORM_STORE
    #: A zookie: answer at least as fresh as the write that returned it.
    at_least: str | None = None


class CheckProblem(BaseModel):
    status: int
    code: str
    detail: str


class CheckAnswer(BaseModel):
    allowed: list[bool] = Field(default_factory=list)
    revision: int = 0
    problem: CheckProblem | None = None


class InvalidZookie(Invalid):
    code = "invalid_zookie"
    title = "The consistency token is not one this store issued"


def decode_zookie(store: str, zookie: str) -> int:
    """The revision of `store` a zookie (`base64url("z1:<store>:<revision>")`) names."""
    try:
        text = base64.urlsafe_b64decode(zookie + "=" * (-len(zookie) % 4)).decode()
        version, zookie_store, revision = text.split(":")
        number = int(revision)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidZookie("the zookie cannot be read; use one a write or a check returned") from None
    if version != "z1" or number < 0:
        raise InvalidZookie("the zookie cannot be read; use one a write or a check returned")
    if zookie_store != store:
        raise InvalidZookie(f"the zookie belongs to store {zookie_store!r}, not {store!r}")
    return number


def encode_zookie(store: str, revision: int) -> str:
    """The zookie naming `revision` of `store`."""
    return base64.urlsafe_b64encode(f"z1:{store}:{revision}".encode()).decode().rstrip("=")


# ---- the client ----------------------------------------------------------------------------------

Key = tuple[str, str, str]


@dataclass
class _Answer:
    allowed: bool
    revision: int
    until: float


class PermissionChecks:
    """Checks against a permission store (the platform's unless `store` names another), answered by
    the auth service, cached here."""

    #: Answers remembered at most; the least recently used go first.
    CAPACITY: ClassVar[int] = 100_000

    def __init__(
        self,
        bus: EventBus,
        *,
        cache_seconds: float = 5.0,
        timeout_seconds: float = 5.0,
        store: str = PLATFORM_STORE,
    ) -> None:
        self.bus = bus
        self.store = store
        self.cache_seconds = cache_seconds
        self.timeout_seconds = timeout_seconds
        self._answers: OrderedDict[Key, _Answer] = OrderedDict()
        #: No cached answer older than this revision holds (raised by change events).
        self._floor = 0
        self._follower: asyncio.Task[None] | None = None

    # ---- caching -----------------------------------------------------------------------------

    def changed(self, revision: int) -> None:
        """The store reached `revision`: answers computed before it are stale."""
        self._floor = max(self._floor, revision)

    async def start(self) -> None:
        """Follow the store's change events (every replica hears each: plain subscriptions)."""
        subscriptions = [
            await self.bus.nc.subscribe(self.bus.subjects.event("auth", None, name), cb=self._on_change)
            for name in CHANGE_EVENTS
        ]
        await self.bus.nc.flush()
        self._follower = asyncio.create_task(self._hold(subscriptions), name="permission-changes")

    async def stop(self) -> None:
        if self._follower is not None:
            self._follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follower
            self._follower = None

    @staticmethod
    async def _hold(subscriptions: list[Subscription]) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            for subscription in subscriptions:
                with contextlib.suppress(NatsError):
                    await subscription.unsubscribe()

    async def _on_change(self, message: Msg) -> None:
        try:
            event = CloudEvent.model_validate_json(message.data)
            revision = event.data.get("revision")
            if event.data.get("store") == self.store and isinstance(revision, int):
                self.changed(revision)
        except ValidationError:
            log.warning("ignored a permission change message that is not an event")

    def _known(self, key: Key, wanted: int, now: float) -> bool | None:
        answer = self._answers.get(key)
        if answer is None or answer.until <= now or answer.revision < max(self._floor, wanted):
            return None
        self._answers.move_to_end(key)
        return answer.allowed

    def _remember(self, key: Key, allowed: bool, revision: int, now: float) -> None:
        self._answers[key] = _Answer(allowed, revision, now + self.cache_seconds)
        self._answers.move_to_end(key)
        while len(self._answers) > self.CAPACITY:
            self._answers.popitem(last=False)

    # ---- asking --------------------------------------------------------------------------------

    async def allowed(self, subject: str, needs: Sequence[Need], at_least: str | None = None) -> list[bool]:
        """Whether `subject` has each of `needs`, at least as fresh as the zookie `at_least`.

        On the platform store a need is also met by the platform role that reaches its object
        through the `platform` relation (`platform_role_reaching`), whether or not that object is
        linked yet: platform roles reach every namespace, including one created a moment ago (its
        creator can use it at once) and one that does not exist (whose routes then answer 404,
        not 403)."""
        if self.store != PLATFORM_STORE:
            return await self._ask_store(subject, needs, at_least)
        roles = [platform_role_reaching(need) for need in needs]
        asked = list(dict.fromkeys([*needs, *(role for role in roles if role is not None)]))
        found = dict(zip(asked, await self._ask_store(subject, asked, at_least), strict=True))
        return [
            found[need] or (role is not None and found[role]) for need, role in zip(needs, roles, strict=True)
        ]

    async def _ask_store(self, subject: str, needs: Sequence[Need], at_least: str | None) -> list[bool]:
        wanted = decode_zookie(self.store, at_least) if at_least else 0
        now = time.monotonic()
        keys = [(need.resource, need.permission, subject) for need in needs]
        answers = [self._known(key, wanted, now) for key in keys]
        missing = [i for i, answer in enumerate(answers) if answer is None]
        if missing:
            # Never older than the newest change heard of: any replica answers with it in view.
            fresh = encode_zookie(self.store, self._floor) if self._floor > wanted else at_least
            query = CheckQuery(checks=[keys[i] for i in missing], at_least=fresh, store=self.store)
            answer = await self._ask(query)
            for i, allowed in zip(missing, answer.allowed, strict=True):
                answers[i] = allowed
                self._remember(keys[i], allowed, answer.revision, now)
        return [bool(answer) for answer in answers]

    async def _ask(self, query: CheckQuery) -> CheckAnswer:
        subject = self.bus.subjects.rpc("auth", CHECK_TOPIC)
        try:
            reply = await self.bus.nc.request(
                subject, query.model_dump_json().encode(), timeout=self.timeout_seconds
            )
        except (NoRespondersError, NatsTimeout):
            raise PermissionsUnavailable("the auth service did not answer a permission check") from None
        except NatsError:
            raise PermissionsUnavailable("the event bus is not reachable for a permission check") from None
        try:
            answer = CheckAnswer.model_validate(orjson.loads(reply.data))
        except (orjson.JSONDecodeError, ValidationError):
            raise PermissionsUnavailable("a permission check got an answer that is not one") from None
        if answer.problem is not None:
            raise _problem(answer.problem)
        if len(answer.allowed) != len(query.checks):
            raise PermissionsUnavailable("the auth service answered a different number of checks")
        return answer

    # ---- for routes ----------------------------------------------------------------------------

    async def permitted(
        self, principal: Principal, needs: Sequence[Need], at_least: str | None = None
    ) -> list[bool]:
        """Whether `principal` holds each of `needs` (scopes and permissions)."""
        if principal.kind == "service":
            return [True] * len(needs)
        subject = subject_of(principal)
        covered = [scopes_cover(principal, need) for need in needs]
        asked = [need for need, ok in zip(needs, covered, strict=True) if ok]
        if subject is None or not asked:
            return [False] * len(needs)
        found = iter(await self.allowed(subject, asked, at_least))
        return [next(found) if ok else False for ok in covered]

    async def require(self, principal: Principal, need: Need, at_least: str | None = None) -> None:
        """Nothing when `principal` holds `need`; `ScopeNotHeld` or `PermissionDenied` (403) otherwise."""
        if principal.kind == "service":
            return
        if not scopes_cover(principal, need):
            raise ScopeNotHeld(f"the credential's scopes do not cover {need}", needed=str(need))
        subject = subject_of(principal)
        if subject is None or not (await self.allowed(subject, [need], at_least))[0]:
            raise PermissionDenied(f"this needs {need}", needed=str(need))

    async def require_any(
        self, principal: Principal, needs: Sequence[Need], at_least: str | None = None
    ) -> None:
        """Nothing when `principal` holds the first of `needs` or any other; else the refusal of
        the first. The first is asked alone (the common case costs one check); the others, the
        alternatives a route allows, together only when it is refused."""
        first, *alternatives = needs
        try:
            await self.require(principal, first, at_least)
        except (ScopeNotHeld, PermissionDenied):
            if not alternatives or not any(await self.permitted(principal, alternatives, at_least)):
                raise


class CheckRefused(Invalid):
    """The auth service refused the check as asked (an object id it cannot hold, say)."""

    code = "invalid_permission_check"
    title = "The permission check cannot be made"


def _problem(problem: CheckProblem) -> AssayError:
    if problem.code == InvalidZookie.code:
        return InvalidZookie(problem.detail)
    if 400 <= problem.status < 500:
        return CheckRefused(problem.detail)
    return PermissionsUnavailable(problem.detail)
