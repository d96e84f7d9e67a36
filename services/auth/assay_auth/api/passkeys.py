"""Passkeys (WebAuthn): registering one while signed in, signing in with one, and managing them:
your own at `/api/v1/auth/passkeys`, any user's, for administrators, at
`/api/v1/auth/users/{user_id}/passkeys`.

The options routes answer what `navigator.credentials.create()` / `.get()` take as `publicKey`
(binary values in URL-safe base64, as `PublicKeyCredential.parseCreationOptionsFromJSON()` reads
them); the verification routes take the credential as `PublicKeyCredential.toJSON()` writes it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from assay_auth.api.deps import SESSION_COOKIE, Admin, Domain, User, client_info
from assay_auth.api.login import LoginOut, signed_in_answer
from assay_auth.store.passkeys import PasskeyRow
from assay_common.problems import problems

router = APIRouter(prefix="/api/v1/auth", tags=["passkeys"])

PasskeyId = Annotated[uuid.UUID, Path(description="The passkey's id (not its credential id)")]
UserId = Annotated[uuid.UUID, Path(description="The user's id")]

Base64Url = Annotated[str, Field(min_length=1, max_length=65536, pattern=r"^[A-Za-z0-9_-]+={0,2}$")]


# ---- WebAuthn options, as the browser takes them -------------------------------------------------


class _WebAuthnJson(BaseModel):
    # Fields the browser knows and these models do not are passed on unchanged.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class RelyingParty(_WebAuthnJson):
    id: str
    name: str


class UserEntity(_WebAuthnJson):
    id: str = Field(description="The user handle: the user's id, URL-safe base64")
    name: str
    display_name: str = Field(alias="displayName")


class CredentialParameters(_WebAuthnJson):
    type: Literal["public-key"]
    alg: int = Field(description="A COSE algorithm: -8 EdDSA, -7 ES256, -257 RS256")


class CredentialDescriptor(_WebAuthnJson):
    id: str = Field(description="A credential id, URL-safe base64")
    type: Literal["public-key"]
    transports: list[str] | None = None


class AuthenticatorSelection(_WebAuthnJson):
    resident_key: str | None = Field(default=None, alias="residentKey")
    require_resident_key: bool | None = Field(default=None, alias="requireResidentKey")
    user_verification: str | None = Field(default=None, alias="userVerification")


class CreationOptions(_WebAuthnJson):
    """PublicKeyCredentialCreationOptions in their JSON form."""

    rp: RelyingParty
    user: UserEntity
    challenge: str
    pub_key_cred_params: list[CredentialParameters] = Field(alias="pubKeyCredParams")
    timeout: int | None = Field(default=None, description="Milliseconds")
    exclude_credentials: list[CredentialDescriptor] = Field(default_factory=list, alias="excludeCredentials")
    authenticator_selection: AuthenticatorSelection | None = Field(
        default=None, alias="authenticatorSelection"
    )
    attestation: str | None = None


class RequestOptions(_WebAuthnJson):
    """PublicKeyCredentialRequestOptions in their JSON form."""

    challenge: str
    timeout: int | None = Field(default=None, description="Milliseconds")
    rp_id: str = Field(alias="rpId")
    allow_credentials: list[CredentialDescriptor] = Field(default_factory=list, alias="allowCredentials")
    user_verification: str | None = Field(default=None, alias="userVerification")


# ---- credentials, as the browser returns them ----------------------------------------------------


class _CredentialJson(BaseModel):
    # Browsers add fields over time (clientExtensionResults, publicKey, …): accepted and ignored.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class AttestationResponse(_CredentialJson):
    client_data_json: Base64Url = Field(alias="clientDataJSON")
    attestation_object: Base64Url = Field(alias="attestationObject")
    transports: list[Annotated[str, Field(max_length=50)]] = Field(default_factory=list, max_length=16)


class RegistrationCredential(_CredentialJson):
    id: Base64Url
    raw_id: Base64Url = Field(alias="rawId")
    type: Literal["public-key"]
    response: AttestationResponse
    authenticator_attachment: str | None = Field(default=None, alias="authenticatorAttachment", max_length=50)


class AssertionResponse(_CredentialJson):
    client_data_json: Base64Url = Field(alias="clientDataJSON")
    authenticator_data: Base64Url = Field(alias="authenticatorData")
    signature: Base64Url
    user_handle: Base64Url | None = Field(default=None, alias="userHandle")


class AuthenticationCredential(_CredentialJson):
    id: Base64Url
    raw_id: Base64Url = Field(alias="rawId")
    type: Literal["public-key"]
    response: AssertionResponse
    authenticator_attachment: str | None = Field(default=None, alias="authenticatorAttachment", max_length=50)


def _plain(credential: BaseModel) -> dict[str, Any]:
    """The credential as the WebAuthn library reads it: the browser's JSON field names."""
    plain: dict[str, Any] = credential.model_dump(by_alias=True, exclude_none=True)
    return plain


# ---- request and response bodies -----------------------------------------------------------------


class RegistrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    credential: RegistrationCredential = Field(description="What `navigator.credentials.create()` gave")
    name: str = Field(
        default="Passkey", min_length=1, max_length=200, description="To tell your passkeys apart"
    )


class AuthenticationOptionsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str | None = Field(
        default=None,
        min_length=1,
        max_length=320,
        description="Whose passkeys may answer; none: any passkey the authenticator holds for this site",
    )


class AuthenticationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    credential: AuthenticationCredential = Field(description="What `navigator.credentials.get()` gave")


class PasskeyPatch(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)


class PasskeyOut(BaseModel):
    """A passkey as routes show one: its public key stays on the server."""

    id: uuid.UUID
    user_id: uuid.UUID
    name: str
    credential_id: str = Field(description="The WebAuthn credential id, URL-safe base64")
    transports: list[str] = Field(description="How the browser reached the authenticator, as it said")
    aaguid: str = Field(description="The authenticator model; all zeros when it does not say")
    device_type: Literal["single_device", "multi_device"] = Field(
        description="multi_device: the passkey is synced between devices"
    )
    backed_up: bool
    sign_count: int = Field(description="The authenticator's signature counter at the last use")
    created_at: datetime
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: PasskeyRow) -> PasskeyOut:
        return cls(
            id=row.id,
            user_id=row.user_id,
            name=row.name,
            credential_id=row.credential_id,
            transports=row.transports,
            aaguid=row.aaguid,
            device_type="multi_device" if row.device_type == "multi_device" else "single_device",
            backed_up=row.backed_up,
            sign_count=row.sign_count,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
        )


class PasskeyList(BaseModel):
    items: list[PasskeyOut]


# ---- ceremonies ----------------------------------------------------------------------------------


@router.post(
    "/passkeys/registration/options",
    response_model=CreationOptions,
    response_model_exclude_none=True,
    responses=problems(401, 403, 409),
    summary="Start adding a passkey: options for navigator.credentials.create()",
)
async def registration_options(response: Response, signed_in: User, domain: Domain) -> CreationOptions:
    options = await domain.passkeys.registration_options(signed_in.user.id)
    response.headers["Cache-Control"] = "no-store"
    return CreationOptions.model_validate_json(options)


@router.post(
    "/passkeys/registration",
    status_code=201,
    response_model=PasskeyOut,
    responses=problems(400, 401, 403, 409, 422),
    summary="Finish adding a passkey: verify the authenticator's answer and keep the passkey",
)
async def register(body: RegistrationIn, signed_in: User, domain: Domain) -> PasskeyOut:
    row = await domain.passkeys.register(
        signed_in.actor, signed_in.user.id, _plain(body.credential), name=body.name
    )
    return PasskeyOut.of(row)


@router.post(
    "/passkeys/authentication/options",
    response_model=RequestOptions,
    response_model_exclude_none=True,
    responses=problems(422),
    summary="Start signing in with a passkey: options for navigator.credentials.get()",
)
async def authentication_options(
    response: Response, domain: Domain, body: AuthenticationOptionsIn | None = None
) -> RequestOptions:
    options = await domain.passkeys.authentication_options(body.email if body else None)
    response.headers["Cache-Control"] = "no-store"
    return RequestOptions.model_validate_json(options)


@router.post(
    "/passkeys/authentication",
    response_model=LoginOut,
    responses=problems(401, 422),
    summary="Sign in with a passkey; sets the assay_session and assay_csrf cookies as a password does",
)
async def authenticate(
    body: AuthenticationIn, request: Request, response: Response, domain: Domain
) -> LoginOut:
    created = await domain.passkeys.authenticate(
        _plain(body.credential), client_info(request), replacing_secret=request.cookies.get(SESSION_COOKIE)
    )
    return signed_in_answer(request, response, created, domain)


# ---- your passkeys -------------------------------------------------------------------------------


@router.get("/passkeys", response_model=PasskeyList, responses=problems(401, 403), summary="Your passkeys")
async def my_passkeys(signed_in: User, domain: Domain) -> PasskeyList:
    return PasskeyList(items=[PasskeyOut.of(r) for r in await domain.passkeys.list(signed_in.user.id)])


@router.patch(
    "/passkeys/{passkey_id}",
    response_model=PasskeyOut,
    responses=problems(401, 403, 404, 422),
    summary="Rename a passkey of yours",
)
async def rename_my_passkey(
    passkey_id: PasskeyId, body: PasskeyPatch, signed_in: User, domain: Domain
) -> PasskeyOut:
    row = await domain.passkeys.rename(signed_in.actor, passkey_id, body.name, owner=signed_in.user.id)
    return PasskeyOut.of(row)


@router.delete(
    "/passkeys/{passkey_id}",
    status_code=204,
    responses=problems(401, 403, 404),
    summary="Remove a passkey of yours; it can no longer sign in",
)
async def remove_my_passkey(passkey_id: PasskeyId, signed_in: User, domain: Domain) -> None:
    await domain.passkeys.remove(signed_in.actor, passkey_id, owner=signed_in.user.id)


# ---- administrators ------------------------------------------------------------------------------


@router.get(
    "/users/{user_id}/passkeys",
    response_model=PasskeyList,
    responses=problems(401, 403, 404),
    summary="A user's passkeys",
)
async def user_passkeys(user_id: UserId, actor: Admin, domain: Domain) -> PasskeyList:
    await domain.users.get(user_id)
    return PasskeyList(items=[PasskeyOut.of(r) for r in await domain.passkeys.list(user_id)])


@router.delete(
    "/users/{user_id}/passkeys/{passkey_id}",
    status_code=204,
    responses=problems(401, 403, 404),
    summary="Remove a passkey of a user",
)
async def remove_user_passkey(user_id: UserId, passkey_id: PasskeyId, actor: Admin, domain: Domain) -> None:
    await domain.passkeys.remove(actor, passkey_id, owner=user_id)
