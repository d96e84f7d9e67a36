"""The Vault-compatible `sys` API side by side with OpenBao, both driven by hvac: health, seal
status, init, unseal and seal answer alike (fields, status codes, hvac's exceptions)."""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import hvac
import hvac.exceptions
import pytest
import requests

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, load_private_key
from assay_vault.domain import shamir
from tests.conftest import Stack
from tests.vault.openbao import running_openbao
from tests.vault.vault_processes import CALLER, vault_replicas

#: What both answer in `sys/seal-status` and must agree on.
SEAL_FIELDS = ("type", "initialized", "sealed", "t", "n", "progress")
#: What both answer in `sys/health`.
HEALTH_FIELDS = ("initialized", "sealed", "standby")


@pytest.fixture
async def openbao(tmp_path: Path) -> AsyncIterator[hvac.Client]:
    """A fresh, uninitialized OpenBao server (in-memory storage), and hvac in front of it."""

    def arguments(port: int) -> list[str]:
        config = tmp_path / "bao.hcl"
        config.write_text(
            'storage "inmem" {}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n'
            "disable_mlock = true\n"
        )
        return [f"-config={config}"]

    async with running_openbao(tmp_path, arguments, "/v1/sys/seal-status") as url:
        yield hvac.Client(url=url)


@pytest.fixture
async def assay(stack: Stack, tmp_path: Path) -> AsyncIterator[hvac.Client]:
    """A fresh, uninitialized Assay vault, and hvac in front of it (with the internal token the
    gateway would add)."""
    async with vault_replicas(stack, tmp_path / "assay", 1) as (replica,):
        minter = InternalTokenMinter(
            load_private_key((stack.platform.data_dir / "internal.key").read_bytes())
        )
        session = requests.Session()
        session.headers[INTERNAL_TOKEN_HEADER] = minter.mint(CALLER, audience="vault")
        yield hvac.Client(url=replica.url, session=session)


def both(clients: tuple[hvac.Client, hvac.Client], call: Callable[[hvac.Client], Any]) -> tuple[Any, Any]:
    return call(clients[0]), call(clients[1])


def raised(call: Callable[[], Any]) -> type[Exception]:
    with pytest.raises(hvac.exceptions.VaultError) as failure:
        call()
    return type(failure.value)


def fields(answer: Any, names: tuple[str, ...]) -> dict[str, Any]:
    body = answer.json() if isinstance(answer, requests.Response) else answer
    return {name: body[name] for name in names}


def health(client: hvac.Client, **codes: int) -> tuple[int, dict[str, Any]]:
    answer = client.sys.read_health_status(method="GET", **codes)
    return answer.status_code, fields(answer, HEALTH_FIELDS)


async def test_the_seal_lifecycle_answers_as_openbaos(openbao: hvac.Client, assay: hvac.Client) -> None:
    clients = (openbao, assay)

    def same(call: Callable[[hvac.Client], Any]) -> Any:
        ours, theirs = both((assay, openbao), call)
        assert ours == theirs
        return ours

    assert same(lambda c: health(c)) == (501, {"initialized": False, "sealed": True, "standby": True})
    assert same(lambda c: c.sys.read_health_status(method="HEAD").status_code) == 501
    same(lambda c: fields(c.sys.read_seal_status(), SEAL_FIELDS))
    assert same(lambda c: c.sys.is_initialized()) is False

    made = both(clients, lambda c: c.sys.initialize(secret_shares=3, secret_threshold=2))
    for answer in made:
        assert {"keys", "keys_base64", "root_token"} <= set(answer)
        assert [len(key) for key in answer["keys"]] == [66] * 3
        assert [base64.b64decode(key).hex() for key in answer["keys_base64"]] == answer["keys"]
    keys = {id(client): answer["keys"] for client, answer in zip(clients, made, strict=True)}
    openbao.token = made[0]["root_token"]
    assert made[1]["root_token"] == ""  # Assay has no Vault tokens: its API keys and JWTs serve
    assert same(lambda c: raised(lambda: c.sys.initialize(3, 2))) is hvac.exceptions.InvalidRequest

    assert same(lambda c: health(c))[0] == 503
    assert same(lambda c: health(c, sealed_code=299))[0] == 299
    assert same(lambda c: c.sys.is_sealed()) is True
    progress = both(clients, lambda c: c.sys.submit_unseal_key(keys[id(c)][0]))
    assert fields(progress[0], SEAL_FIELDS) == fields(progress[1], SEAL_FIELDS)
    assert progress[0]["progress"] == 1 and all(answer["nonce"] for answer in progress)
    same(lambda c: fields(c.sys.submit_unseal_key(keys[id(c)][0]), SEAL_FIELDS))  # counted once
    same(lambda c: fields(c.sys.submit_unseal_key(reset=True), SEAL_FIELDS))
    same(lambda c: raised(lambda: c.sys.submit_unseal_key("not a key")))
    unsealed = same(lambda c: fields(c.sys.submit_unseal_keys(keys[id(c)][1:]), SEAL_FIELDS))
    assert unsealed["sealed"] is False
    assert same(lambda c: health(c, active_code=299)) == (
        299,
        {"initialized": True, "sealed": False, "standby": False},
    )

    def key_status(client: hvac.Client) -> tuple[int, list[str]]:
        answer = client.sys.get_encryption_key_status()
        assert answer["term"] == answer["data"]["term"]
        return answer["data"]["term"], sorted(answer["data"])

    assert same(key_status) == (1, ["encryptions", "install_time", "term"])
    assert same(lambda c: c.sys.rotate_encryption_key().status_code) == 204
    assert same(key_status)[0] == 2

    assert same(lambda c: c.sys.seal().status_code) == 204
    assert same(lambda c: raised(c.sys.get_encryption_key_status)) is hvac.exceptions.VaultDown
    assert same(lambda c: c.sys.is_sealed()) is True
    # Shares of another root key: Assay's for OpenBao; for Assay, a fresh split (OpenBao's shares
    # put their index last, so their first byte, Assay's index, may repeat or be 0).
    another_root = shamir.texts(shamir.split(os.urandom(32), 3, 2))[0]
    other = {id(openbao): keys[id(assay)], id(assay): another_root}
    same(lambda c: c.sys.submit_unseal_key(other[id(c)][0])["progress"])
    assert (
        same(lambda c: raised(lambda: c.sys.submit_unseal_key(other[id(c)][1])))
        is hvac.exceptions.InvalidRequest
    )
    assert same(lambda c: c.sys.read_seal_status()["progress"]) == 0
