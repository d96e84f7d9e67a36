"""Sessions: your own at `/api/v1/auth/sessions`; any user's, for administrators, at
`/api/v1/auth/users/{user_id}/sessions`."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from assay_auth.api.deps import Admin, Domain, User
from assay_auth.api.login import SessionOut
from assay_common.problems import problems

router = APIRouter(prefix="/api/v1/auth", tags=["sessions"])

SessionId = Annotated[uuid.UUID, Path(description="The session's id")]
UserId = Annotated[uuid.UUID, Path(description="The user's id")]


class SessionList(BaseModel):
    items: list[SessionOut]


class Revoked(BaseModel):
    revoked: int


@router.get(
    "/sessions", response_model=SessionList, responses=problems(401, 403), summary="Your live sessions"
)
async def my_sessions(signed_in: User, domain: Domain) -> SessionList:
    rows = await domain.sessions.list_live(signed_in.user.id)
    return SessionList(
        items=[SessionOut.of(r, domain.sessions.idle_expiry(r), current=signed_in.session_id) for r in rows]
    )


@router.delete(
    "/sessions/{session_id}",
    status_code=204,
    responses=problems(401, 403, 404),
    summary="End one of your sessions",
)
async def revoke_my_session(session_id: SessionId, signed_in: User, domain: Domain) -> None:
    await domain.sessions.revoke(signed_in.actor, session_id, owner=signed_in.user.id)


@router.get(
    "/users/{user_id}/sessions",
    response_model=SessionList,
    responses=problems(401, 403, 404),
    summary="A user's live sessions",
)
async def user_sessions(user_id: UserId, actor: Admin, domain: Domain) -> SessionList:
    await domain.users.get(user_id)
    rows = await domain.sessions.list_live(user_id)
    return SessionList(items=[SessionOut.of(r, domain.sessions.idle_expiry(r)) for r in rows])


@router.delete(
    "/users/{user_id}/sessions",
    response_model=Revoked,
    responses=problems(401, 403, 404),
    summary="End every session of a user",
)
async def revoke_user_sessions(user_id: UserId, actor: Admin, domain: Domain) -> Revoked:
    await domain.users.get(user_id)
    return Revoked(revoked=await domain.sessions.revoke_all(actor, user_id))


@router.delete(
    "/users/{user_id}/sessions/{session_id}",
    status_code=204,
    responses=problems(401, 403, 404),
    summary="End one session of a user",
)
async def revoke_user_session(user_id: UserId, session_id: SessionId, actor: Admin, domain: Domain) -> None:
    await domain.sessions.revoke(actor, session_id, owner=user_id)
