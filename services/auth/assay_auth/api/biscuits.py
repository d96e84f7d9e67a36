"""Biscuit capability tokens under `/api/v1/auth/biscuit`: root keys (public keys for anyone;
rotation and retirement for administrators), issuing (administrators), verification (services
and administrators), attenuation (anyone holding a token) and revocation (administrators, or the
holder presenting the token), and the revocation list (anyone)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from assay_auth.api.deps import Admin, Domain, client_address
from assay_auth.domain.biscuits import Decision, Outcome, RequestContext, Restriction, Token
from assay_auth.domain.context import Actor
from assay_auth.store.biscuits import RootKeyRow
from assay_common.internal_auth import Principal
from assay_common.problems import problems
from assay_common.service import caller

router = APIRouter(prefix="/api/v1/auth/biscuit", tags=["biscuits"])

#: A name in a restriction or a request: printable, no control characters.
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
Names = Annotated[list[Name], Field(min_length=1, max_length=64)]
DatalogCheck = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
#: A serialized token (URL-safe base64).
TokenText = Annotated[str, StringConstraints(min_length=1, max_length=65536)]
RevocationId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{128}$")]
#: Ids and cursors are 32-bit integer columns; a larger number names nothing.
MAX_ID = 2**31 - 1
#: A token lives an hour unless the request says otherwise.
DEFAULT_TTL_SECONDS = 3600


class RootKeyOut(BaseModel):
    id: int = Field(description="The `root_key_id` tokens signed by this key carry")
    algorithm: Literal["ed25519"] = "ed25519"
    public_key: str = Field(description="The Ed25519 public key, 32 bytes in hex")
    state: Literal["active", "rotated"] = Field(description="`active` signs; `rotated` only verifies")
    created_at: datetime
    rotated_at: datetime | None

    @classmethod
    def of(cls, row: RootKeyRow) -> RootKeyOut:
        return cls(
            id=row.id,
            public_key=row.public_key,
            state="active" if row.active else "rotated",
            created_at=row.created_at,
            rotated_at=row.rotated_at,
        )


class RootKeyList(BaseModel):
    items: list[RootKeyOut]


class RestrictionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    namespaces: Names | None = Field(default=None, description="Namespaces allowed; none: any")
    operations: Names | None = Field(default=None, description="Operations allowed; none: any")
    resources: Names | None = Field(
        default=None, description="Resources allowed, a trailing `*` matching any suffix; none: any"
    )
    checks: list[DatalogCheck] = Field(
        default_factory=list,
        max_length=16,
        description="Further checks in biscuit datalog (`check if …`, `check all …`, `reject if …`)",
        examples=[['check if operation($op), $op != "delete"']],
    )


class IssueRequest(RestrictionIn):
    subject: Name = Field(description="Whom the token is for: a user id or any principal name")
    expires_in: int = Field(
        default=DEFAULT_TTL_SECONDS,
        ge=1,
        description="Seconds the token lives; at most `biscuit_token_max_ttl_seconds`",
    )

    def restriction(self) -> Restriction:
        return Restriction(self.namespaces, self.operations, self.resources, None, self.checks)


class AttenuateRequest(RestrictionIn):
    token: TokenText
    expires_at: AwareDatetime | None = Field(default=None, description="A nearer expiry")

    def restriction(self) -> Restriction:
        return Restriction(self.namespaces, self.operations, self.resources, self.expires_at, self.checks)


class TokenOut(BaseModel):
    token: str = Field(description="The biscuit, URL-safe base64")
    root_key_id: int
    revocation_ids: list[str] = Field(description="One per block, hex; the last is this token's own")

    @classmethod
    def of(cls, token: Token) -> TokenOut:
        return cls(token=token.token, root_key_id=token.root_key_id, revocation_ids=token.revocation_ids)


class IssuedOut(TokenOut):
    expires_at: datetime


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: TokenText
    operation: Name | None = None
    namespace: Name | None = None
    resource: Name | None = None
    time: AwareDatetime | None = Field(default=None, description="The time of the request; none: now")


class VerifyOut(BaseModel):
    allowed: bool
    outcome: Outcome
    policy: str | None = Field(description="The policy that matched")
    failed_checks: list[str] = Field(description="Each failed check with its block, as datalog")
    subject: str | None
    root_key_id: int | None
    revocation_ids: list[str]

    @classmethod
    def of(cls, decision: Decision) -> VerifyOut:
        return cls(
            allowed=decision.allowed,
            outcome=decision.outcome,
            policy=decision.policy,
            failed_checks=decision.failed_checks,
            subject=decision.subject,
            root_key_id=decision.root_key_id,
            revocation_ids=decision.revocation_ids,
        )


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: TokenText | None = Field(
        default=None, description="Revoke this token and every token attenuated from it"
    )
    revocation_ids: list[RevocationId] | None = Field(
        default=None, min_length=1, max_length=256, description="Revoke these blocks (administrators)"
    )

    @model_validator(mode="after")
    def _one(self) -> RevokeRequest:
        if (self.token is None) == (self.revocation_ids is None):
            raise ValueError("give either `token` or `revocation_ids`")
        return self


class RevokedOut(BaseModel):
    revocation_ids: list[str]


class RevocationOut(BaseModel):
    revocation_id: str
    revoked_at: datetime


class RevocationPage(BaseModel):
    items: list[RevocationOut]
    next_cursor: int | None = Field(description="Pass as `after` for the next page; none: no more now")
    cursor: int = Field(description="Pass as `after` later to get only what is revoked from now on")


@router.get(
    "/root-keys",
    response_model=RootKeyList,
    summary="The public root keys that verify biscuits: the active one and rotated ones",
)
async def root_keys(response: Response, domain: Domain) -> RootKeyList:
    response.headers["Cache-Control"] = "public, max-age=60"
    return RootKeyList(items=[RootKeyOut.of(row) for row in await domain.biscuits.root_keys()])


@router.post(
    "/root-keys/rotate",
    status_code=201,
    response_model=RootKeyOut,
    responses=problems(401, 403, 409, 503),
    summary="Make a new root key active; the old one keeps verifying until it is retired",
)
async def rotate(actor: Admin, domain: Domain) -> RootKeyOut:
    return RootKeyOut.of(await domain.biscuits.rotate_now(actor))


@router.delete(
    "/root-keys/{key_id}",
    status_code=204,
    responses=problems(401, 403, 404, 409),
    summary="Retire a rotated root key: tokens it signed stop verifying",
)
async def retire(actor: Admin, domain: Domain, key_id: Annotated[int, Path(ge=1, le=MAX_ID)]) -> Response:
    await domain.biscuits.retire(actor, key_id)
    return Response(status_code=204)


@router.post(
    "/tokens",
    status_code=201,
    response_model=IssuedOut,
    responses=problems(401, 403, 422, 503),
    summary="Issue a biscuit for a subject, restricted to namespaces, operations, resources",
)
async def issue(body: IssueRequest, actor: Admin, domain: Domain, response: Response) -> IssuedOut:
    issued = await domain.biscuits.issue(actor, body.subject, body.restriction(), expires_in=body.expires_in)
    response.headers["Cache-Control"] = "no-store"
    return IssuedOut(**TokenOut.of(issued).model_dump(), expires_at=issued.expires_at)


@router.post(
    "/verify",
    response_model=VerifyOut,
    responses=problems(400, 401, 403, 422),
    summary="Authorize a request with a biscuit: signatures, revocation, then every check",
)
async def verify(body: VerifyRequest, actor: Admin, domain: Domain) -> VerifyOut:
    context = RequestContext(
        time=body.time or domain.ctx.now(),
        operation=body.operation,
        namespace=body.namespace,
        resource=body.resource,
    )
    return VerifyOut.of(await domain.biscuits.verify(body.token, context))


@router.post(
    "/attenuate",
    response_model=TokenOut,
    responses=problems(400, 422),
    summary="Narrow a biscuit with a block of checks; needs only the token",
)
async def attenuate(body: AttenuateRequest, domain: Domain, response: Response) -> TokenOut:
    narrowed = await domain.biscuits.attenuate(body.token, body.restriction())
    response.headers["Cache-Control"] = "no-store"
    return TokenOut.of(narrowed)


@router.post(
    "/revocations",
    status_code=201,
    response_model=RevokedOut,
    responses=problems(400, 401, 403, 422),
    summary="Revoke a biscuit by presenting it, or (administrators) blocks by revocation id",
)
async def revoke(
    request: Request, body: RevokeRequest, domain: Domain, principal: Principal = Depends(caller)
) -> RevokedOut:
    address = client_address(request)
    if body.revocation_ids is not None:
        actor = await domain.access.admin(principal, address)
        revoked = await domain.biscuits.revoke(actor, revocation_ids=body.revocation_ids)
    else:
        # Holding the token is what entitles the caller; whoever they are is recorded.
        holder = Actor(
            id=None if principal.kind == "anonymous" else principal.id, kind=principal.kind, address=address
        )
        revoked = await domain.biscuits.revoke(holder, token=body.token)
    return RevokedOut(revocation_ids=revoked)


@router.get(
    "/revocations",
    response_model=RevocationPage,
    summary="The revoked block ids, oldest first, for verifiers that start without them",
)
async def revocations(
    domain: Domain,
    after: Annotated[
        int, Query(ge=0, le=MAX_ID, description="The `cursor` or `next_cursor` of an earlier page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> RevocationPage:
    rows = await domain.biscuits.revocations(after=after, limit=limit + 1)
    page = rows[:limit]
    cursor = page[-1].seq if page else after
    return RevocationPage(
        items=[RevocationOut(revocation_id=r.revocation_id, revoked_at=r.revoked_at) for r in page],
        next_cursor=cursor if len(rows) > limit else None,
        cursor=cursor,
    )
