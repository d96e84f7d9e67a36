"""The auth service of the running stack, called directly (as the gateway does) with an internal
token for whichever principal a test chooses; shared by the tests of auth and of the gateway."""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx

from assay.local import LocalPlatform, free_port
from assay.local.platform import ManagedProcess
from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key

#: A Fernet key of this run: the stack's auth service seals recovery tokens with it.
RECOVERY_KEY = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
#: The auth service in tests: cheap Argon2id (the production cost would make every sign-in slow)
#: and password recovery switched on.
AUTH_TEST_ENV = {
    "ASSAY_AUTH_PASSWORD_HASH_MEMORY_KIB": "8192",
    "ASSAY_AUTH_PASSWORD_HASH_TIME_COST": "1",
    "ASSAY_AUTH_PASSWORD_HASH_PARALLELISM": "1",
    "ASSAY_AUTH_PASSWORD_RECOVERY_KEY": RECOVERY_KEY,
}
#: A password that meets the default policy.
PASSWORD = "correct horse battery staple"
#: How tests call the auth service when the caller does not matter: as another Assay service.
SERVICE = Principal(id="tests", kind="service")


class AuthApi:
    """The auth service of the stack, reached directly (as the gateway does) with an internal
    token for whichever principal a test chooses."""

    def __init__(self, url: str, minter: InternalTokenMinter, audience: str = "auth") -> None:
        self.client = httpx.AsyncClient(base_url=url, timeout=30)
        self.minter = minter
        self.audience = audience

    def token(self, principal: Principal) -> str:
        return self.minter.mint(principal, self.audience)

    async def call(
        self,
        method: str,
        path: str,
        principal: Principal = SERVICE,
        *,
        address: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        sent = {INTERNAL_TOKEN_HEADER: self.token(principal), **(headers or {})}
        # Every call comes from an address of its own unless a test chooses one, so the
        # per-address sign-in throttle of one test never trips another.
        sent.setdefault("x-forwarded-for", address or random_address())
        response = await self.client.request(method, path, headers=sent, **kwargs)
        # No cookie jar: a test sends the cookies it means to, as a header.
        self.client.cookies.clear()
        return response

    async def create_user(self, email: str, password: str | None = PASSWORD, **fields: Any) -> dict[str, Any]:
        body = {"email": email, "password": password, **fields}
        response = await self.call("POST", "/api/v1/auth/users", json=body)
        assert response.status_code == 201, response.text
        user: dict[str, Any] = response.json()
        return user

    async def login(self, email: str, password: str = PASSWORD, **kwargs: Any) -> httpx.Response:
        anonymous = Principal.anonymous()
        return await self.call(
            "POST", "/api/v1/auth/login", anonymous, json={"email": email, "password": password}, **kwargs
        )

    async def signed_in(self, email: str, password: str = PASSWORD) -> SignedIn:
        response = await self.login(email, password)
        assert response.status_code == 200, response.text
        body = response.json()
        return SignedIn(
            principal=Principal(id=body["user"]["id"], kind="user", session_id=body["session"]["id"]),
            secret=response.cookies["assay_session"],
            csrf_token=body["csrf_token"],
            body=body,
        )

    async def admin(self, email: str) -> Principal:
        """A new administrator, signed in."""
        await self.create_user(email, is_admin=True)
        return (await self.signed_in(email)).principal


class SignedIn:
    def __init__(self, principal: Principal, secret: str, csrf_token: str, body: dict[str, Any]) -> None:
        self.principal = principal
        self.secret = secret
        self.csrf_token = csrf_token
        self.body = body

    @property
    def user_id(self) -> str:
        return self.principal.id


def random_address() -> str:
    return f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}"


def email(unique: str, name: str = "ann") -> str:
    return f"{name}.{unique}@example.com"


@asynccontextmanager
async def auth_process(platform: LocalPlatform, label: str, env: Mapping[str, str]) -> AsyncIterator[AuthApi]:
    """Another auth service process beside `platform`'s, trusting its gateway's internal tokens,
    with `env` on top of the test settings (where its database and NATS are, its TTLs…)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ManagedProcess(
        label,
        [sys.executable, "-m", "assay_auth"],
        {
            "PYTHONUNBUFFERED": "1",
            **AUTH_TEST_ENV,
            "ASSAY_DATA_DIR": str(platform.data_dir),
            "ASSAY_INTERNAL_VERIFY_KEYS_FILE": str(platform.data_dir / "internal.pub"),
            "ASSAY_LOG_JSON": "true",
            "ASSAY_AUTH_PORT": str(port),
            **env,
        },
        platform.log_dir / f"{label}.log",
        ready_url=f"{url}/readyz",
    )
    await process.spawn()
    api = AuthApi(
        url, InternalTokenMinter(load_private_key((platform.data_dir / "internal.key").read_bytes()))
    )
    try:
        async with aiohttp.ClientSession() as probe:
            await process.wait_ready(probe, asyncio.get_running_loop().time() + 30)
        yield api
    finally:
        await api.client.aclose()
        await process.stop()
