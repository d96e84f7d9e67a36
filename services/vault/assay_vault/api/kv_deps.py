"""The KV domain objects a request works with, and parsing shared by the native and `/v1` routes."""

from __future__ import annotations

from fastapi import Request

from assay_common.service import runtime
from assay_vault.api.deps import keyring
from assay_vault.domain.kv import KeyValue
from assay_vault.domain.kv_durations import parse_seconds
from assay_vault.domain.kv_mounts import Mounts

# The domain objects are made from the request by each dependency itself rather than from
# dependencies of their own: FastAPI resolves every dependency of every request anew.


async def key_value(request: Request) -> KeyValue:
    rt = await runtime(request)
    return KeyValue(rt.store, rt.events, await keyring(request))


async def mounts(request: Request) -> Mounts:
    rt = await runtime(request)
    return Mounts(rt.store, rt.events, await keyring(request))


def seconds_or_none(value: str | int | None, field: str) -> int | None:
    """A duration as given (Go text or seconds), in whole seconds; None when not given."""
    return None if value is None else parse_seconds(value, field)
