"""Passkeys: WebAuthn credentials that sign a user in without a password.

Two ceremonies, each in two steps. The server makes options holding a random challenge; the browser
hands them to an authenticator (`navigator.credentials.create()` / `.get()`), whose signed answer
comes back and is verified against the challenge, the relying-party id and the page's origin.

The ceremony state lives in the database, not in the browser: a client can neither forge nor
replay it. It is found again by its challenge, which the authenticator's answer carries in its
client data, and is used up by the first answer, right or wrong; it lasts
`webauthn_ceremony_ttl_seconds`. Only a signed-in user registers passkeys, for themselves.

A sign-in with a passkey makes a session exactly as a password does. The authenticator's signature
counter must grow with every use (unless the authenticator keeps none: always 0); a counter that
does not grow means the credential may have been cloned, and the sign-in is refused. Every failed
sign-in answers alike whatever went wrong (unknown challenge or passkey, bad signature, counter,
disabled user), as a wrong password does.

Credential ids and public keys are kept as URL-safe base64 without padding.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.errors import InvalidCredentials, UserNotFound
from assay_auth.domain.sessions import ClientInfo, NewSession, Sessions
from assay_auth.domain.users import email_key
from assay_auth.store import passkeys as store
from assay_auth.store import users as user_store
from assay_auth.store.passkeys import CeremonyRow, PasskeyRow
from assay_auth.store.rows import UserRow
from assay_common.db import Transaction, uuid7
from assay_common.errors import BadRequest, Conflict, NotFound
from assay_common.events.schemas import auth as audit

REGISTRATION = "registration"
AUTHENTICATION = "authentication"
#: A user may have at most this many passkeys (lists show them all).
MAX_PASSKEYS = 50
_KNOWN_TRANSPORTS = {t.value for t in AuthenticatorTransport}
#: What the library raises on a malformed or unverifiable answer, besides its own errors: a client
#: controls every byte, and none of them may turn into a server error.
_UNVERIFIABLE = (
    WebAuthnException,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    AttributeError,
    RecursionError,
)


class PasskeyNotFound(NotFound):
    code = "passkey_not_found"
    title = "No such passkey"


class PasskeyExists(Conflict):
    code = "passkey_exists"
    title = "This passkey is registered already"


class TooManyPasskeys(Conflict):
    code = "too_many_passkeys"
    title = "This user has as many passkeys as allowed"


class InvalidPasskeyRegistration(BadRequest):
    code = "invalid_passkey_registration"
    title = "The authenticator's answer was not accepted"


def challenge_hash(challenge: bytes) -> str:
    """How a ceremony is stored and found: the SHA-256 of its challenge, in hex."""
    return hashlib.sha256(challenge).hexdigest()


def challenge_of(credential: dict[str, Any]) -> bytes | None:
    """The challenge the authenticator signed, read from the answer's client data; None when
    the answer carries none. (It is only a key to find the ceremony by: the library checks it.)"""
    try:
        client_data = json.loads(base64url_to_bytes(credential["response"]["clientDataJSON"]))
        challenge = client_data["challenge"]
        return base64url_to_bytes(challenge) if isinstance(challenge, str) and challenge else None
    except (ValueError, KeyError, TypeError, RecursionError):
        return None


def _descriptors(rows: Sequence[PasskeyRow]) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(row.credential_id),
            transports=[AuthenticatorTransport(t) for t in row.transports if t in _KNOWN_TRANSPORTS] or None,
        )
        for row in rows
    ]


class _SignInRefused(Exception):
    def __init__(self, reason: str, passkey: PasskeyRow | None = None) -> None:
        self.reason = reason
        self.passkey = passkey


class Passkeys:
    def __init__(self, ctx: AuthContext, sessions: Sessions) -> None:
        self.ctx = ctx
        self.sessions = sessions
        settings = ctx.settings
        self.rp_id = settings.resolved_webauthn_rp_id()
        self.rp_name = settings.webauthn_rp_name
        self.origins = settings.resolved_webauthn_origins()
        self.ttl = timedelta(seconds=settings.webauthn_ceremony_ttl_seconds)

    # ---- registration ------------------------------------------------------------------------

    async def registration_options(self, user_id: uuid.UUID) -> str:
        """PublicKeyCredentialCreationOptions (JSON) for the signed-in user to add a passkey; the
        user's passkeys are excluded, so an authenticator holding one says so instead."""
        async with self.ctx.db.read() as conn:
            user = await user_store.get(conn, user_id)
            existing = await store.of_user(conn, user_id, limit=MAX_PASSKEYS)
        if user is None or user.disabled:
            raise UserNotFound(f"user {user_id} does not exist or is disabled")
        if len(existing) >= MAX_PASSKEYS:
            raise TooManyPasskeys(f"remove one of your {MAX_PASSKEYS} passkeys first")
        options = generate_registration_options(
            rp_id=self.rp_id,
            rp_name=self.rp_name,
            user_name=user.email,
            # The user handle: the user's id, which says nothing about the person.
            user_id=user.id.bytes,
            user_display_name=user.display_name or user.email,
            timeout=int(self.ttl.total_seconds() * 1000),
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            exclude_credentials=_descriptors(existing),
        )
        await self._begin(REGISTRATION, options.challenge, user.id)
        return options_to_json(options)

    async def register(
        self, actor: Actor, user_id: uuid.UUID, credential: dict[str, Any], *, name: str
    ) -> PasskeyRow:
        """Verify the authenticator's answer to the user's registration options and keep the new
        passkey; `InvalidPasskeyRegistration` (400) when it does not verify."""
        challenge = challenge_of(credential)
        ceremony = await self._take(REGISTRATION, challenge)
        if challenge is None or ceremony is None or ceremony.user_id != user_id:
            raise InvalidPasskeyRegistration("the challenge is unknown, used or expired: ask for new options")
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
            )
        except _UNVERIFIABLE:
            raise InvalidPasskeyRegistration(
                "the answer does not verify (origin, relying party, challenge or signature)"
            ) from None
        transports = credential.get("response", {}).get("transports") or []
        now = self.ctx.now()
        row = PasskeyRow(
            id=uuid7(),
            user_id=user_id,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=bytes_to_base64url(verified.credential_public_key),
            sign_count=verified.sign_count,
            transports=sorted({t for t in transports if isinstance(t, str) and t in _KNOWN_TRANSPORTS}),
            aaguid=verified.aaguid,
            device_type=verified.credential_device_type.value,
            backed_up=verified.credential_backed_up,
            name=name,
            created_at=now,
            last_used_at=None,
        )
        async with self.ctx.db.transaction() as tx:
            user = await user_store.get(tx.conn, user_id, for_update=True)
            if user is None or user.disabled:
                raise UserNotFound(f"user {user_id} does not exist or is disabled")
            if not await store.insert(tx.conn, row):
                raise PasskeyExists("this authenticator's passkey is registered already")
            await self.ctx.audit(
                tx,
                audit.PasskeyAdded,
                actor,
                target_type="passkey",
                target_id=row.id,
                owner_id=str(user_id),
                name=name,
                aaguid=row.aaguid,
            )
        return row

    # ---- sign-in -----------------------------------------------------------------------------

    async def authentication_options(self, email: str | None) -> str:
        """PublicKeyCredentialRequestOptions (JSON). Without an email any passkey the authenticator
        finds for this site may answer (discoverable credentials); with one, only that user's,
        which are listed so authenticators that keep no credential can answer too."""
        user: UserRow | None = None
        allowed: list[PasskeyRow] = []
        if email:
            async with self.ctx.db.read() as conn:
                user = await user_store.by_email_key(conn, email_key(email))
                if user is not None:
                    allowed = await store.of_user(conn, user.id, limit=MAX_PASSKEYS)
        options = generate_authentication_options(
            rp_id=self.rp_id,
            timeout=int(self.ttl.total_seconds() * 1000),
            allow_credentials=_descriptors(allowed),
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        await self._begin(AUTHENTICATION, options.challenge, user.id if user else None)
        return options_to_json(options)

    async def authenticate(
        self, credential: dict[str, Any], client: ClientInfo, *, replacing_secret: str | None = None
    ) -> NewSession:
        """Sign in with a passkey's answer to sign-in options: a new session, as with a password;
        `InvalidCredentials` (401) otherwise, whatever the reason."""
        challenge = challenge_of(credential)
        ceremony = await self._take(AUTHENTICATION, challenge)
        credential_id = credential.get("id")
        async with self.ctx.db.read() as conn:
            passkey = (
                await store.by_credential_id(conn, credential_id) if isinstance(credential_id, str) else None
            )
            user = await user_store.get(conn, passkey.user_id) if passkey is not None else None
        try:
            passkey, user, sign_count = self._verified(credential, challenge, ceremony, passkey, user)
            async with self.ctx.db.transaction() as tx:
                if not await store.record_use(
                    tx.conn, passkey.id, seen=passkey.sign_count, sign_count=sign_count, now=self.ctx.now()
                ):
                    # Another sign-in with this passkey moved the counter since it was read.
                    raise _SignInRefused("counter_regression", passkey)
                created = await self.sessions.start(tx, user, client, replacing_secret=replacing_secret)
                await self.sessions.audit_sign_in(
                    tx, created, client, password_rehashed=False, method="passkey", passkey_id=str(passkey.id)
                )
            return created
        except _SignInRefused as refused:
            async with self.ctx.db.transaction() as tx:
                await self.ctx.audit(
                    tx,
                    audit.LoginFailed,
                    Actor.anonymous(client.address),
                    target_type="user" if refused.passkey else None,
                    target_id=refused.passkey.user_id if refused.passkey else None,
                    reason=refused.reason,
                    method="passkey",
                    passkey_id=str(refused.passkey.id) if refused.passkey else None,
                )
            raise InvalidCredentials("the passkey was not accepted") from None

    def _verified(
        self,
        credential: dict[str, Any],
        challenge: bytes | None,
        ceremony: CeremonyRow | None,
        passkey: PasskeyRow | None,
        user: UserRow | None,
    ) -> tuple[PasskeyRow, UserRow, int]:
        """The passkey, its user and the answer's new signature counter once every check passed;
        `_SignInRefused` otherwise."""
        if challenge is None or ceremony is None:
            raise _SignInRefused("unknown_challenge", passkey)
        if passkey is None or user is None:
            raise _SignInRefused("unknown_passkey")
        if ceremony.user_id is not None and ceremony.user_id != passkey.user_id:
            # The options were for another user (by email): this passkey may not answer them.
            raise _SignInRefused("unknown_passkey", passkey)
        handle = credential.get("response", {}).get("userHandle")
        try:
            if handle and base64url_to_bytes(handle) != passkey.user_id.bytes:
                raise _SignInRefused("invalid_assertion", passkey)
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self.rp_id,
                expected_origin=self.origins,
                credential_public_key=base64url_to_bytes(passkey.public_key),
                # 0 turns the library's counter check off: the one below tells a counter that did
                # not grow apart from any other failure, for the audit log.
                credential_current_sign_count=0,
            )
        except _UNVERIFIABLE:
            raise _SignInRefused("invalid_assertion", passkey) from None
        new = verified.new_sign_count
        if (new > 0 or passkey.sign_count > 0) and new <= passkey.sign_count:
            raise _SignInRefused("counter_regression", passkey)
        if user.disabled:
            raise _SignInRefused("disabled", passkey)
        return passkey, user, new

    # ---- management --------------------------------------------------------------------------

    async def list(self, user_id: uuid.UUID) -> list[PasskeyRow]:
        async with self.ctx.db.read() as conn:
            return await store.of_user(conn, user_id, limit=MAX_PASSKEYS)

    async def rename(
        self, actor: Actor, passkey_id: uuid.UUID, name: str, *, owner: uuid.UUID | None
    ) -> PasskeyRow:
        async with self.ctx.db.transaction() as tx:
            row = await self._owned(tx, passkey_id, owner)
            if row.name == name:
                return row
            await store.rename(tx.conn, passkey_id, name)
            await self.ctx.audit(
                tx,
                audit.PasskeyRenamed,
                actor,
                target_type="passkey",
                target_id=passkey_id,
                owner_id=str(row.user_id),
                name=name,
            )
        return dataclasses.replace(row, name=name)

    async def remove(self, actor: Actor, passkey_id: uuid.UUID, *, owner: uuid.UUID | None) -> None:
        """Remove a passkey; with `owner`, only one of that user's (else it is not found)."""
        async with self.ctx.db.transaction() as tx:
            row = await self._owned(tx, passkey_id, owner)
            if not await store.delete(tx.conn, passkey_id):
                raise PasskeyNotFound(f"passkey {passkey_id} does not exist")
            await self.ctx.audit(
                tx,
                audit.PasskeyRemoved,
                actor,
                target_type="passkey",
                target_id=passkey_id,
                owner_id=str(row.user_id),
            )

    async def _owned(self, tx: Transaction, passkey_id: uuid.UUID, owner: uuid.UUID | None) -> PasskeyRow:
        row = await store.get(tx.conn, passkey_id)
        if row is None or (owner is not None and row.user_id != owner):
            raise PasskeyNotFound(f"passkey {passkey_id} does not exist")
        return row

    # ---- ceremonies --------------------------------------------------------------------------

    async def _begin(self, kind: str, challenge: bytes, user_id: uuid.UUID | None) -> None:
        now = self.ctx.now()
        async with self.ctx.db.transaction() as tx:
            await store.insert_ceremony(
                tx.conn,
                CeremonyRow(
                    challenge_hash=challenge_hash(challenge),
                    kind=kind,
                    user_id=user_id,
                    created_at=now,
                    expires_at=now + self.ttl,
                ),
            )

    async def _take(self, kind: str, challenge: bytes | None) -> CeremonyRow | None:
        """Use up the ceremony of this challenge; None when there is none, or it has expired."""
        if challenge is None:
            return None
        async with self.ctx.db.transaction() as tx:
            ceremony = await store.take_ceremony(tx.conn, challenge_hash(challenge), kind)
        if ceremony is None or ceremony.expires_at <= self.ctx.now():
            return None
        return ceremony

    async def sweep(self, tx: Transaction, now: datetime) -> int:
        return await store.delete_ended_ceremonies(tx.conn, now=now)
