"""The key hierarchy of an unsealed vault, held in this process's memory only.

```
root key (32 B)      rebuilt from unseal key shares; never stored; checked against `root_check`
 └─ KEK v1, v2, …    key-encryption keys, stored wrapped by the root key (`kek_versions`)
     └─ DEK          a fresh data key per record, stored wrapped by the KEK inside the record
```

Every layer is AES-256-GCM-SIV with a random 12-byte nonce (nonce-misuse resistant, so even a
repeated nonce would not leak the key). Associated data binds each ciphertext to what it is:
a KEK to its version, a record's DEK and body to the record's format, KEK version and place
(mount, path, version; `ciphers.place`). A record moved to another place, or any byte of it
changed, fails to open with `RecordIntegrityFailed` and never yields another record's value.

Records that many requests open (transit key versions) are kept opened while the vault stays
unsealed (`Keyring.open_kept`), by their ciphertext and place: a record altered or moved is not
the one kept, and opens (or fails to) as any other.

Sealing wipes the keys: the byte arrays are zeroed and dropped, and so are the records kept
opened. (CPython may still hold copies
for a while, e.g. inside the cipher objects of operations in progress; they are never logged,
never stored and never part of an error.)

A record:

```
format (1 B, 1) | KEK version (4 B) | nonce + DEK sealed by the KEK (60 B) | nonce + body + tag
```
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV

from assay_common.errors import AssayError, Sealed, Unavailable

KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
RECORD_FORMAT = 1
_HEADER_BYTES = 1 + 4
_WRAPPED_KEY_BYTES = NONCE_BYTES + KEY_BYTES + TAG_BYTES
_SMALLEST_RECORD = _HEADER_BYTES + _WRAPPED_KEY_BYTES + NONCE_BYTES + TAG_BYTES
#: The most records `Keyring.open_kept` keeps (the least recently used go first).
MAX_KEPT = 1024

T = TypeVar("T")

_ROOT_CHECK_AAD = b"assay.vault/root-check/v1"
_ROOT_CHECK_TEXT = b"the root key of this vault"
_KEK_AAD = b"assay.vault/kek/v1\x00"
_DEK_AAD = b"assay.vault/dek/v1\x00"
_BODY_AAD = b"assay.vault/record/v1\x00"


class RecordIntegrityFailed(AssayError):
    """A stored ciphertext does not open: altered, truncated, or moved from another place."""

    status = 500
    code = "record_integrity_failed"
    title = "A stored record failed its integrity check"


class KeyVersionNotLoaded(Unavailable):
    """A record names a KEK newer than this replica knows: rotated on another replica a moment
    ago. The replica loads it; the request may be sent again."""

    code = "key_version_not_loaded"
    title = "The key that sealed this record is not loaded yet"


class _Unopenable(Exception):
    """An AEAD ciphertext that does not open under the key and associated data given."""


def aead_seal(key: bytes | bytearray, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCMSIV(bytes(key)).encrypt(nonce, plaintext, aad)


def aead_open(key: bytes | bytearray, sealed: bytes, aad: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + TAG_BYTES:
        raise _Unopenable
    try:
        return AESGCMSIV(bytes(key)).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise _Unopenable from None


def new_key() -> bytearray:
    return bytearray(os.urandom(KEY_BYTES))


def root_check(root_key: bytes | bytearray) -> bytes:
    """A value that proves a candidate root key right (stored at init; opens only under the key)."""
    return aead_seal(root_key, _ROOT_CHECK_TEXT, _ROOT_CHECK_AAD)


def root_key_matches(root_key: bytes | bytearray, check: bytes) -> bool:
    try:
        return aead_open(root_key, check, _ROOT_CHECK_AAD) == _ROOT_CHECK_TEXT
    except _Unopenable:
        return False


def _kek_aad(version: int) -> bytes:
    return _KEK_AAD + version.to_bytes(4, "big")


def wrap_kek(root_key: bytes | bytearray, version: int, kek: bytes | bytearray) -> bytes:
    return aead_seal(root_key, bytes(kek), _kek_aad(version))


def unwrap_kek(root_key: bytes | bytearray, version: int, wrapped: bytes) -> bytearray:
    """The KEK of `version`; `RecordIntegrityFailed` if its stored form was altered or moved."""
    try:
        kek = aead_open(root_key, wrapped, _kek_aad(version))
    except _Unopenable:
        raise RecordIntegrityFailed(f"key-encryption key version {version} does not open") from None
    if len(kek) != KEY_BYTES:
        raise RecordIntegrityFailed(f"key-encryption key version {version} has the wrong size")
    return bytearray(kek)


def record_kek_version(ciphertext: bytes) -> int | None:
    """The KEK version a record names in its header; None if it is not a record of this format."""
    if len(ciphertext) < _HEADER_BYTES or ciphertext[0] != RECORD_FORMAT:
        return None
    return int.from_bytes(ciphertext[1:_HEADER_BYTES], "big")


def _wipe(key: bytearray) -> None:
    key[:] = bytes(len(key))


@dataclass
class _Keys:
    root: bytearray
    keks: dict[int, bytearray]
    #: The seal epoch this replica was unsealed in: a seal anywhere raises the stored epoch.
    epoch: int
    #: Records this replica sealed under each KEK version since it was unsealed.
    encryptions: dict[int, int] = field(default_factory=dict)
    #: What `Keyring.open_kept` built, the most recently used last.
    kept: OrderedDict[tuple[bytes, bytes, str], Any] = field(default_factory=OrderedDict)

    @property
    def current(self) -> int:
        return max(self.keks)


class Keyring:
    """The running vault's keys (`RecordCipher`): empty while sealed, filled by unsealing."""

    def __init__(self) -> None:
        self._keys: _Keys | None = None
        #: Called with a KEK version a record names that is newer than any loaded (to load it).
        self.on_unknown_version: Callable[[int], None] | None = None

    @property
    def sealed(self) -> bool:
        return self._keys is None

    @property
    def epoch(self) -> int | None:
        """The seal epoch of the unsealing; None while sealed."""
        return None if self._keys is None else self._keys.epoch

    @property
    def kek_version(self) -> int | None:
        """The KEK version new records are sealed with; None while sealed."""
        return None if self._keys is None else self._keys.current

    def _unsealed(self) -> _Keys:
        if self._keys is None:
            raise Sealed("the vault is sealed; unseal it with the unseal keys")
        return self._keys

    def install(self, root_key: bytearray, wrapped_keks: Mapping[int, bytes], epoch: int) -> None:
        """Unseal with a verified root key and every stored KEK version."""
        if not wrapped_keks:
            raise RecordIntegrityFailed("the vault has no key-encryption key")
        keks = {version: unwrap_kek(root_key, version, wrapped) for version, wrapped in wrapped_keks.items()}
        self.wipe()
        self._keys = _Keys(root_key, keks, epoch)

    def wipe(self) -> None:
        """Seal: forget every key."""
        keys, self._keys = self._keys, None
        if keys is not None:
            _wipe(keys.root)
            for kek in keys.keks.values():
                _wipe(kek)

    def encryptions(self, version: int) -> int:
        """Records this replica sealed under KEK `version` since it was unsealed (0 while sealed)."""
        return 0 if self._keys is None else self._keys.encryptions.get(version, 0)

    def knows(self, version: int) -> bool:
        return self._keys is not None and version in self._keys.keks

    def add_kek(self, version: int, wrapped: bytes) -> None:
        """Load a KEK version made after unsealing (a rotation); new records use the newest."""
        keys = self._unsealed()
        if version not in keys.keks:
            keys.keks[version] = unwrap_kek(keys.root, version, wrapped)

    def new_kek(self, version: int) -> bytes:
        """A fresh KEK for `version`, wrapped by the root key, to be stored (then `add_kek`)."""
        keys = self._unsealed()
        kek = new_key()
        try:
            return wrap_kek(keys.root, version, kek)
        finally:
            _wipe(kek)

    # ---- RecordCipher ------------------------------------------------------------------------

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        keys = self._unsealed()
        version = keys.current
        header = bytes([RECORD_FORMAT]) + version.to_bytes(4, "big")
        dek = new_key()
        try:
            wrapped = aead_seal(keys.keks[version], bytes(dek), _DEK_AAD + header + aad)
            body = aead_seal(dek, plaintext, _BODY_AAD + header + aad)
        finally:
            _wipe(dek)
        keys.encryptions[version] = keys.encryptions.get(version, 0) + 1
        return header + wrapped + body

    def reseal(self, ciphertext: bytes, aad: bytes) -> bytes:
        """`ciphertext` sealed again under the current KEK with a fresh DEK (a rewrap after a
        rotation). The KEK version is part of the body's associated data, so the body is
        encrypted again too; the plaintext exists only inside this call."""
        return self.seal(self.open(ciphertext, aad), aad)

    def open_kept(self, ciphertext: bytes, aad: bytes, kind: str, build: Callable[[bytes], T]) -> T:
        keys = self._unsealed()
        entry = (ciphertext, aad, kind)
        if entry in keys.kept:
            keys.kept.move_to_end(entry)
            return cast(T, keys.kept[entry])
        built = build(self.open(ciphertext, aad))
        keys.kept[entry] = built
        if len(keys.kept) > MAX_KEPT:
            keys.kept.popitem(last=False)
        return built

    def open(self, ciphertext: bytes, aad: bytes) -> bytes:
        keys = self._unsealed()
        if len(ciphertext) < _SMALLEST_RECORD or ciphertext[0] != RECORD_FORMAT:
            raise RecordIntegrityFailed("the stored record is not one this vault sealed")
        header = ciphertext[:_HEADER_BYTES]
        version = int.from_bytes(header[1:], "big")
        kek = keys.keks.get(version)
        if kek is None:
            if version > keys.current:
                if self.on_unknown_version is not None:
                    self.on_unknown_version(version)
                raise KeyVersionNotLoaded(f"key-encryption key version {version} is loading; try again")
            raise RecordIntegrityFailed("the stored record names a key-encryption key that does not exist")
        wrapped = ciphertext[_HEADER_BYTES : _HEADER_BYTES + _WRAPPED_KEY_BYTES]
        body = ciphertext[_HEADER_BYTES + _WRAPPED_KEY_BYTES :]
        try:
            dek = bytearray(aead_open(kek, wrapped, _DEK_AAD + header + aad))
            try:
                return aead_open(dek, body, _BODY_AAD + header + aad)
            finally:
                _wipe(dek)
        except _Unopenable:
            raise RecordIntegrityFailed(
                "the stored record does not open here: it was altered or belongs elsewhere"
            ) from None
