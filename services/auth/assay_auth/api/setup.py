"""`/api/v1/auth/setup`: the first administrator of a platform that has no user yet, made from the
dashboard's first-run page (public: there is nobody to sign in as)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from assay_auth.api.deps import Domain, client_address
from assay_auth.api.users import UserOut
from assay_common.problems import problems

router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"])


class SetupState(BaseModel):
    needed: bool = Field(description="Whether the platform still needs its first administrator")


class SetupIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=1, max_length=320, examples=["admin@example.com"])
    display_name: str = Field(default="", max_length=200)
    password: str = Field(min_length=1, max_length=4096)


@router.get("/setup", response_model=SetupState, summary="Whether the platform needs its first administrator")
async def setup_state(domain: Domain) -> SetupState:
    return SetupState(needed=await domain.bootstrap.setup_needed())


@router.post(
    "/setup",
    status_code=201,
    response_model=UserOut,
    responses=problems(409, 422),
    summary="Create the first administrator (only while the platform has no user); then sign in",
)
async def set_up(body: SetupIn, request: Request, domain: Domain) -> UserOut:
    user = await domain.bootstrap.first_administrator(
        email=body.email,
        display_name=body.display_name,
        password=body.password,
        address=client_address(request),
    )
    return UserOut.of(user)
