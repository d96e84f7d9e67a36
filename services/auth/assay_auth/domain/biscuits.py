"""Biscuit capability tokens: root keys, issuing, attenuation, verification and revocation.

A token's authority block names its `subject` and restricts what it can be used for with checks
on the facts a verifier states about the request: `namespace`, `operation`, `resource` and `time`
(`check if namespace($ns), {"a", "b"}.contains($ns)`, `check if time($t), $t < <expiry>`). Every
restriction is a check, never a fact: a block appended later can only add checks, and its facts
are not seen by the checks of the blocks before it nor by the verifier's policy, so attenuation
can narrow a token but never widen it. Values go into the datalog as parameters, never as text.

Raw checks (datalog written by the caller) are parsed with biscuit's own parser one at a time as
checks, so they can only restrict; scope annotations (`trusting …`) are refused, as no third-party
blocks are issued here.

The root keys are Ed25519; each has a small integer id that tokens carry as their `root_key_id`,
so a verifier picks the key without trying them all. One key signs; after a rotation the others
still verify until an administrator retires (deletes) them. Private keys are sealed at rest with
`signing_key_encryption_key`, like the JWT signing keys.

`BiscuitVerifier` and `attenuate` need no database: a verifier (the gateway, an SDK) builds them
from the published public keys and the revocation list.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import biscuit_auth as bsc
import sqlalchemy as sa

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.sealing import KeyNotOpened, KeySealer
from assay_auth.store import biscuits as store
from assay_auth.store.biscuits import RevocationRow, RootKeyRow
from assay_common.errors import BadRequest, Conflict, Invalid, NotFound, Unavailable
from assay_common.events.schemas.auth import (
    BiscuitIssued,
    BiscuitRevocationRecorded,
    BiscuitRevoked,
    BiscuitRootKeyRetired,
    BiscuitRootKeyRotated,
)

log = logging.getLogger("assay.auth.biscuits")

#: The longest an authorization may run. The library's default (1 ms) refuses good tokens on a
#: busy machine; ten seconds (the original system's) lets one crafted token hold a worker.
RUN_TIME_LIMIT = timedelta(milliseconds=100)
#: The one policy of the verifier: the token names a subject in its authority block (only a root
#: key can sign that block); everything else is decided by the checks.
POLICY = "allow if subject($s)"
MAX_CHECK_LENGTH = 2000

Outcome = Literal[
    "allowed",
    "checks_failed",
    "denied_by_policy",
    "no_policy_matched",
    "revoked",
    "unknown_root_key",
    "invalid_signature",
    "run_limit_exceeded",
]
RotationReason = Literal["initial", "manual"]


class MalformedBiscuit(BadRequest):
    code = "malformed_biscuit"
    title = "The token is not a biscuit"


class UnverifiableBiscuit(Invalid):
    code = "unverifiable_biscuit"
    title = "The token is not signed by a known root key"


class InvalidDatalog(Invalid):
    code = "invalid_datalog"
    title = "The datalog cannot be used"


class NoRestriction(Invalid):
    code = "no_restriction"
    title = "An attenuation must add at least one restriction"


class RootKeyNotFound(NotFound):
    code = "root_key_not_found"
    title = "No such biscuit root key"


class ActiveRootKey(Conflict):
    code = "root_key_active"
    title = "The active root key cannot be retired; rotate first"


class RootKeyRotationConflict(Conflict):
    code = "rotation_conflict"
    title = "Another rotation of the biscuit root keys ran at the same time"


class RootKeyUnavailable(Unavailable):
    code = "root_key_unavailable"
    title = "The biscuit root key cannot be opened"


@dataclass(frozen=True)
class Restriction:
    """What a block allows, as checks: none of a field means no restriction on it. A resource
    ending in `*` matches every resource starting with what precedes it."""

    namespaces: Sequence[str] | None = None
    operations: Sequence[str] | None = None
    resources: Sequence[str] | None = None
    expires_at: datetime | None = None
    checks: Sequence[str] = ()

    @property
    def empty(self) -> bool:
        return (
            self.namespaces is None
            and self.operations is None
            and self.resources is None
            and self.expires_at is None
            and not self.checks
        )

    def block(self, source: str = "", parameters: Mapping[str, Any] | None = None) -> bsc.BlockBuilder:
        """A block with `source` (Assay's own datalog) and these restrictions as checks."""
        with _datalog():
            builder = bsc.BlockBuilder(source, dict(parameters or {}))
            for check in self._checks():
                builder.add_check(check)
        return builder

    def _checks(self) -> Iterator[bsc.Check]:
        if self.namespaces is not None:
            yield bsc.Check(
                "check if namespace($ns), {allowed}.contains($ns)", {"allowed": set(self.namespaces)}
            )
        if self.operations is not None:
            yield bsc.Check(
                "check if operation($op), {allowed}.contains($op)", {"allowed": set(self.operations)}
            )
        if self.resources is not None:
            yield _resource_check(self.resources)
        if self.expires_at is not None:
            yield bsc.Check("check if time($t), $t < {expires_at}", {"expires_at": self.expires_at})
        for source in self.checks:
            yield parse_check(source)


def _resource_check(patterns: Sequence[str]) -> bsc.Check:
    terms: list[str] = []
    parameters: dict[str, Any] = {}
    for i, pattern in enumerate(dict.fromkeys(patterns)):
        if pattern.endswith("*"):
            terms.append(f"$r.starts_with({{r{i}}})")
            parameters[f"r{i}"] = pattern[:-1]
        else:
            terms.append(f"$r == {{r{i}}}")
            parameters[f"r{i}"] = pattern
    if not terms:
        return bsc.Check("check if false")
    return bsc.Check(f"check if resource($r), {' || '.join(terms)}", parameters)


def parse_check(source: str) -> bsc.Check:
    """A caller's check, parsed and bound (`InvalidDatalog` otherwise)."""
    text = source.strip()
    if not text or len(text) > MAX_CHECK_LENGTH:
        raise InvalidDatalog(f"a check must have 1 to {MAX_CHECK_LENGTH} characters")
    if text.endswith(";"):
        text = text[:-1]
    # Scope annotations name public keys, and the library aborts on some malformed ones.
    if re.search(r"\btrusting\b", text):
        raise InvalidDatalog("scope annotations (`trusting`) are not accepted")
    with _datalog():
        check = bsc.Check(text)
        # Unbound `{parameters}` only show when the check is added to a block.
        bsc.BlockBuilder("").add_check(check)
    return check


@contextmanager
def _datalog() -> Iterator[None]:
    try:
        yield
    except (bsc.DataLogError, bsc.BiscuitBuildError, ValueError, TypeError) as exc:
        raise InvalidDatalog(_reason(exc)) from None
    except BaseException as exc:
        if _failed(exc):
            raise InvalidDatalog("the datalog cannot be used") from None
        raise


def _failed(exc: BaseException) -> bool:
    """Whether the library failed on its input: an error, or a PanicException, which the library
    raises for some of its internal failures and which is not an `Exception`."""
    return isinstance(exc, Exception) or type(exc).__name__ == "PanicException"


def _reason(exc: BaseException) -> str:
    text = str(exc).removeprefix("error generating Datalog: ")
    return text[:500]


# ---- tokens, without a database ----------------------------------------------------------------


@dataclass(frozen=True)
class RequestContext:
    """What a verifier states about the request the token is presented for."""

    time: datetime
    operation: str | None = None
    namespace: str | None = None
    resource: str | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    outcome: Outcome
    policy: str | None = None
    failed_checks: list[str] = field(default_factory=list)
    subject: str | None = None
    root_key_id: int | None = None
    revocation_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Token:
    token: str
    revocation_ids: list[str]
    root_key_id: int


# The type stubs of biscuit-python 0.4 predate the key algorithm argument and the authorizer's run
# limits; these few calls go through `Any`, wrapped in typed functions.
_ED25519: Any = cast(Any, bsc.Algorithm).Ed25519


def public_key_of(hex_key: str) -> bsc.PublicKey:
    """A root public key from its hex (`ValueError` when it is not one)."""
    key: bsc.PublicKey = cast(Any, bsc.PublicKey).from_bytes(bytes.fromhex(hex_key), _ED25519)
    return key


def _private_key_of(hex_key: str) -> bsc.PrivateKey:
    key: bsc.PrivateKey = cast(Any, bsc.PrivateKey).from_bytes(bytes.fromhex(hex_key), _ED25519)
    return key


def _limit_run_time(builder: bsc.AuthorizerBuilder) -> None:
    limits = cast(Any, builder).limits()
    limits.max_time = RUN_TIME_LIMIT
    cast(Any, builder).set_limits(limits)


def unverified(token: str) -> bsc.UnverifiedBiscuit:
    """The token parsed without checking its signatures (`MalformedBiscuit` if it is not one)."""
    try:
        return bsc.UnverifiedBiscuit.from_base64(token.strip())
    except BaseException as exc:
        if not _failed(exc):
            raise
        raise MalformedBiscuit("the token cannot be decoded as a biscuit") from None


def verified(token: str, public_keys: Mapping[int, bsc.PublicKey]) -> bsc.Biscuit:
    """The token with its signatures checked against the root key it names."""
    root_key_id = unverified(token).root_key_id()
    key = public_keys.get(root_key_id) if root_key_id is not None else None
    if key is None:
        raise UnverifiableBiscuit(f"no known root key has id {root_key_id}")
    try:
        return bsc.Biscuit.from_base64(token.strip(), key)
    except BaseException as exc:
        if not _failed(exc):
            raise
        raise UnverifiableBiscuit("the token's signatures do not verify") from None


def attenuate(token: str, restriction: Restriction, public_keys: Mapping[int, str]) -> Token:
    """The token with a block of `restriction` appended; `public_keys` (root key id → hex, as
    published) check it first. Needs nothing secret: any holder may narrow a token."""
    if restriction.empty:
        raise NoRestriction("give namespaces, operations, resources, an expiry or checks")
    parsed = verified(token, {k: public_key_of(v) for k, v in public_keys.items()})
    block = restriction.block()
    with _datalog():
        narrowed = parsed.append(block)
    root_key_id = unverified(token).root_key_id()
    return Token(narrowed.to_base64(), list(narrowed.revocation_ids), root_key_id or 0)


_FAILED = re.compile(r"(?:^|, )(?=(?:Check n°\d+ in block n°\d+|Authorizer check n°\d+): )")
_POLICY = re.compile(r"policy index: (\d+)")


class BiscuitVerifier:
    """Verifies tokens offline: root public keys (id → hex) and the revoked block ids."""

    def __init__(self, public_keys: Mapping[int, str], revoked: Iterable[str] = ()) -> None:
        self._keys = {key_id: public_key_of(key) for key_id, key in public_keys.items()}
        self._revoked = set(revoked)

    def add_key(self, key_id: int, public_key: str) -> None:
        self._keys[key_id] = public_key_of(public_key)

    def add_revocations(self, revocation_ids: Iterable[str]) -> None:
        self._revoked.update(revocation_ids)

    def is_revoked(self, revocation_id: str) -> bool:
        return revocation_id in self._revoked

    def verify(self, token: str, request: RequestContext) -> Decision:
        """The authorizer's answer for `request` (`MalformedBiscuit` if the token is not one)."""
        parsed = unverified(token)
        root_key_id = parsed.root_key_id()
        revocation_ids = list(parsed.revocation_ids)
        if root_key_id is None or root_key_id not in self._keys:
            return Decision(False, "unknown_root_key", root_key_id=root_key_id, revocation_ids=revocation_ids)
        try:
            biscuit = verified(token, self._keys)
        except UnverifiableBiscuit:
            return Decision(
                False, "invalid_signature", root_key_id=root_key_id, revocation_ids=revocation_ids
            )
        if any(rid in self._revoked for rid in biscuit.revocation_ids):
            return Decision(False, "revoked", root_key_id=root_key_id, revocation_ids=revocation_ids)
        authorizer = _authorizer(request).build(biscuit)
        subjects = authorizer.query(bsc.Rule("s($x) <- subject($x)"))
        subject = str(subjects[0].terms[0]) if subjects else None
        try:
            authorizer.authorize()
        except bsc.AuthorizationError as exc:
            outcome, policy, failed = _denial(str(exc))
            return Decision(False, outcome, policy, failed, subject, root_key_id, revocation_ids)
        return Decision(True, "allowed", POLICY, [], subject, root_key_id, revocation_ids)


def _authorizer(request: RequestContext) -> bsc.AuthorizerBuilder:
    builder = bsc.AuthorizerBuilder(f"time({{time}}); {POLICY};", {"time": request.time})
    for name in ("operation", "namespace", "resource"):
        value = getattr(request, name)
        if value is not None:
            builder.add_fact(bsc.Fact(f"{name}({{value}})", {"value": value}))
    _limit_run_time(builder)
    return builder


def _denial(message: str) -> tuple[Outcome, str | None, list[str]]:
    """What the authorizer's error says: the outcome, the allow policy that matched, the failed
    checks (the library reports them only as text)."""
    _, _, failed = message.partition("the following checks failed: ")
    checks = [part for part in _FAILED.split(failed) if part]
    policy_index = _POLICY.search(message)
    if "a deny policy matched" in message:
        outcome: Outcome = "denied_by_policy"
    elif checks:
        outcome = "checks_failed"
    elif "no matching policy" in message:
        outcome = "no_policy_matched"
    else:
        outcome = "run_limit_exceeded"
    policy = POLICY if policy_index is not None and "an allow policy matched" in message else None
    return outcome, policy, checks


# ---- the service: root keys in the database ----------------------------------------------------


@dataclass(frozen=True)
class Issued(Token):
    expires_at: datetime


class Biscuits:
    def __init__(self, ctx: AuthContext) -> None:
        self.ctx = ctx
        self._sealer = KeySealer(ctx.settings.signing_key_encryption_key.get_secret_value())
        # A key's private part never changes, so an opened key is kept (by id) for the next token.
        self._opened: dict[int, bsc.PrivateKey] = {}

    async def root_keys(self) -> list[RootKeyRow]:
        async with self.ctx.db.read() as conn:
            return await store.listed(conn)

    async def verifier(self, token: str | None = None) -> BiscuitVerifier:
        """A verifier with every root key; with `token`, it knows which of its blocks are revoked."""
        async with self.ctx.db.read() as conn:
            keys = await store.listed(conn)
            revoked = await store.revoked_among(conn, unverified(token).revocation_ids) if token else set()
        return BiscuitVerifier({row.id: row.public_key for row in keys}, revoked)

    async def rotate(self, actor: Actor, *, reason: RotationReason) -> RootKeyRow | None:
        """Make a new active key; the one it replaces keeps verifying. For `initial`, only if there
        is none. None when another rotation won the race."""
        pair = bsc.KeyPair()
        public = pair.public_key.to_bytes().hex()
        now = self.ctx.now()
        try:
            async with self.ctx.db.transaction() as tx:
                current = await store.active(tx.conn)
                if reason == "initial" and current is not None:
                    return None
                if current is not None and not await store.rotate(tx.conn, current.id, now=now):
                    return None
                key_id = await store.next_id(tx.conn)
                await store.insert(
                    tx.conn,
                    key_id=key_id,
                    public_key=public,
                    private_key=self._sealer.seal(pair.private_key.to_bytes().hex()),
                    sealed=self._sealer.sealing,
                    now=now,
                )
                await self.ctx.audit(
                    tx,
                    BiscuitRootKeyRotated,
                    actor,
                    target_type="biscuit_root_key",
                    target_id=key_id,
                    previous_key_id=current.id if current is not None else None,
                    reason=reason,
                )
        except sa.exc.IntegrityError:
            # Another replica took the same id or made the first key at the same moment.
            return None
        self._opened[key_id] = pair.private_key
        return RootKeyRow(id=key_id, public_key=public, active=True, created_at=now, rotated_at=None)

    async def rotate_now(self, actor: Actor) -> RootKeyRow:
        rotated = await self.rotate(actor, reason="manual")
        if rotated is None:
            raise RootKeyRotationConflict("another rotation ran at the same moment; its key is active now")
        return rotated

    async def retire(self, actor: Actor, key_id: int) -> None:
        """Delete a rotated key: tokens it signed no longer verify."""
        async with self.ctx.db.transaction() as tx:
            row = await store.get(tx.conn, key_id)
            if row is None:
                raise RootKeyNotFound(f"no biscuit root key has id {key_id}")
            if row.active or not await store.delete_rotated(tx.conn, key_id):
                raise ActiveRootKey("the active root key cannot be retired; rotate first")
            await self.ctx.audit(
                tx, BiscuitRootKeyRetired, actor, target_type="biscuit_root_key", target_id=key_id
            )
        self._opened.pop(key_id, None)

    async def issue(
        self, actor: Actor, subject: str, restriction: Restriction, *, expires_in: float
    ) -> Issued:
        """A token for `subject`, signed by the active root key, with `restriction` in its
        authority block and an expiry `expires_in` seconds from now (at most
        `biscuit_token_max_ttl_seconds`; a longer one gets the longest)."""
        longest = self.ctx.settings.biscuit_token_max_ttl_seconds
        expires_at = (self.ctx.now() + timedelta(seconds=min(expires_in, longest))).replace(microsecond=0)
        restriction = Restriction(
            restriction.namespaces,
            restriction.operations,
            restriction.resources,
            expires_at,
            restriction.checks,
        )
        key_id, private_key = await self._active()
        block = restriction.block("subject({subject});", {"subject": subject})
        with _datalog():
            builder = bsc.BiscuitBuilder()
            builder.merge(block)
            builder.set_root_key_id(key_id)
            token = builder.build(private_key)
        revocation_ids = list(token.revocation_ids)
        async with self.ctx.db.transaction() as tx:
            await self.ctx.audit(
                tx,
                BiscuitIssued,
                actor,
                target_type="biscuit",
                target_id=revocation_ids[0],
                subject=subject,
                root_key_id=key_id,
                namespaces=_listed(restriction.namespaces),
                operations=_listed(restriction.operations),
                resources=_listed(restriction.resources),
                checks=len(restriction.checks),
                expires_at=expires_at,
            )
        return Issued(token.to_base64(), revocation_ids, key_id, expires_at)

    async def attenuate(self, token: str, restriction: Restriction) -> Token:
        keys = {row.id: row.public_key for row in await self.root_keys()}
        return attenuate(token, restriction, keys)

    async def verify(self, token: str, request: RequestContext) -> Decision:
        return (await self.verifier(token)).verify(token, request)

    async def revoke(
        self, actor: Actor, *, token: str | None = None, revocation_ids: Sequence[str] = ()
    ) -> list[str]:
        """Revoke the presented token (its last block: the token and every token attenuated from
        it, not the tokens it was attenuated from) or, for an administrator, any block ids.
        Returns the ids revoked; those already revoked are not announced again."""
        ids = list(dict.fromkeys(revocation_ids))
        if token is not None:
            keys = {row.id: public_key_of(row.public_key) for row in await self.root_keys()}
            ids.append(verified(token, keys).revocation_ids[-1])
        for rid in ids:
            if not re.fullmatch(r"[0-9a-f]{128}", rid):
                raise Invalid("a revocation id is 128 lower-case hex digits")
        async with self.ctx.db.transaction() as tx:
            added = await store.add_revocations(tx.conn, ids, self.ctx.now())
            if added:
                await self.ctx.outbox.add(tx, BiscuitRevoked(revocation_ids=added), subject="biscuits")
                await self.ctx.audit(
                    tx,
                    BiscuitRevocationRecorded,
                    actor,
                    target_type="biscuit",
                    target_id=added[0],
                    revocation_ids=added,
                    via="token" if token is not None else "revocation_ids",
                )
        return ids

    async def revocations(self, *, after: int, limit: int) -> list[RevocationRow]:
        async with self.ctx.db.read() as conn:
            return await store.revocations(conn, after=after, limit=limit)

    async def _active(self) -> tuple[int, bsc.PrivateKey]:
        async with self.ctx.db.read() as conn:
            row = await store.active(conn)
        if row is None:
            await self.rotate(Actor(id="auth", kind="service"), reason="initial")
            async with self.ctx.db.read() as conn:
                row = await store.active(conn)
            if row is None:
                raise RootKeyUnavailable("no active biscuit root key")
        opened = self._opened.get(row.id)
        if opened is None:
            try:
                hex_key = self._sealer.open(row.private_key, sealed=row.sealed)
            except KeyNotOpened as exc:
                log.error("biscuit root key %s cannot be opened: %s", row.id, exc)
                raise RootKeyUnavailable(f"the biscuit root key cannot be opened: {exc}") from None
            opened = _private_key_of(hex_key)
            self._opened[row.id] = opened
        return row.id, opened


def _listed(values: Sequence[str] | None) -> list[str] | None:
    return None if values is None else list(values)
