"""Signing in and out, who am I, and passwords: `/api/v1/auth/login`, `/logout`, `/whoami`,
`/password`, `/password/recovery`, `/password/reset`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from assay_auth.api.deps import (
    SESSION_COOKIE,
    Domain,
    User,
    anonymous_actor,
    clear_session_cookies,
    client_address,
    client_info,
    set_session_cookies,
)
from assay_auth.api.users import UserOut
from assay_auth.domain.context import Actor
from assay_auth.domain.errors import NotSignedIn
from assay_auth.domain.sessions import NewSession
from assay_auth.store.rows import SessionRow
from assay_common.internal_auth import Principal
from assay_common.problems import problems
from assay_common.service import caller

router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"])


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320, examples=["ann@example.com"])
    password: str = Field(min_length=1, max_length=4096)


class SessionOut(BaseModel):
    """A session as routes show one: never with its secret."""

    id: uuid.UUID
    user_id: uuid.UUID
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime = Field(description="The absolute end")
    idle_expires_at: datetime = Field(description="The end if it is not used before then")
    client_address: str | None
    user_agent: str | None
    current: bool = Field(description="Whether the caller acts through this session")

    @classmethod
    def of(cls, row: SessionRow, idle_expires_at: datetime, current: uuid.UUID | None = None) -> SessionOut:
        return cls(
            id=row.id,
            user_id=row.user_id,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
            expires_at=row.expires_at,
            idle_expires_at=idle_expires_at,
            client_address=row.client_address,
            user_agent=row.user_agent,
            current=row.id == current,
        )


class LoginOut(BaseModel):
    user: UserOut
    session: SessionOut
    csrf_token: str = Field(
        description="Also in the `assay_csrf` cookie: send it back in X-CSRF-Token with every change"
    )


class PrincipalOut(BaseModel):
    id: str
    kind: str
    session_id: str | None
    scopes: list[str]


class WhoamiOut(BaseModel):
    principal: PrincipalOut
    user: UserOut | None = Field(description="The user behind a session or an API key")


class PasswordChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=4096)
    new_password: str = Field(min_length=1, max_length=4096)


class RecoveryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320)


class RecoveryAccepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class ResetIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=4096)


def signed_in_answer(request: Request, response: Response, created: NewSession, domain: Domain) -> LoginOut:
    session = created.session
    set_session_cookies(
        response,
        request,
        secret=created.secret,
        csrf_token=created.csrf_token,
        expires_at=session.expires_at,
        now=session.created_at,
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginOut(
        user=UserOut.of(created.user),
        session=SessionOut.of(session, domain.sessions.idle_expiry(session), current=session.id),
        csrf_token=created.csrf_token,
    )


@router.post(
    "/login",
    response_model=LoginOut,
    responses=problems(401, 422, 429),
    summary="Sign in with email and password; sets the assay_session and assay_csrf cookies",
)
async def login(body: LoginIn, request: Request, response: Response, domain: Domain) -> LoginOut:
    created = await domain.sessions.login(
        body.email, body.password, client_info(request), replacing_secret=request.cookies.get(SESSION_COOKIE)
    )
    return signed_in_answer(request, response, created, domain)


@router.post("/logout", status_code=204, summary="Sign out: end this session and clear its cookies")
async def logout(
    request: Request, response: Response, domain: Domain, principal: Principal = Depends(caller)
) -> None:
    actor = Actor(
        id=principal.id if principal.kind != "anonymous" else None,
        kind=principal.kind,
        address=client_address(request),
    )
    try:
        session_id = uuid.UUID(principal.session_id) if principal.session_id else None
    except ValueError:
        session_id = None
    await domain.sessions.logout(actor, secret=request.cookies.get(SESSION_COOKIE), session_id=session_id)
    clear_session_cookies(response, request)


@router.get("/whoami", response_model=WhoamiOut, responses=problems(401), summary="Who the caller is")
async def whoami(request: Request, domain: Domain, principal: Principal = Depends(caller)) -> WhoamiOut:
    if principal.kind == "anonymous":
        raise NotSignedIn("nobody is signed in")
    user = None
    if principal.kind in ("user", "api_key"):
        user = UserOut.of((await domain.access.anyone_signed_in(principal, client_address(request))).user)
    return WhoamiOut(
        principal=PrincipalOut(
            id=principal.id,
            kind=principal.kind,
            session_id=principal.session_id,
            scopes=list(principal.scopes),
        ),
        user=user,
    )


@router.post(
    "/password",
    response_model=LoginOut,
    responses=problems(401, 403, 422, 429),
    summary="Change your password; every session of yours ends and this one is replaced (new cookies)",
)
async def change_password(
    body: PasswordChangeIn, request: Request, response: Response, signed_in: User, domain: Domain
) -> LoginOut:
    created = await domain.sessions.change_password(
        signed_in.actor, signed_in.user.id, body.current_password, body.new_password, client_info(request)
    )
    return signed_in_answer(request, response, created, domain)


@router.post(
    "/password/recovery",
    status_code=202,
    response_model=RecoveryAccepted,
    responses=problems(422, 503),
    summary="Ask for a password-recovery email; accepted alike whether or not the address is known",
)
async def request_recovery(
    body: RecoveryIn, domain: Domain, actor: Actor = Depends(anonymous_actor)
) -> RecoveryAccepted:
    domain.recovery.request(body.email, actor)
    return RecoveryAccepted()


@router.post(
    "/password/reset",
    status_code=204,
    responses=problems(400, 422, 503),
    summary="Set a new password with a recovery token; every session of the user ends",
)
async def reset_password(body: ResetIn, domain: Domain, actor: Actor = Depends(anonymous_actor)) -> None:
    await domain.recovery.reset(body.token, body.new_password, actor)
