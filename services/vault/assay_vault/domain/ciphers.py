"""What stores secrets at rest need from the key hierarchy: sealing a record to where it lives.

The keyring (`keyring.Keyring`) implements this once the vault is unsealed: each record gets a data
key of its own, wrapped by the current key-encryption key, and the associated data binds the
ciphertext to its place (mount, path, version), so a row copied elsewhere fails to open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

T = TypeVar("T")


class RecordCipher(Protocol):
    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """`plaintext` encrypted for the place `aad` names; `Sealed` (503) while the vault is sealed."""
        ...

    def open(self, ciphertext: bytes, aad: bytes) -> bytes:
        """The plaintext of a record sealed for `aad`; `Sealed` (503) while sealed, and an integrity
        error (never another record's value) when the ciphertext was altered or moved."""
        ...

    def open_kept(self, ciphertext: bytes, aad: bytes, kind: str, build: Callable[[bytes], T]) -> T:
        """`build` of the record's plaintext (`open`), kept in memory until the vault is sealed:
        the same record opened again for the same place, as the same `kind` of thing, is not
        decrypted again. For keys that many requests use (transit key versions); an altered or
        moved record is a different one, and fails to open as with `open`."""
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
