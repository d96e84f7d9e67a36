"""`assay login` and `assay logout`: keep an API key for later commands.

Signing in with a password makes an API key of the user's own for this machine (named after it),
signs the password session out again, and stores the key (`_credentials`); `assay logout` revokes
that key and forgets it. A key given on standard input is checked and stored as it is (and only
forgotten on logout: it was made elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import aiohttp
import typer
from rich.text import Text

from assay.cli import _output
from assay.cli._credentials import (
    CREDENTIALS_ENV,
    CredentialsUnreadable,
    StoredLogin,
    forget_login,
    store_login,
    stored_login,
)
from assay.cli._settings import ApiUrlOption, ConfigError, OutputFormat, OutputOption, resolve
from assay.client import Answer, ApiError, ApiUnreachable, AssayClient


def login(
    ctx: typer.Context,
    email: Annotated[
        str | None,
        typer.Option(metavar="EMAIL", show_default=False, help="Sign in as EMAIL (else asked for)."),
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    with_api_key: Annotated[
        bool,
        typer.Option("--with-api-key", help="Read an existing API key from standard input and store it."),
    ] = False,
    api_url: ApiUrlOption = None,
    output: OutputOption = None,
) -> None:
    """Sign in and store an API key for later commands (in the file `assay logout` empties)."""
    with _output.reported_errors(), _credentials_errors():
        settings = resolve(ctx, api_url, output)
        if with_api_key:
            key = sys.stdin.readline().strip()
            if not key:
                raise ConfigError("no API key on standard input")
            me = asyncio.run(_whoami(settings.api_url, key))
            stored = StoredLogin(api_key=key, email=_email_of(me))
        else:
            address = email or typer.prompt("Email")
            password = (
                sys.stdin.readline().rstrip("\n")
                if password_stdin
                else typer.prompt("Password", hide_input=True)
            )
            name = f"assay CLI on {socket.gethostname()}"[:200]
            key, key_id = asyncio.run(_key_from_password(settings.api_url, address, password, name))
            stored = StoredLogin(api_key=key, email=address, api_key_id=key_id)
        path = store_login(settings.api_url, stored)
    if settings.output is OutputFormat.table:
        who = stored.email or "the key's owner"
        _output.out.print(Text(f"Signed in to {settings.api_url} as {who}; the key is kept in {path}."))
    else:
        _output.document(
            {"api_url": settings.api_url, "email": stored.email, "credentials_file": str(path)},
            settings.output,
        )


def logout(ctx: typer.Context, api_url: ApiUrlOption = None, output: OutputOption = None) -> None:
    """Forget the key `assay login` stored for this platform, revoking it when login made it."""
    with _output.reported_errors(), _credentials_errors():
        settings = resolve(ctx, api_url, output)
        stored = stored_login(settings.api_url)
        if stored is None:
            _output.err.print(Text(f"Not signed in to {settings.api_url}; nothing to do."))
            return
        if stored.api_key_id is not None:
            asyncio.run(_revoke_self(settings.api_url, stored.api_key))
        forget_login(settings.api_url)
    _output.err.print(Text(f"Signed out of {settings.api_url}."))


@contextlib.contextmanager
def _credentials_errors() -> Iterator[None]:
    """A damaged credentials file is a configuration error, reported as one."""
    try:
        yield
    except CredentialsUnreadable as exc:
        raise ConfigError(f"{exc}; remove it, or point ${CREDENTIALS_ENV} elsewhere") from None


async def _whoami(api_url: str, key: str) -> dict[str, Any]:
    async with AssayClient(api_url, api_key=key) as client:
        answer: dict[str, Any] = await client.call("GET", "/api/v1/auth/whoami")
        return answer


def _email_of(whoami: dict[str, Any]) -> str | None:
    user = whoami.get("user")
    return user.get("email") if isinstance(user, dict) else None


async def _revoke_self(api_url: str, key: str) -> None:
    async with AssayClient(api_url, api_key=key) as client:
        try:
            await client.call("DELETE", "/api/v1/auth/api-keys/self")
        except ApiError as exc:
            if exc.status != 401:  # 401: revoked or expired already
                raise


async def _key_from_password(api_url: str, email: str, password: str, name: str) -> tuple[str, str]:
    """Sign in with the password, make an API key, sign out; the key and its id."""
    # unsafe=True: keep cookies from hosts named by IP address (127.0.0.1), as `assay up` serves.
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(api_url, cookie_jar=jar, trust_env=False) as http:
        signed_in = await _post(http, api_url, "/api/v1/auth/login", {"email": email, "password": password})
        csrf = {"x-csrf-token": signed_in["csrf_token"]}
        try:
            # `*`: the key may do whatever its owner may, like the signed-in user it stands in for.
            key = {"name": name, "scopes": ["*"]}
            created = await _post(http, api_url, "/api/v1/auth/api-keys", key, csrf)
        finally:
            await _post(http, api_url, "/api/v1/auth/logout", None, csrf)
    return created["key"], created["id"]


async def _post(
    http: aiohttp.ClientSession,
    api_url: str,
    path: str,
    body: dict[str, Any] | None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    try:
        async with http.post(path, json=body, headers=headers) as response:
            answer = Answer(response.status, response.reason, await response.read())
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ApiUnreachable(api_url, type(exc).__name__) from exc
    if not answer.is_success:
        raise ApiError.from_response(answer)
    decoded: dict[str, Any] = json.loads(answer.content) if answer.content else {}
    return decoded
