"""The first administrator of `assay up`, and `assay login` / `assay logout` keeping a key."""

from __future__ import annotations

import json
import re
import stat

import httpx

from tests.sdk.conftest import Cli, StartUp
from tests.support import eventually

NEW_PASSWORD = "a long enough first password"


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def test_first_start_makes_an_administrator_and_login_keeps_a_key_until_logout(
    start_up: StartUp, cli: Cli
) -> None:
    up = await start_up()
    await up.wait_healthy()
    key_line = re.search(r"API key\s+(assay_\S+)", up.output)
    link_line = re.search(r"set it at (\S+)#token=(\S+)", up.output)
    assert key_line and link_line, up.output
    admin_key, (page, token) = key_line.group(1), link_line.groups()
    assert page == f"{up.url}/account/password"

    async with httpx.AsyncClient(base_url=up.url, timeout=30) as http:
        whoami = await http.get("/api/v1/auth/whoami", headers=bearer(admin_key))
        assert whoami.status_code == 200, whoami.text
        assert whoami.json()["user"]["email"] == "admin@localhost"
        assert whoami.json()["user"]["is_admin"] is True
        reset = await http.post(
            "/api/v1/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert reset.status_code == 204, reset.text
        used_twice = await http.post(
            "/api/v1/auth/password/reset", json={"token": token, "new_password": NEW_PASSWORD}
        )
        assert used_twice.status_code == 400

    anonymous = await cli.run("--api-url", up.url, "namespace", "list")
    assert anonymous.code == 1 and "401" in anonymous.stderr
    not_a_key = await cli.run("--api-url", up.url, "login", "--with-api-key", stdin="assay_not-a-key\n")
    assert not_a_key.code == 1 and "401" in not_a_key.stderr
    assert not (cli.config_home / "assay" / "credentials.json").exists(), "nothing stored"

    login = await cli.run(
        "--api-url", up.url, "-o", "json", "login", "--email", "admin@localhost", "--password-stdin",
        stdin=NEW_PASSWORD + "\n",
    )  # fmt: skip
    assert login.code == 0, login.stderr
    credentials = cli.config_home / "assay" / "credentials.json"
    assert login.json() == {
        "api_url": up.url,
        "email": "admin@localhost",
        "credentials_file": str(credentials),
    }
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    stored_key = json.loads(credentials.read_text())["platforms"][up.url]["api_key"]
    assert stored_key.startswith("assay_") and stored_key != admin_key
    assert NEW_PASSWORD not in credentials.read_text()

    listed = await cli.run("--api-url", up.url, "-o", "json", "namespace", "list")
    assert listed.code == 0, listed.stderr

    logout = await cli.run("--api-url", up.url, "logout")
    assert logout.code == 0, logout.stderr
    assert up.url not in json.loads(credentials.read_text())["platforms"]
    async with httpx.AsyncClient(base_url=up.url, timeout=30) as http:

        async def refused() -> bool:
            return (await http.get("/api/v1/namespaces", headers=bearer(stored_key))).status_code == 401

        await eventually(refused, what="the key of `assay login` revoked by `assay logout`")
        assert (await http.get("/api/v1/auth/whoami", headers=bearer(admin_key))).status_code == 200

    wrong = await cli.run(
        "--api-url", up.url, "login", "--email", "admin@localhost", "--password-stdin", stdin="wrong\n"
    )
    assert wrong.code == 1
    assert "401" in wrong.stderr and "wrong" not in wrong.stderr

    # A key made elsewhere is checked, stored and only forgotten on logout.
    given = await cli.run("--api-url", up.url, "login", "--with-api-key", stdin=admin_key + "\n")
    assert given.code == 0, given.stderr
    assert (await cli.run("--api-url", up.url, "logout")).code == 0
    async with httpx.AsyncClient(base_url=up.url, timeout=30) as http:
        assert (await http.get("/api/v1/auth/whoami", headers=bearer(admin_key))).status_code == 200
