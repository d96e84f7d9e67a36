"""What the routes of the auth service depend on: the domain, the caller, the client, cookies."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from starlette.responses import JSONResponse

from assay_auth.domain.access import KeyInUse, SignedIn
from assay_auth.domain.context import Actor
from assay_auth.domain.csrf import CSRF_COOKIE
from assay_auth.domain.errors import LoginThrottled
from assay_auth.domain.identity import Identity
from assay_auth.domain.sessions import ClientInfo
from assay_common.events.access_audit import client_address as client_address
from assay_common.internal_auth import Principal
from assay_common.problems import error_response
from assay_common.service import caller

SESSION_COOKIE = "assay_session"


async def identity(request: Request) -> Identity:
    found: Identity = request.app.state.identity
    return found


def client_info(request: Request) -> ClientInfo:
    return ClientInfo(address=client_address(request), user_agent=request.headers.get("user-agent"))


def over_https(request: Request) -> bool:
    """Whether the browser reached the platform over https (the gateway says so in
    X-Forwarded-Proto; without it, the scheme of this request)."""
    proto = request.headers.get("x-forwarded-proto")
    if proto:
        return proto.split(",")[-1].strip().lower() == "https"
    return request.url.scheme == "https"


async def admin(
    request: Request, principal: Principal = Depends(caller), domain: Identity = Depends(identity)
) -> Actor:
    return await domain.access.admin(principal, client_address(request))


async def signed_in_user(
    request: Request, principal: Principal = Depends(caller), domain: Identity = Depends(identity)
) -> SignedIn:
    return await domain.access.user(principal, client_address(request))


async def calling_key(
    request: Request, principal: Principal = Depends(caller), domain: Identity = Depends(identity)
) -> KeyInUse:
    return await domain.access.api_key(principal, client_address(request))


async def anonymous_actor(request: Request) -> Actor:
    return Actor.anonymous(client_address(request))


Admin = Annotated[Actor, Depends(admin)]
User = Annotated[SignedIn, Depends(signed_in_user)]
CallingKey = Annotated[KeyInUse, Depends(calling_key)]
Domain = Annotated[Identity, Depends(identity)]


def set_session_cookies(
    response: Response, request: Request, *, secret: str, csrf_token: str, expires_at: datetime, now: datetime
) -> None:
    """`assay_session` (HttpOnly: scripts cannot read it) and `assay_csrf` (scripts read it and
    send it back in X-CSRF-Token); both SameSite=Lax, Secure when the browser came over https.
    They live until the session's absolute end; the idle end is enforced by the server."""
    secure = over_https(request)
    max_age = max(0, math.floor((expires_at - now).total_seconds()))
    response.set_cookie(
        SESSION_COOKIE, secret, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax"
    )
    response.set_cookie(
        CSRF_COOKIE, csrf_token, max_age=max_age, path="/", secure=secure, httponly=False, samesite="lax"
    )


def clear_session_cookies(response: Response, request: Request) -> None:
    secure = over_https(request)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, httponly=False, samesite="lax")


async def _throttled(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginThrottled)
    response: JSONResponse = error_response(exc, instance=request.url.path)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def install_error_handlers(app: FastAPI) -> None:
    """A throttled sign-in is a 429 problem with a Retry-After header."""
    app.add_exception_handler(LoginThrottled, _throttled)
