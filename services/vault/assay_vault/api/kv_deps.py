"""The KV domain objects a request works with, and parsing shared by the native and `/v1` routes."""

from __future__ import annotations

from fastapi import Depends

from assay_common.service import Runtime, runtime
from assay_vault.api.deps import keyring
from assay_vault.domain.keyring import Keyring
from assay_vault.domain.kv import KeyValue
from assay_vault.domain.kv_durations import parse_seconds
from assay_vault.domain.kv_mounts import Mounts


async def key_value(rt: Runtime = Depends(runtime), keys: Keyring = Depends(keyring)) -> KeyValue:
    return KeyValue(rt.store, rt.events, keys)


async def mounts(rt: Runtime = Depends(runtime), keys: Keyring = Depends(keyring)) -> Mounts:
    return Mounts(rt.store, rt.events, keys)


def seconds_or_none(value: str | int | None, field: str) -> int | None:
    """A duration as given (Go text or seconds), in whole seconds; None when not given."""
    return None if value is None else parse_seconds(value, field)
