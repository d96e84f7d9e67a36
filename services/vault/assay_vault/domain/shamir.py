"""Unseal key shares: the 32-byte root key split with Shamir's secret sharing.

pycryptodome's `Shamir` shares 16-byte secrets (GF(2^128)), so the root key is split as two
halves, each with its own random polynomial but the same share indices. A share is 33 bytes:
its index (1..255), then its value for the first half, then for the second. Callers see it
as Vault shows unseal keys: hex (`keys`) and standard base64 (`keys_base64`); either is
accepted back.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence

from Crypto.Protocol.SecretSharing import Shamir

from assay_common.errors import BadRequest, Invalid

ROOT_KEY_BYTES = 32
_HALF = ROOT_KEY_BYTES // 2
SHARE_BYTES = 1 + ROOT_KEY_BYTES
MAX_SHARES = 255


class InvalidSealConfig(Invalid):
    code = "invalid_seal_configuration"
    title = "The number of key shares or the threshold cannot be used"


class MalformedShare(BadRequest):
    code = "malformed_unseal_key"
    title = "The unseal key is not a key share"


def check_config(shares: int, threshold: int) -> None:
    """Vault's rules for a seal configuration."""
    if shares < 1:
        raise InvalidSealConfig("there must be at least one key share")
    if shares > MAX_SHARES:
        raise InvalidSealConfig(f"there can be at most {MAX_SHARES} key shares")
    if threshold < 1:
        raise InvalidSealConfig("the threshold must be at least one")
    if threshold > shares:
        raise InvalidSealConfig("the threshold cannot be larger than the number of key shares")
    if shares > 1 and threshold == 1:
        raise InvalidSealConfig("with more than one key share the threshold must be at least two")


def split(root_key: bytes, shares: int, threshold: int) -> list[bytes]:
    """`shares` key shares of `root_key`, any `threshold` of which rebuild it."""
    check_config(shares, threshold)
    if len(root_key) != ROOT_KEY_BYTES:
        raise ValueError("the root key must be 32 bytes")
    low = Shamir.split(threshold, shares, root_key[:_HALF])
    high = Shamir.split(threshold, shares, root_key[_HALF:])
    return [bytes([index]) + first + second for (index, first), (_, second) in zip(low, high, strict=True)]


def combine(shares: Sequence[bytes]) -> bytes:
    """The root key the shares rebuild; a wrong share rebuilds a wrong key (the caller checks it)."""
    low = [(share[0], share[1 : 1 + _HALF]) for share in shares]
    high = [(share[0], share[1 + _HALF :]) for share in shares]
    return Shamir.combine(low) + Shamir.combine(high)


def decode_share(text: str) -> bytes:
    """A share from its hex or base64 form (as Vault, hex first)."""
    text = text.strip()
    share: bytes | None = None
    try:
        share = bytes.fromhex(text)
    except ValueError:
        try:
            share = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            share = None
    if share is None or len(share) != SHARE_BYTES or share[0] == 0:
        raise MalformedShare("an unseal key is the hex or base64 text of one share that `init` returned")
    return share


def texts(shares: Sequence[bytes]) -> tuple[list[str], list[str]]:
    """The shares as Vault answers them: hex (`keys`) and base64 (`keys_base64`), in one order."""
    return [share.hex() for share in shares], [base64.b64encode(share).decode() for share in shares]
