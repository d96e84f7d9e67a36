"""`sys/audit` side by side with OpenBao, both driven by hvac (`list_enabled_audit_devices`,
`enable_audit_device`, `disable_audit_device`): the same listings, status codes, errors and hvac
exceptions. OpenBao enables audit devices through its API only when its configuration says
`unsafe_allow_api_audit_creation`; its file devices write to a directory of the test."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import hvac
import pytest

from tests.conftest import Stack
from tests.vault.differential import Bao, assert_same_answers, normalized, outcome
from tests.vault.openbao import running_openbao

#: Listing keys of the envelope (Vault repeats the devices at the top level, beside them).
ENVELOPE = frozenset(
    {"request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info", "warnings", "auth"}
)


@pytest.fixture(scope="module")
async def bao(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bao]:
    """OpenBao's dev server, which lets its API enable audit devices."""
    directory = tmp_path_factory.mktemp("bao-audit")
    config = directory / "audit.hcl"
    config.write_text("unsafe_allow_api_audit_creation = true\n")
    token = secrets.token_hex(8)

    def arguments(port: int) -> list[str]:
        return [
            "-dev",
            f"-dev-listen-address=127.0.0.1:{port}",
            f"-dev-root-token-id={token}",
            f"-config={config}",
        ]

    async with running_openbao(directory, arguments, "/v1/sys/health") as url:
        yield Bao(url, token)


def scenario(client: hvac.Client, names: tuple[str, str], directory: Path) -> list[tuple[str, Any]]:
    """Every step and its outcome, with the scenario's devices picked out of the listings and the
    directory of their files shown as `<dir>`."""
    first, second = names
    audit = client.sys

    def listed() -> dict[str, Any]:
        answer = audit.list_enabled_audit_devices()
        ours = {f"{name}/" for name in names}
        return {
            "envelope": sorted(set(answer) & ENVELOPE),
            "data": {key: value for key, value in answer["data"].items() if key in ours},
            "top": {key: value for key, value in answer.items() if key in ours},
        }

    def file_options(name: str) -> dict[str, str]:
        return {"file_path": str(directory / f"{name}.log")}

    steps: list[tuple[str, Callable[[], Any]]] = [
        ("list before", listed),
        ("enable", lambda: audit.enable_audit_device("file", "to disk", file_options(first), path=first)),
        ("enable again", lambda: audit.enable_audit_device("file", options=file_options(first), path=first)),
        ("enable an unknown type", lambda: audit.enable_audit_device("nope", path=second)),
        ("enable without a type", lambda: client.adapter.post(f"/v1/sys/audit/{second}", json={})),
        ("enable a file without file_path", lambda: audit.enable_audit_device("file", path=second)),
        (
            "enable local",
            lambda: audit.enable_audit_device("file", options=file_options(second), path=second, local=True),
        ),
        ("list both", listed),
        ("disable", lambda: audit.disable_audit_device(first)),
        ("disable again", lambda: audit.disable_audit_device(first)),
        ("list after", listed),
        ("disable the other", lambda: audit.disable_audit_device(second)),
    ]

    def shown(value: Any) -> Any:
        if isinstance(value, dict):
            return {shown(key): shown(item) for key, item in value.items()}
        if isinstance(value, list):
            return [shown(item) for item in value]
        if isinstance(value, str):
            return (
                value.replace(str(directory), "<dir>").replace(first, "<first>").replace(second, "<second>")
            )
        return value

    return [(name, shown(outcome(step, normalized))) for name, step in steps]


async def test_sys_audit_answers_as_openbaos(bao: Bao, stack: Stack, tmp_path: Path, unique: str) -> None:
    names = (f"{unique}a", f"{unique}b")
    theirs = scenario(hvac.Client(url=bao.url, token=bao.token), names, tmp_path / "bao")
    ours = scenario(hvac.Client(url=stack.url, token=stack.admin_key), names, tmp_path / "assay")

    assert_same_answers(theirs, ours, {})
    listed = dict(ours)["list both"]["data"]
    assert listed == {
        "<first>/": {
            "description": "to disk",
            "local": False,
            "options": {"file_path": "<dir>/<first>.log"},
            "path": "<first>/",
            "type": "file",
        },
        "<second>/": {
            "description": "",
            "local": True,
            "options": {"file_path": "<dir>/<second>.log"},
            "path": "<second>/",
            "type": "file",
        },
    }
