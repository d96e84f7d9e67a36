"""What the hvac differential tests share: OpenBao's dev server, how an hvac call's answer is
recorded and normalised, and the comparison of two runs of one scenario (OpenBao's and Assay's)
that allows only the differences a test lists, each with its reason."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac.exceptions
import requests

from tests.vault.openbao import running_openbao

#: What differs by nature and is replaced before comparing.
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
#: `running_plugin_version` names the server's build (`v2.x+builtin.bao`, `v0.1.0+builtin.assay`).
VOLATILE_KEYS = frozenset({"request_id", "accessor", "uuid", "running_plugin_version"})

#: One step of a scenario and what it answered.
Outcomes = Sequence[tuple[str, Any]]


@dataclass(frozen=True)
class Bao:
    url: str
    token: str


@asynccontextmanager
async def openbao_dev_server(directory: Path) -> AsyncIterator[Bao]:
    """OpenBao's dev server (unsealed; it mounts `secret/` as KV v2) with a root token of ours."""
    token = secrets.token_hex(8)

    def arguments(port: int) -> list[str]:
        return ["-dev", f"-dev-listen-address=127.0.0.1:{port}", f"-dev-root-token-id={token}"]

    async with running_openbao(directory, arguments, "/v1/sys/health") as url:
        yield Bao(url, token)


def normalized(value: Any) -> Any:
    """`value` with times and ids replaced by placeholders (present or empty stays visible)."""
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE_KEYS else normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    if isinstance(value, str) and TIME.match(value):
        return "<time>"
    return value


def outcome(step: Callable[[], Any], normalize: Callable[[Any], Any] = normalized) -> Any:
    """What one hvac call answered: its JSON, its status when it has no body, or the exception
    (its class and its JSON), through `normalize`."""
    try:
        result = step()
    except hvac.exceptions.VaultError as error:
        return {"raised": type(error).__name__, "json": normalize(error.json)}
    if isinstance(result, requests.Response):
        body = normalize(result.json()) if result.content else None
        return {"status": result.status_code, "json": body}
    return normalize(result)


def assert_same_answers(expected: Outcomes, actual: Outcomes, known_differences: Mapping[str, str]) -> None:
    """Each step answered alike on both sides, but for the steps of `known_differences` (step →
    reason), each of which must really differ (or its entry would hide nothing)."""
    assert [name for name, _ in actual] == [name for name, _ in expected]
    differences = [
        (name, theirs, ours)
        for (name, theirs), (_, ours) in zip(expected, actual, strict=True)
        if theirs != ours and name not in known_differences
    ]
    answers = dict(expected), dict(actual)
    for name in known_differences:
        assert answers[0][name] != answers[1][name], f"{name} is no longer a difference"
    assert differences == [], "\n".join(
        f"{name}:\n  OpenBao: {theirs}\n  Assay:   {ours}" for name, theirs, ours in differences
    )
