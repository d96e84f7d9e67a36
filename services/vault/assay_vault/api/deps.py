"""What the routes of the vault service depend on."""

from __future__ import annotations

from fastapi import Request

from assay_vault.domain.keyring import Keyring
from assay_vault.domain.sealing import Sealing


async def keyring(request: Request) -> Keyring:
    """The running vault's keyring (`RecordCipher`): `Sealed` (503) from its operations while sealed."""
    found: Keyring = request.app.state.keyring
    return found


async def sealing(request: Request) -> Sealing:
    found: Sealing = request.app.state.sealing
    return found
