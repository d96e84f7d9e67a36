"""What stores secrets at rest need from the key hierarchy: sealing a record to where it lives.

The keyring (`keyring.Keyring`) implements this once the vault is unsealed: each record gets a data
key of its own, wrapped by the current key-encryption key, and the associated data binds the
ciphertext to its place (mount, path, version), so a row copied elsewhere fails to open.
"""

from __future__ import annotations

from typing import Protocol


class RecordCipher(Protocol):
    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """`plaintext` encrypted for the place `aad` names; `Sealed` (503) while the vault is sealed."""
        ...

    def open(self, ciphertext: bytes, aad: bytes) -> bytes:
        """The plaintext of a record sealed for `aad`; `Sealed` (503) while sealed, and an integrity
        error (never another record's value) when the ciphertext was altered or moved."""
        ...


def place(*parts: str | int) -> bytes:
    """Associated data naming where a record lives, e.g. `place("kv", mount, path, version)`.

    Each part is length-prefixed, so no two different places encode alike (`("a/b", "c")` and
    `("a", "b/c")` differ) whatever characters paths hold."""
    encoded = bytearray()
    for part in parts:
        raw = str(part).encode()
        encoded += len(raw).to_bytes(4, "big") + raw
    return bytes(encoded)
