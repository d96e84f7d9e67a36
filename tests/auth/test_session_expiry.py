"""Session lifetimes at the running service: a second auth service with TTLs of a few seconds,
on the stack's database server and NATS (streams of its own)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from nats.js.errors import NotFoundError

from assay.local import free_port
from assay_common.events.bus import EventBus
from tests.auth_api import AuthApi, auth_process, email
from tests.conftest import Stack, run_subjects
from tests.gateway.conftest import running_side_gateway
from tests.support import eventually

IDLE_TTL = 1.0
ABSOLUTE_TTL = 3.0


@pytest.fixture(scope="module")
async def short_lived(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AuthApi]:
    port = free_port()
    subjects = run_subjects(f"auth{port}")
    env = {
        "ASSAY_DATA_DIR": str(tmp_path_factory.mktemp("short-lived-auth")),
        "ASSAY_NATS_URL": stack.nats.url,
        "ASSAY_SUBJECT_PREFIX": subjects.events_prefix,
        "ASSAY_AUDIT_SUBJECT_PREFIX": subjects.audit_prefix,
        "ASSAY_EVENTS_STREAM": subjects.events_stream,
        "ASSAY_AUDIT_STREAM": subjects.audit_stream,
        "ASSAY_AUTH_SESSION_IDLE_TTL_SECONDS": str(IDLE_TTL),
        "ASSAY_AUTH_SESSION_ABSOLUTE_TTL_SECONDS": str(ABSOLUTE_TTL),
    }
    if stack.database_url:
        env["ASSAY_DATABASE_URL"] = stack.database_url
        env["ASSAY_AUTH_DB_SCHEMA"] = f"auth_short_{port}"
    try:
        async with auth_process(stack.platform, "short-lived-auth", env) as api:
            yield api
    finally:
        bus = EventBus(stack.nats.url, subjects, events_max_age=3600, audit_max_age=3600)
        await bus.connect()
        for stream in (subjects.events_stream, subjects.audit_stream):
            with contextlib.suppress(NotFoundError):
                await bus.js.delete_stream(stream)
        await bus.close()


async def validate(api: AuthApi, secret: str) -> int:
    response = await api.call("POST", "/internal/v1/sessions/validate", json={"secret": secret})
    return response.status_code


async def test_an_unused_session_ends_after_the_idle_ttl(short_lived: AuthApi, unique: str) -> None:
    user = await short_lived.create_user(email(unique))
    me = await short_lived.signed_in(email(unique))
    assert await validate(short_lived, me.secret) == 200

    async def gone_from_the_list() -> bool:
        # Listing reads without touching the session, so it ages untouched.
        answer = await short_lived.call("GET", f"/api/v1/auth/users/{user['id']}/sessions")
        items: list[object] = answer.json()["items"]
        return items == []

    await eventually(gone_from_the_list, within=5, what="the session idled out")
    assert await validate(short_lived, me.secret) == 401


async def test_a_used_session_still_ends_at_the_absolute_ttl(short_lived: AuthApi, unique: str) -> None:
    await short_lived.create_user(email(unique))
    me = await short_lived.signed_in(email(unique))
    started = asyncio.get_running_loop().time()

    async def ended() -> bool:
        # Used far more often than the idle TTL, so only the absolute end can stop it.
        return await validate(short_lived, me.secret) == 401

    await eventually(ended, within=ABSOLUTE_TTL + 3, what="the session reached its absolute end")
    assert asyncio.get_running_loop().time() - started >= ABSOLUTE_TTL - 0.5
    assert (await short_lived.call("GET", "/api/v1/auth/whoami", me.principal)).status_code == 401


async def test_an_ended_session_is_refused_at_the_gateway_within_its_cache_window(
    stack: Stack, short_lived: AuthApi, unique: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    cache = {"ASSAY_GATEWAY_AUTH_CACHE_SECONDS": "1"}
    auth_url = str(short_lived.client.base_url)
    async with running_side_gateway(
        stack, tmp_path_factory, "short-lived-gateway", auth_url=auth_url, extra_env=cache
    ) as gateway:
        await short_lived.create_user(email(unique))
        me = await short_lived.signed_in(email(unique))
        cookies = {"assay_session": me.secret, "assay_csrf": me.csrf_token}
        async with httpx.AsyncClient(base_url=gateway.url, cookies=cookies, timeout=30) as browser:
            # The workflow service takes the gateway's word: only the gateway can refuse.
            assert (await browser.get("/api/v1/namespaces")).status_code == 200

            async def refused() -> bool:
                return (await browser.get("/api/v1/namespaces")).status_code == 401

            # Used all along, so the absolute end stops it, plus at most the cache window.
            await eventually(refused, within=ABSOLUTE_TTL + 1 + 3, what="the ended session refused")
