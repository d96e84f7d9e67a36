"""Transit: encryption as a service with the semantics of Vault's transit engine.

Named keys live in a mount of type `transit`. A key has a type (`KEY_TYPES`) and versions 1, 2, …:
`rotate` adds one, `trim` deletes the oldest for good, and `min_decryption_version`,
`min_encryption_version` and `min_available_version` bound which versions an operation may use,
with Vault's rules. Ciphertexts, signatures and HMACs name the version that made them:
`vault:v<N>:<base64>` (AEAD types: `nonce ‖ ciphertext ‖ tag`).

Every operation mirrors one of Vault's transit endpoints: its parameters keep Vault's names and
defaults, and its errors carry Vault's messages (the `/v1` dialect shows `detail` as Vault's
error text). Data in and out is base64 text, as in Vault's API, so that both dialects parse
nothing themselves and per-item errors of a batch (a bad base64 input, a tampered ciphertext)
are decided here, once.

- Errors of the request as a whole raise: `TransitKeyNotFound` (404; Vault answers 400 with the
  same message on the operation endpoints and 404 on a key read), `TransitInvalid` and its
  subclasses (400), `TransitKeyExists` (409), `Sealed` (503), `MountNotFound` (404, also for a
  mount of another engine).
- Errors of one item of a batch do not raise: the item's `Outcome.error` holds the
  `TransitInvalid` that a single request raises (`Batch.only`).

Each key version's material is sealed by the keyring, bound to `place("transit", mount, name,
version)`, together with the key's type: a row altered, or moved to another key, version or type,
fails to open (`RecordIntegrityFailed`, 500) and never yields another key. Material is opened from
the store for each operation and never cached, logged, or put in an error or event.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac as hmac_module
import logging
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncConnection

from assay_common.db import Database, Transaction, utcnow
from assay_common.errors import Conflict, Invalid, NotFound, Sealed
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.vault import (
    TransitKeyConfigWritten,
    TransitKeyCreated,
    TransitKeyDeleted,
    TransitKeyRestored,
    TransitKeyRotated,
    TransitKeyTrimmed,
)
from assay_vault.domain.ciphers import place
from assay_vault.domain.kv_mounts import (
    MAX_SETTING,
    TRANSIT_ENGINE,
    Keys,
    MountNotFound,
    could_be_mount,
    require_unsealed,
)
from assay_vault.domain.transit_keys import (
    HASHES,
    SALT_LENGTH_AUTO,
    SALT_LENGTH_HASH,
    TYPES,
    CryptoError,
    KeyType,
    Material,
    Signing,
    decode_base64,
    digest,
    encode_base64,
    generate,
    mac,
    material_is_valid,
    pack,
    unpack,
)
from assay_vault.store import kv_mounts as mounts_store
from assay_vault.store import transit as store
from assay_vault.store.transit import KeyRow, VersionRow

log = logging.getLogger("assay.vault.transit")

#: Key types, Vault's names.
KEY_TYPES = (
    "aes128-gcm96",
    "aes256-gcm96",
    "chacha20-poly1305",
    "ecdsa-p256",
    "ecdsa-p384",
    "ecdsa-p521",
    "ed25519",
    "rsa-2048",
    "rsa-3072",
    "rsa-4096",
    "hmac",
)
DEFAULT_KEY_TYPE = "aes256-gcm96"
#: Hash algorithms of `hash` and `hmac`.
HASH_ALGORITHMS = (
    "sha2-224",
    "sha2-256",
    "sha2-384",
    "sha2-512",
    "sha3-224",
    "sha3-256",
    "sha3-384",
    "sha3-512",
)
#: Hash algorithms of `sign` and `verify` (`none`: prehashed RSA PKCS#1 v1.5 only).
SIGNATURE_HASH_ALGORITHMS = ("sha1", *HASH_ALGORITHMS, "none")
DEFAULT_HASH_ALGORITHM = "sha2-256"
#: The most bytes `random` answers (Vault's limit).
MAX_RANDOM_BYTES = 128 * 1024
#: The most items of one batch.
MAX_BATCH_ITEMS = 10_000
#: HMAC key sizes in bytes (Vault's bounds; the default is 32).
HMAC_MIN_KEY_SIZE = 32
HMAC_MAX_KEY_SIZE = 512
#: The shortest automatic rotation period (Vault's), in seconds.
MIN_AUTO_ROTATE_PERIOD = 3600
#: The prefix of ciphertexts, signatures and HMACs before the version number.
VERSION_PREFIX = "vault:v"


class TransitKeyNotFound(NotFound):
    code = "transit_key_not_found"
    title = "No such transit key"


class TransitKeyExists(Conflict):
    code = "transit_key_exists"
    title = "A transit key of that name exists"


class TransitInvalid(Invalid):
    """A request transit cannot carry out as asked (Vault's 400 with its message)."""

    status = 400
    code = "invalid_transit_request"
    title = "Invalid transit request"


class InvalidCiphertext(TransitInvalid):
    """A ciphertext, signature or HMAC that is malformed, of an unusable version, or does not
    open (wrong key, context or associated data; altered; truncated)."""

    code = "invalid_ciphertext"
    title = "Invalid ciphertext"


class DeletionNotAllowed(TransitInvalid):
    code = "deletion_not_allowed"
    title = "Deletion is not allowed for this key"


class BackupNotAllowed(TransitInvalid):
    code = "backup_not_allowed"
    title = "The key may not be backed up"


class InvalidBackup(TransitInvalid):
    code = "invalid_backup"
    title = "Invalid transit key backup"


# ---- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyOptions:
    """Vault's parameters of `POST {mount}/keys/{name}` (creation)."""

    type: str = DEFAULT_KEY_TYPE
    derived: bool = False
    convergent_encryption: bool = False
    exportable: bool = False
    allow_plaintext_backup: bool = False
    #: Bytes of an `hmac` key (0: 32); only valid for `hmac`.
    key_size: int = 0
    #: Seconds; 0 (never) or at least `MIN_AUTO_ROTATE_PERIOD`.
    auto_rotate_period: int = 0


@dataclass(frozen=True)
class KeyVersionInfo:
    version: int
    created_at: datetime
    #: Asymmetric keys: what Vault's key document names the key (`P-256`, `ed25519`,
    #: `rsa-2048`, …); None for symmetric keys.
    name: str | None = None
    #: Asymmetric keys: the public key, PEM (SubjectPublicKeyInfo) or, for ed25519, base64 of
    #: its 32 bytes ("" for a derived ed25519 key read without a context); None otherwise.
    public_key: str | None = None


@dataclass(frozen=True)
class BackupInfo:
    """When a key was backed up or restored, and its latest version then."""

    time: datetime
    version: int


@dataclass(frozen=True)
class TransitKey:
    """A key as Vault's `GET {mount}/keys/{name}` describes it."""

    name: str
    type: str
    derived: bool
    convergent_encryption: bool
    exportable: bool
    allow_plaintext_backup: bool
    deletion_allowed: bool
    min_decryption_version: int
    min_encryption_version: int
    min_available_version: int
    latest_version: int
    #: Seconds; 0: never.
    auto_rotate_period: int
    #: Bytes of an `hmac` key; 0 for other types (Vault omits it then).
    key_size: int
    supports_encryption: bool
    supports_decryption: bool
    supports_derivation: bool
    supports_signing: bool
    #: `hkdf_sha256` for derived keys, else None (Vault omits it).
    kdf: str | None
    #: 3 for convergent keys, else None (Vault omits it).
    convergent_encryption_version: int | None
    backup_info: BackupInfo | None
    restore_info: BackupInfo | None
    #: Vault's `keys`: the versions from `min_decryption_version` to `latest_version` (an `hmac`
    #: key has none to show: Vault leaves `keys` out).
    versions: list[KeyVersionInfo]
    created_at: datetime
    updated_at: datetime

    @property
    def asymmetric(self) -> bool:
        return self.supports_signing


@dataclass(frozen=True)
class KeyCreated:
    key: TransitKey
    #: False when a key of that name existed: it is answered unchanged (Vault: 200 with the
    #: warning "key <name> already existed").
    created: bool


@dataclass(frozen=True)
class KeyConfigChanges:
    """Vault's parameters of `POST {mount}/keys/{name}/config`: what is None stays as it is."""

    min_decryption_version: int | None = None
    min_encryption_version: int | None = None
    deletion_allowed: bool | None = None
    #: Only turns on: False once on changes nothing (as Vault).
    exportable: bool | None = None
    #: Only turns on: False once on changes nothing (as Vault).
    allow_plaintext_backup: bool | None = None
    auto_rotate_period: int | None = None


@dataclass(frozen=True)
class KeyConfigured:
    key: TransitKey
    #: Vault's warnings, e.g. a `min_decryption_version` of 0 forced to 1.
    warnings: list[str] = field(default_factory=list)


# ---- batches ---------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    """One item of a batch: its value or its error, and the caller's `reference`."""

    reference: str = ""
    value: T | None = None
    error: TransitInvalid | None = None


@dataclass(frozen=True)
class Batch(Generic[T]):
    """The outcomes of a batch, in the order of its items."""

    items: list[Outcome[T]]
    #: Vault's warnings of the whole request.
    warnings: list[str] = field(default_factory=list)

    def only(self) -> T:
        """The value of a request of one item (not a batch), or its error raised."""
        outcome = self.items[0]
        if outcome.error is not None:
            raise outcome.error
        assert outcome.value is not None
        return outcome.value

    @property
    def failed(self) -> bool:
        return any(item.error is not None for item in self.items)

    @property
    def succeeded(self) -> bool:
        """Whether some item succeeded (Vault's `partial_failure_response_code` applies then)."""
        return any(item.error is None for item in self.items)


@dataclass(frozen=True)
class EncryptItem:
    """One plaintext to encrypt; every field is Vault's (base64 text where Vault's is)."""

    plaintext: str
    context: str = ""
    #: 0: the latest version.
    key_version: int = 0
    associated_data: str = ""
    nonce: str = ""
    reference: str = ""


@dataclass(frozen=True)
class DecryptItem:
    ciphertext: str
    context: str = ""
    associated_data: str = ""
    nonce: str = ""
    reference: str = ""


@dataclass(frozen=True)
class RewrapItem:
    ciphertext: str
    context: str = ""
    #: The version to encrypt with again; 0: the latest.
    key_version: int = 0
    associated_data: str = ""
    nonce: str = ""
    reference: str = ""


@dataclass(frozen=True)
class KeyCreation:
    """How `encrypt` creates a key that does not exist (Vault's upsert): its type and whether it
    is convergent; it is derived when the request carries a context."""

    type: str = DEFAULT_KEY_TYPE
    convergent_encryption: bool = False


@dataclass(frozen=True)
class Encrypted:
    ciphertext: str
    key_version: int


@dataclass(frozen=True)
class Decrypted:
    #: Base64.
    plaintext: str


@dataclass(frozen=True)
class DataKey:
    ciphertext: str
    key_version: int
    #: Base64 of the new key; None for a `wrapped` data key.
    plaintext: str | None


@dataclass(frozen=True)
class HmacItem:
    #: Base64; None: missing (an error of the item, as Vault).
    input: str | None
    reference: str = ""


@dataclass(frozen=True)
class Hmac:
    hmac: str


@dataclass(frozen=True)
class SignItem:
    #: Base64; None: missing (an error of a batch item; a single request signs "" as Vault).
    input: str | None
    context: str = ""
    reference: str = ""


@dataclass(frozen=True)
class SignatureOptions:
    """Vault's signing parameters, shared by `sign` and `verify`."""

    hash_algorithm: str = DEFAULT_HASH_ALGORITHM
    prehashed: bool = False
    #: RSA: `pss` (also when "") or `pkcs1v15`.
    signature_algorithm: str = ""
    #: ECDSA: `asn1` or `jws`.
    marshaling_algorithm: str = "asn1"
    #: RSA PSS: `auto`, `hash` or a number of bytes.
    salt_length: str = "auto"


@dataclass(frozen=True)
class Signed:
    signature: str
    key_version: int
    #: Base64 of a derived ed25519 key's public key for the item's context; None otherwise.
    public_key: str | None = None


@dataclass(frozen=True)
class VerifyItem:
    """An input and the signature or HMAC to check against it (exactly one of the two)."""

    input: str | None
    signature: str | None = None
    hmac: str | None = None
    context: str = ""
    reference: str = ""


@dataclass(frozen=True)
class Verified:
    valid: bool


# ---- the engine --------------------------------------------------------------------------------

#: Key names: Vault's (a word character first and last; letters, digits, `_`, `-`, `.` between).
KEY_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,253}[A-Za-z0-9_])?$")
#: What identifies a backup blob, and the version of its format.
BACKUP_FORMAT = "assay.vault.transit.backup"
BACKUP_FORMAT_VERSION = 1
_TOO_OLD = "ciphertext or signature version is disallowed by policy (too old)"
_NO_SUCH_VERSION = "no such key version"
_MIN_DECRYPTION_WARNING = (
    "since Vault 0.3 (prior to the OpenBao fork), transit key numbering starts at 1; forcing minimum to 1"
)


def check_name(name: str) -> None:
    if "/" in name:
        raise TransitInvalid("key names cannot be paths")
    if not KEY_NAME_PATTERN.match(name):
        raise TransitInvalid(
            f"{name!r}: a key name is 1-255 letters, digits, '_', '-' or '.', starting and ending "
            "with a letter, digit or '_'"
        )


def _creation_kind(options: KeyOptions) -> KeyType:
    """The key type of a creation, checked in Vault's order with Vault's messages."""
    period = options.auto_rotate_period
    if period != 0 and not MIN_AUTO_ROTATE_PERIOD <= period <= MAX_SETTING:
        raise TransitInvalid("auto rotate period must be 0 to disable or at least an hour")
    if options.convergent_encryption and not options.derived:
        raise TransitInvalid("convergent encryption requires derivation to be enabled")
    kind = TYPES.get(options.type)
    if kind is None:
        raise TransitInvalid(f"unknown key type {options.type}")
    if options.key_size != 0:
        if kind.name != "hmac":
            raise TransitInvalid(f"key_size is not valid for algorithm {kind.name}")
        if not HMAC_MIN_KEY_SIZE <= options.key_size <= HMAC_MAX_KEY_SIZE:
            raise TransitInvalid(f"invalid key_size {options.key_size}")
    if kind.name == "ed25519" and options.convergent_encryption:
        raise TransitInvalid(f"convergent encryption not supported for keys of type {kind.name}")
    if not kind.derivation and (options.derived or options.convergent_encryption):
        raise TransitInvalid(
            f"key derivation and convergent encryption not supported for keys of type {kind.name}"
        )
    return kind


def _decoded(text: str, what: str = "") -> bytes:
    """Base64 `text`; `TransitInvalid` with Go's message (after `what`, when given) otherwise."""
    try:
        return decode_base64(text)
    except ValueError as error:
        raise TransitInvalid(f"{what}{error}") from None


def _context(text: str) -> bytes:
    try:
        return decode_base64(text)
    except ValueError:
        raise TransitInvalid("failed to base64-decode context") from None


def _versioned(text: str, what: str) -> tuple[int, str]:
    """The version and body of `vault:v<N>:<body>`; `InvalidCiphertext` with Vault's messages
    (`what`: "ciphertext", "signature" or "HMAC")."""
    if not text.startswith(VERSION_PREFIX):
        raise InvalidCiphertext(f"invalid {what}: no prefix")
    number, separator, body = text[len(VERSION_PREFIX) :].partition(":")
    if not separator:
        raise InvalidCiphertext(f"invalid {what}: wrong number of fields")
    if not re.fullmatch(r"[+-]?[0-9]{1,18}", number):
        raise InvalidCiphertext(f"invalid {what}: version number could not be decoded")
    return int(number), body


def _salt_length(text: str) -> int:
    """Vault's `salt_length` as Go's number: `auto` 0, `hash` -1, or the bytes given."""
    lowered = text.lower()
    if lowered == "auto":
        return SALT_LENGTH_AUTO
    if lowered == "hash":
        return SALT_LENGTH_HASH
    if not re.fullmatch(r"[+-]?[0-9]{1,9}", lowered):
        raise TransitInvalid(f"salt length neither 'auto', 'hash', nor an int: {text}")
    if int(lowered) < SALT_LENGTH_HASH:
        raise TransitInvalid(f"salt length is invalid: {int(lowered)}")
    return int(lowered)


def _signing(options: SignatureOptions) -> Signing:
    if options.hash_algorithm not in SIGNATURE_HASH_ALGORITHMS:
        raise TransitInvalid(f'invalid hash algorithm "{options.hash_algorithm}"')
    if options.marshaling_algorithm not in ("asn1", "jws"):
        raise TransitInvalid(f'invalid marshaling type "{options.marshaling_algorithm}"')
    return Signing(
        hash_algorithm=options.hash_algorithm,
        prehashed=options.prehashed,
        rsa_scheme=options.signature_algorithm or "pss",
        marshaling=options.marshaling_algorithm,
        salt_length=_salt_length(options.salt_length),
    )


def _check_signing(kind: KeyType, options: Signing, verb: str) -> None:
    if not kind.signing:
        raise TransitInvalid(f"key type {kind.name} does not support {verb}")
    if options.hash_algorithm == "none" and (not options.prehashed or options.rsa_scheme != "pkcs1v15"):
        raise TransitInvalid(
            "hash_algorithm=none requires both prehashed=true and signature_algorithm=pkcs1v15"
        )
    if kind.rsa_bits and options.rsa_scheme not in ("pss", "pkcs1v15"):
        raise TransitInvalid(f"unsupported rsa signature algorithm {options.rsa_scheme}")


def _check_batch(items: Sequence[object]) -> None:
    if not items:
        raise TransitInvalid("missing batch input to process")
    if len(items) > MAX_BATCH_ITEMS:
        raise TransitInvalid(f"a batch holds at most {MAX_BATCH_ITEMS} items")


def _same_context(contexts: Sequence[str]) -> None:
    if len({bool(context) for context in contexts}) > 1:
        raise TransitInvalid("context should be set either in all the request blocks or in none")


def _encode_signature(signature: bytes, marshaling: str) -> str:
    if marshaling == "jws":
        return base64.urlsafe_b64encode(signature).decode().rstrip("=")
    return encode_base64(signature)


def _decode_signature(text: str, marshaling: str) -> bytes:
    try:
        if marshaling == "jws":
            if not re.fullmatch(r"[A-Za-z0-9_-]*", text) or len(text) % 4 == 1:
                raise ValueError
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        return decode_base64(text)
    except (ValueError, binascii.Error):
        raise InvalidCiphertext("invalid base64 signature value") from None


@dataclass
class _Key:
    """A key as loaded for one operation: its row, and its versions' material opened on demand."""

    mount: str
    row: KeyRow
    versions: dict[int, VersionRow]
    keys: Keys
    opened: dict[int, Material] = field(default_factory=dict)

    @property
    def kind(self) -> KeyType:
        return TYPES[self.row.type]

    def material(self, version: int) -> Material:
        """The version's material; `TransitInvalid` ("no such key version") if it is gone."""
        if version not in self.opened:
            stored = self.versions.get(version)
            if stored is None or version < self.row.min_decryption_version:
                raise TransitInvalid(_NO_SUCH_VERSION)
            self.opened[version] = self.keys.open_kept(
                stored.sealed_key,
                _place(self.mount, self.row.name, version),
                self.row.type,
                lambda packed: unpack(packed, self.row.type),
            )
        return self.opened[version]

    def encryption_version(self, requested: int, verb: str = "encryption") -> int:
        """The version an encryption (or signing: `verb`) uses, with Vault's checks."""
        latest = self.row.latest_version
        if requested == 0:
            return latest
        if requested < 0:
            raise TransitInvalid(f"requested version for {verb} is negative")
        if requested > latest:
            raise TransitInvalid(f"requested version for {verb} is higher than the latest key version")
        if requested < self.row.min_encryption_version:
            raise TransitInvalid(
                f"requested version for {verb} is less than the minimum encryption key version"
            )
        return requested

    def decryption_version(self, version: int, what: str) -> int:
        if version > self.row.latest_version:
            raise InvalidCiphertext(f"invalid {what}: version is too new")
        if version < self.row.min_decryption_version:
            raise InvalidCiphertext(_TOO_OLD)
        return version

    def encrypted(
        self, requested: int, plaintext: bytes, context: bytes, associated_data: bytes | None, nonce: str
    ) -> Encrypted:
        """`plaintext` encrypted with version `requested` (0: the latest), with Vault's checks.
        A nonce is refused: Vault takes one only for convergent keys of its first scheme."""
        if not self.kind.encryption:
            raise TransitInvalid(f"message encryption not supported for key type {self.kind.name}")
        version = self.encryption_version(requested)
        if nonce:
            raise TransitInvalid("nonce provided when not allowed")
        return Encrypted(self._encrypt(version, plaintext, context, associated_data), version)

    def _encrypt(self, version: int, plaintext: bytes, context: bytes, associated_data: bytes | None) -> str:
        material = self.material(version)
        try:
            sealed = material.encrypt(
                plaintext,
                derived=self.row.derived,
                convergent=self.row.convergent_encryption,
                context=context,
                aad=associated_data,
            )
        except CryptoError as error:
            raise TransitInvalid(str(error)) from None
        return f"{VERSION_PREFIX}{version}:{encode_base64(sealed)}"

    def decrypt(self, ciphertext: str, context: bytes, associated_data: bytes | None) -> bytes:
        if not self.kind.encryption:
            raise TransitInvalid(f"message decryption not supported for key type {self.kind.name}")
        version, body = _versioned(ciphertext, "ciphertext")
        version = self.decryption_version(version or 1, "ciphertext")
        try:
            raw = decode_base64(body)
        except ValueError:
            raise InvalidCiphertext("invalid ciphertext: could not decode base64") from None
        material = self.material(version)
        try:
            return material.decrypt(raw, derived=self.row.derived, context=context, aad=associated_data)
        except CryptoError as error:
            raise InvalidCiphertext(str(error)) from None

    def hmac_version(self, requested: int) -> int:
        """The version an HMAC is made with (Vault's `hmac` checks and messages)."""
        row = self.row
        version = requested or row.latest_version
        if (
            version != row.latest_version
            and row.min_encryption_version > 0
            and version < row.min_encryption_version
        ):
            raise TransitInvalid("cannot generate HMAC: version is too old (disallowed by policy)")
        self.check_hmac_version(version)
        return version

    def check_hmac_version(self, version: int) -> None:
        if version < 0:
            raise TransitInvalid("key version does not exist (cannot be negative)")
        if version > self.row.latest_version:
            raise TransitInvalid(
                f"key version does not exist; latest key version is {self.row.latest_version}"
            )


def _place(mount: str, name: str, version: int) -> bytes:
    return place(TRANSIT_ENGINE, mount, name, version)


class Transit:
    """The transit engine of every `transit` mount."""

    def __init__(self, db: Database, outbox: Outbox, keys: Keys) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys

    # ---- keys --------------------------------------------------------------------------------

    async def create_key(self, mount: str, name: str, options: KeyOptions) -> KeyCreated:
        """Create the key `name` with its version 1 (Vault's `POST keys/{name}`). A key of that
        name is answered unchanged with `created=False`. `TransitInvalid` with Vault's messages:
        "unknown key type <t>", "convergent encryption requires derivation to be enabled",
        "key_size is not valid for algorithm <t>", "invalid key_size <n>", "auto rotate period
        must be 0 to disable or at least an hour", and (where Vault answers 500) "key derivation
        and convergent encryption not supported for keys of type <t>"."""
        require_unsealed(self.keys)
        check_name(name)
        kind = _creation_kind(options)
        async with self.db.read() as conn:
            await self._mount(conn, mount)
            existing = await store.get(conn, mount, name)
            if existing is not None:
                return KeyCreated(await self._describe(conn, existing), created=False)
        # Made outside the transaction: an RSA key takes a while.
        material = generate(kind, options.key_size or (HMAC_MIN_KEY_SIZE if kind.name == "hmac" else 0))
        now = utcnow()
        row = KeyRow(
            mount=mount,
            name=name,
            type=kind.name,
            derived=options.derived,
            convergent_encryption=options.convergent_encryption,
            exportable=options.exportable,
            allow_plaintext_backup=options.allow_plaintext_backup,
            deletion_allowed=False,
            min_decryption_version=1,
            min_encryption_version=0,
            min_available_version=0,
            latest_version=1,
            auto_rotate_period=options.auto_rotate_period,
            key_size=len(material.key) if kind.name == "hmac" else 0,
            backup_time=None,
            backup_version=None,
            restore_time=None,
            restore_version=None,
            created_at=now,
            updated_at=now,
        )
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            if not await store.insert(tx.conn, row):
                existing = await self._row(tx.conn, mount, name, f"key {name} not found")
                return KeyCreated(await self._describe(tx.conn, existing), created=False)
            stored = await self._add_version(tx, row, 1, material, now)
            await self.outbox.add(
                tx,
                TransitKeyCreated(
                    mount=mount,
                    name=name,
                    type=kind.name,
                    derived=row.derived,
                    convergent_encryption=row.convergent_encryption,
                    exportable=row.exportable,
                    allow_plaintext_backup=row.allow_plaintext_backup,
                ),
                subject=_subject(mount, name),
            )
        return KeyCreated(self._document(row, {1: stored}, {}), created=True)

    async def read_key(self, mount: str, name: str, context: str = "") -> TransitKey:
        """The key `name` (`TransitKeyNotFound` if none). `context` (base64) gives a derived
        ed25519 key's public keys for that context."""
        require_unsealed(self.keys)
        decoded = _context(context) if context else b""
        async with self.db.read() as conn:
            await self._mount(conn, mount)
            row = await self._row(conn, mount, name, f"no transit key named {name!r}")
            return await self._describe(conn, row, decoded)

    async def list_keys(self, mount: str) -> list[str]:
        """The names of the mount's keys, sorted (empty when it has none)."""
        require_unsealed(self.keys)
        async with self.db.read() as conn:
            await self._mount(conn, mount)
            return await store.names(conn, mount)

    async def delete_key(self, mount: str, name: str) -> None:
        """Delete the key and every version, for good. `DeletionNotAllowed` ("deletion is not
        allowed for this key") unless its `deletion_allowed`; `TransitKeyNotFound` if none."""
        require_unsealed(self.keys)
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            message = f"error deleting policy {name}: could not delete key; not found"
            row = await self._row(tx.conn, mount, name, message, for_update=True)
            if not row.deletion_allowed:
                raise DeletionNotAllowed(
                    f"error deleting policy {name}: deletion is not allowed for this key"
                )
            await store.delete(tx.conn, mount, name)
            await self.outbox.add(
                tx, TransitKeyDeleted(mount=mount, name=name), subject=_subject(mount, name)
            )

    async def configure_key(self, mount: str, name: str, changes: KeyConfigChanges) -> KeyConfigured:
        """Vault's `POST keys/{name}/config`, with its checks and messages (e.g. "cannot set min
        decryption version of 5, latest key version is 3")."""
        require_unsealed(self.keys)
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            row = await self._row(
                tx.conn, mount, name, f"no existing key named {name} could be found", for_update=True
            )
            updated, warnings = _configured(row, changes)
            if updated != row:
                updated = replace(updated, updated_at=utcnow())
                await store.update(tx.conn, mount, name, _changed(row, updated))
                await self.outbox.add(
                    tx,
                    TransitKeyConfigWritten(
                        mount=mount,
                        name=name,
                        min_decryption_version=updated.min_decryption_version,
                        min_encryption_version=updated.min_encryption_version,
                        deletion_allowed=updated.deletion_allowed,
                        exportable=updated.exportable,
                        allow_plaintext_backup=updated.allow_plaintext_backup,
                        auto_rotate_period_seconds=updated.auto_rotate_period,
                    ),
                    subject=_subject(mount, name),
                )
            return KeyConfigured(await self._describe(tx.conn, updated), warnings)

    async def rotate_key(self, mount: str, name: str) -> TransitKey:
        """Add the next version, with which encryption and signing proceed by default."""
        require_unsealed(self.keys)
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            row = await self._row(tx.conn, mount, name, "key not found", for_update=True)
            return await self._describe(tx.conn, await self._rotate(tx, row, utcnow()))

    async def _rotate(self, tx: Transaction, row: KeyRow, now: datetime) -> KeyRow:
        """A new latest version of the key, made as of `now`."""
        version = row.latest_version + 1
        if version > MAX_SETTING:
            raise TransitInvalid("the key has as many versions as it can hold")
        await self._add_version(tx, row, version, generate(TYPES[row.type], row.key_size), now)
        await store.update(tx.conn, row.mount, row.name, {"latest_version": version, "updated_at": now})
        await self.outbox.add(
            tx,
            TransitKeyRotated(mount=row.mount, name=row.name, latest_version=version),
            subject=_subject(row.mount, row.name),
        )
        return replace(row, latest_version=version, updated_at=now)

    async def rotate_due(self, now: datetime) -> list[tuple[str, str]]:
        """Rotate every key whose `auto_rotate_period` has passed since its latest version was
        made, as of `now`; the keys rotated. Each is checked again under its lock, so replicas
        doing this at once rotate a key once."""
        require_unsealed(self.keys)
        async with self.db.read() as conn:
            candidates = await store.auto_rotating(conn)
        rotated: list[tuple[str, str]] = []
        for key in candidates:
            if key.latest_at + timedelta(seconds=key.period) > now:
                continue
            async with self.db.transaction() as tx:
                row = await store.get(tx.conn, key.mount, key.name, for_update=True)
                if row is None or (row.latest_version, row.auto_rotate_period) != (
                    key.latest_version,
                    key.period,
                ):
                    continue  # rotated or reconfigured meanwhile, here or elsewhere
                # As of `now`: a replica that reads the key after this rotation sees a version made
                # then, not due again until another period has passed on the same clock.
                await self._rotate(tx, row, now)
            rotated.append((key.mount, key.name))
        return rotated

    async def keep_rotating(self, every_seconds: float) -> None:
        """`rotate_due` every `every_seconds` while unsealed, until cancelled (a background loop
        on every replica)."""
        while True:
            await asyncio.sleep(every_seconds)
            if self.keys.sealed:
                continue
            try:
                rotated = await self.rotate_due(utcnow())
            except Sealed:
                continue  # sealed meanwhile
            for mount, name in rotated:
                log.info("transit key %s/%s rotated: its automatic rotation period had passed", mount, name)

    async def trim_key(self, mount: str, name: str, min_available_version: int) -> TransitKey:
        """Delete the versions below `min_available_version` for good (Vault's `trim`, with its
        rules: at most `min_encryption_version` (which must be set) and
        `min_decryption_version`, never decremented)."""
        require_unsealed(self.keys)
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            row = await self._row(tx.conn, mount, name, "invalid key name", for_update=True)
            _check_trim(row, min_available_version)
            now = utcnow()
            await store.delete_versions_below(tx.conn, mount, name, min_available_version)
            trimmed = replace(row, min_available_version=min_available_version, updated_at=now)
            await store.update(
                tx.conn, mount, name, {"min_available_version": min_available_version, "updated_at": now}
            )
            await self.outbox.add(
                tx,
                TransitKeyTrimmed(mount=mount, name=name, min_available_version=min_available_version),
                subject=_subject(mount, name),
            )
            return await self._describe(tx.conn, trimmed)

    # ---- encryption --------------------------------------------------------------------------

    async def encrypt(
        self, mount: str, name: str, items: Sequence[EncryptItem], *, create: KeyCreation | None = None
    ) -> Batch[Encrypted]:
        """Encrypt each item. A missing key is created from `create` when given (Vault's upsert;
        a warning when it existed after all), else `TransitKeyNotFound` ("encryption key not
        found"). A context in some items but not all: `TransitInvalid` ("context should be set
        either in all the request blocks or in none")."""
        require_unsealed(self.keys)
        _check_batch(items)
        _same_context([item.context for item in items])
        warnings: list[str] = []
        key = await self._load(mount, name, "encryption key not found", missing_ok=create is not None)
        if key is None:
            assert create is not None
            key = await self._upsert(mount, name, create, derived=bool(items[0].context), warnings=warnings)
        outcomes = [self._encrypt_one(key, index, item) for index, item in enumerate(items)]
        return Batch(outcomes, warnings)

    def _encrypt_one(self, key: _Key, index: int, item: EncryptItem) -> Outcome[Encrypted]:
        try:
            plaintext = _decoded(item.plaintext)
            context = _decoded(item.context) if item.context else b""
            associated_data = self._associated_data(key, index, item.associated_data)
            encrypted = key.encrypted(item.key_version, plaintext, context, associated_data, item.nonce)
            return Outcome(item.reference, encrypted)
        except TransitInvalid as error:
            return Outcome(item.reference, error=error)

    async def decrypt(self, mount: str, name: str, items: Sequence[DecryptItem]) -> Batch[Decrypted]:
        """Decrypt each item; a malformed, too old (`min_decryption_version`), too new, altered
        or truncated ciphertext, or a wrong context or associated data, is the item's
        `InvalidCiphertext`."""
        require_unsealed(self.keys)
        _check_batch(items)
        _same_context([item.context for item in items])
        key = await self._require(mount, name, "encryption key not found")
        return Batch([self._decrypt_one(key, index, item) for index, item in enumerate(items)])

    def _decrypt_one(self, key: _Key, index: int, item: DecryptItem) -> Outcome[Decrypted]:
        try:
            if not item.ciphertext:
                raise TransitInvalid("missing ciphertext to decrypt")
            context = _decoded(item.context) if item.context else b""
            if item.nonce:
                _decoded(item.nonce)
            associated_data = self._associated_data(key, index, item.associated_data)
            plaintext = key.decrypt(item.ciphertext, context, associated_data)
            return Outcome(item.reference, Decrypted(encode_base64(plaintext)))
        except TransitInvalid as error:
            return Outcome(item.reference, error=error)

    async def rewrap(self, mount: str, name: str, items: Sequence[RewrapItem]) -> Batch[Encrypted]:
        """Decrypt each ciphertext and encrypt its plaintext again with `key_version` (0: the
        latest); the plaintext never leaves this call."""
        require_unsealed(self.keys)
        _check_batch(items)
        _same_context([item.context for item in items])
        key = await self._require(mount, name, "encryption key not found")
        return Batch([self._rewrap_one(key, index, item) for index, item in enumerate(items)])

    def _rewrap_one(self, key: _Key, index: int, item: RewrapItem) -> Outcome[Encrypted]:
        try:
            if not item.ciphertext:
                raise TransitInvalid("missing ciphertext to decrypt")
            context = _decoded(item.context) if item.context else b""
            associated_data = self._associated_data(key, index, item.associated_data)
            plaintext = key.decrypt(item.ciphertext, context, associated_data)
            encrypted = key.encrypted(item.key_version, plaintext, context, associated_data, item.nonce)
            return Outcome(item.reference, encrypted)
        except TransitInvalid as error:
            return Outcome(item.reference, error=error)

    async def datakey(
        self,
        mount: str,
        name: str,
        kind: Literal["plaintext", "wrapped"],
        *,
        bits: int = 256,
        context: str = "",
        nonce: str = "",
        key_version: int = 0,
        associated_data: str = "",
    ) -> DataKey:
        """A new random key of `bits` (128, 256 or 512) encrypted by the key; with its
        plaintext when `kind` is `plaintext`."""
        require_unsealed(self.keys)
        if kind not in ("plaintext", "wrapped"):
            raise TransitInvalid("Invalid path, must be 'plaintext' or 'wrapped'")
        decoded_context = _context(context) if context else b""
        if nonce:
            try:
                decode_base64(nonce)
            except ValueError:
                raise TransitInvalid("failed to base64-decode nonce") from None
        key = await self._require(mount, name, "encryption key not found")
        if bits not in (128, 256, 512):
            raise TransitInvalid("invalid bit length")
        new_key = os.urandom(bits // 8)
        aad = self._associated_data(key, 0, associated_data)
        encrypted = key.encrypted(key_version, new_key, decoded_context, aad, nonce)
        plaintext = encode_base64(new_key) if kind == "plaintext" else None
        return DataKey(encrypted.ciphertext, encrypted.key_version, plaintext)

    @staticmethod
    def _associated_data(key: _Key, index: int, text: str) -> bytes | None:
        if not text:
            return None
        if not key.kind.aead:
            raise TransitInvalid(
                f"'[{index}].associated_data' provided for non-AEAD cipher suite {key.kind.name}"
            )
        return _decoded(text, "unable to get associated_data/additional_data: ")

    # ---- HMAC and signatures -----------------------------------------------------------------

    async def hmac(
        self,
        mount: str,
        name: str,
        items: Sequence[HmacItem],
        *,
        algorithm: str = DEFAULT_HASH_ALGORITHM,
        key_version: int = 0,
    ) -> Batch[Hmac]:
        """The HMAC of each input with the version's HMAC key (every key type has one)."""
        require_unsealed(self.keys)
        _check_batch(items)
        key = await self._require(mount, name, "encryption key not found")
        version = key.hmac_version(key_version)
        hmac_key = key.material(version).hmac_key
        if algorithm not in HASHES:
            raise TransitInvalid(f'unsupported algorithm "{algorithm}"')
        return Batch([_hmac_one(item, algorithm, version, hmac_key) for item in items])

    async def sign(
        self,
        mount: str,
        name: str,
        items: Sequence[SignItem],
        options: SignatureOptions,
        *,
        key_version: int = 0,
        batch: bool = True,
    ) -> Batch[Signed]:
        """Sign each input (ECDSA, ed25519, RSA keys). With `batch` False (a request of one
        `input`), a missing input signs the empty string, as Vault."""
        require_unsealed(self.keys)
        _check_batch(items)
        signing = _signing(options)
        key = await self._require(mount, name, "signing key not found")
        _check_signing(key.kind, signing, "signing")
        return Batch([self._sign_one(key, item, signing, key_version, batch) for item in items])

    def _sign_one(
        self, key: _Key, item: SignItem, signing: Signing, key_version: int, batch: bool
    ) -> Outcome[Signed]:
        try:
            if item.input is None and batch:
                raise TransitInvalid("missing input")
            data = self._signed_data(key, item.input or "", signing)
            context = _context(item.context) if item.context else b""
            version = key.encryption_version(key_version, "signing")
            material = key.material(version)
            derived = key.row.derived
            signature = material.sign(data, signing, derived=derived, context=context)
            public_key = None
            if derived:
                public_key = material.public_key(derived=True, context=context)
            encoded = _encode_signature(signature, signing.marshaling)
            return Outcome(
                item.reference, Signed(f"{VERSION_PREFIX}{version}:{encoded}", version, public_key)
            )
        except CryptoError as error:
            return Outcome(item.reference, error=TransitInvalid(str(error)))
        except TransitInvalid as error:
            return Outcome(item.reference, error=error)

    @staticmethod
    def _signed_data(key: _Key, text: str, signing: Signing) -> bytes:
        """The input as signed: its digest, for types that sign digests, unless prehashed."""
        data = _decoded(text, "unable to decode input as base64: ")
        if key.kind.hashes_input and not signing.prehashed and signing.hash_algorithm != "none":
            return digest(signing.hash_algorithm, data)
        return data

    async def verify(
        self,
        mount: str,
        name: str,
        items: Sequence[VerifyItem],
        options: SignatureOptions,
        *,
        batch: bool = True,
    ) -> Batch[Verified]:
        """Check each item's signature, or each item's HMAC (`options.hash_algorithm` is then
        the HMAC's algorithm). A request of one item (`batch` False) must give exactly one of
        the two; a batch must give the same one in every item (Vault's messages)."""
        require_unsealed(self.keys)
        _check_batch(items)
        if _verifies_hmac(items, batch):
            return await self._verify_hmacs(mount, name, items, options.hash_algorithm)
        signing = _signing(options)
        key = await self._require(mount, name, "signature verification key not found")
        _check_signing(key.kind, signing, "verification")
        return Batch([self._verify_one(key, item, signing) for item in items])

    def _verify_one(self, key: _Key, item: VerifyItem, signing: Signing) -> Outcome[Verified]:
        try:
            if item.input is None:
                raise TransitInvalid("missing input")
            text = item.input
            if item.signature is None:
                raise TransitInvalid("missing signature")
            data = self._signed_data(key, text, signing)
            context = _context(item.context) if item.context else b""
            version, body = _versioned(item.signature, "signature")
            if version > key.row.latest_version:
                raise InvalidCiphertext("invalid signature: version is too new")
            if version < key.row.min_decryption_version:
                raise InvalidCiphertext(_TOO_OLD)
            signature = _decode_signature(body, signing.marshaling)
            material = key.material(version)
            valid = material.verify(data, signature, signing, derived=key.row.derived, context=context)
            return Outcome(item.reference, Verified(valid))
        except CryptoError as error:
            return Outcome(item.reference, error=InvalidCiphertext(str(error)))
        except TransitInvalid as error:
            return Outcome(item.reference, error=error)

    async def _verify_hmacs(
        self, mount: str, name: str, items: Sequence[VerifyItem], algorithm: str
    ) -> Batch[Verified]:
        key = await self._require(mount, name, "encryption key not found")
        if algorithm not in HASHES:
            raise TransitInvalid(f'unsupported algorithm "{algorithm}"')
        return Batch([_verify_hmac_one(key, item, algorithm) for item in items])

    # ---- backup ------------------------------------------------------------------------------

    async def backup(self, mount: str, name: str) -> str:
        """The key and all its versions as a self-describing, versioned base64 blob, restorable
        to Assay. `BackupNotAllowed` unless `exportable` and `allow_plaintext_backup`. Records
        `backup_info`."""
        require_unsealed(self.keys)
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            row = await self._row(tx.conn, mount, name, f"no transit key named {name!r}", for_update=True)
            if not row.exportable:
                raise BackupNotAllowed("exporting is disallowed on the policy")
            if not row.allow_plaintext_backup:
                raise BackupNotAllowed("plaintext backup is disallowed on the policy")
            now = utcnow()
            row = replace(row, backup_time=now, backup_version=row.latest_version)
            await store.update(
                tx.conn, mount, name, {"backup_time": now, "backup_version": row.latest_version}
            )
            key = _Key(mount, row, await store.versions(tx.conn, mount, name), self.keys)
            document = _BackupDocument(
                format=BACKUP_FORMAT,
                format_version=BACKUP_FORMAT_VERSION,
                key=_BackupKey(
                    **{name: getattr(row, name) for name in _BackupKey.model_fields if name != "versions"},
                    versions=[
                        _BackupVersion(
                            version=number,
                            created_at=stored.created_at,
                            key=encode_base64(_opened(key, number).key),
                            hmac_key=encode_base64(_opened(key, number).hmac_key),
                        )
                        for number, stored in sorted(key.versions.items())
                    ],
                ),
            )
        return encode_base64(document.model_dump_json().encode())

    async def restore(self, mount: str, backup: str, *, name: str = "", force: bool = False) -> TransitKey:
        """Restore a `backup` as `name` (the backed-up name when ""), its versions and settings
        as they were. `TransitKeyExists` when the name is taken, unless `force` (which replaces
        that key); `InvalidBackup` for a blob that is not a backup."""
        require_unsealed(self.keys)
        if not backup:
            raise InvalidBackup("'backup' must be supplied")
        if "/" in name:
            raise TransitInvalid("key names cannot be paths")
        document = _parse_backup(backup)
        saved = document.key
        target = name or saved.name
        check_name(target)
        kind = TYPES[saved.type]
        materials = {entry.version: _material(kind, saved, entry) for entry in saved.versions}
        now = utcnow()
        row = KeyRow(
            **{field_name: getattr(saved, field_name) for field_name in _ROW_FIELDS_IN_BACKUP},
            mount=mount,
            name=target,
            restore_time=now,
            restore_version=saved.latest_version,
            updated_at=now,
        )
        async with self.db.transaction() as tx:
            await self._mount(tx.conn, mount, for_share=True)
            existing = await store.get(tx.conn, mount, target, for_update=True)
            if existing is not None and not force:
                raise TransitKeyExists(f'key "{target}" already exists')
            if existing is not None:
                await store.delete(tx.conn, mount, target)
            await store.insert(tx.conn, row)
            stored = {
                entry.version: await self._add_version(
                    tx, row, entry.version, materials[entry.version], entry.created_at
                )
                for entry in saved.versions
            }
            await self.outbox.add(
                tx,
                TransitKeyRestored(
                    mount=mount,
                    name=target,
                    type=row.type,
                    latest_version=row.latest_version,
                    replaced=existing is not None,
                ),
                subject=_subject(mount, target),
            )
        return self._document(row, stored, {})

    # ---- utilities ---------------------------------------------------------------------------

    async def random_bytes(self, mount: str, count: int = 32, output_format: str = "base64") -> str:
        """`count` (1 to `MAX_RANDOM_BYTES`) random bytes, `base64` or `hex`."""
        require_unsealed(self.keys)
        async with self.db.read() as conn:
            await self._mount(conn, mount)
        if count < 1:
            raise TransitInvalid('"bytes" cannot be less than 1')
        if count > MAX_RANDOM_BYTES:
            raise TransitInvalid(f'"bytes" should be less than {MAX_RANDOM_BYTES}')
        if output_format not in ("hex", "base64"):
            raise TransitInvalid(f'unsupported encoding format "{output_format}"; must be "hex" or "base64"')
        data = os.urandom(count)
        return data.hex() if output_format == "hex" else encode_base64(data)

    async def hash(
        self, mount: str, input: str, algorithm: str = DEFAULT_HASH_ALGORITHM, output_format: str = "hex"
    ) -> str:
        """The digest of `input` (base64), `hex` or `base64`."""
        require_unsealed(self.keys)
        async with self.db.read() as conn:
            await self._mount(conn, mount)
        data = _decoded(input, "unable to decode input as base64: ")
        if output_format not in ("hex", "base64"):
            raise TransitInvalid(f'unsupported encoding format {output_format}; must be "hex" or "base64"')
        if algorithm not in HASH_ALGORITHMS:
            raise TransitInvalid(f"unsupported algorithm {algorithm}")
        result = digest(algorithm, data)
        return result.hex() if output_format == "hex" else encode_base64(result)

    # ---- helpers -----------------------------------------------------------------------------

    @staticmethod
    async def _mount(conn: AsyncConnection, mount: str, *, for_share: bool = False) -> None:
        """`MountNotFound` unless a transit engine is mounted at `mount` (Vault answers a path an
        engine does not serve as it answers one where nothing is mounted)."""
        row = await mounts_store.get(conn, mount, for_share=for_share) if could_be_mount(mount) else None
        if row is None or row.type != TRANSIT_ENGINE:
            raise MountNotFound(f"no transit engine is mounted at {mount!r}")

    @staticmethod
    async def _row(
        conn: AsyncConnection, mount: str, name: str, missing: str, *, for_update: bool = False
    ) -> KeyRow:
        row = (
            await store.get(conn, mount, name, for_update=for_update)
            if KEY_NAME_PATTERN.match(name)
            else None
        )
        if row is None:
            raise TransitKeyNotFound(missing)
        return row

    async def _load(self, mount: str, name: str, missing: str, *, missing_ok: bool = False) -> _Key | None:
        found = None
        if could_be_mount(mount):
            async with self.db.read() as conn:
                found = await store.lookup(conn, mount, name)
        if found is None or found.engine != TRANSIT_ENGINE:
            raise MountNotFound(f"no transit engine is mounted at {mount!r}")
        if found.key is None or not KEY_NAME_PATTERN.match(name):
            if missing_ok:
                return None
            raise TransitKeyNotFound(missing)
        return _Key(mount, found.key, found.versions, self.keys)

    async def _require(self, mount: str, name: str, missing: str) -> _Key:
        key = await self._load(mount, name, missing)
        assert key is not None
        return key

    async def _upsert(
        self, mount: str, name: str, create: KeyCreation, *, derived: bool, warnings: list[str]
    ) -> _Key:
        """Vault's upsert by `encrypt`: the key created as `create` says (derived when the
        request has a context)."""
        if create.convergent_encryption and not derived:
            raise TransitInvalid(
                "convergent encryption requires derivation to be enabled, so context is required"
            )
        if create.type.startswith("ecdsa-"):
            raise TransitInvalid(f"key type {create.type} not supported for this operation")
        if create.type not in ("aes128-gcm96", "aes256-gcm96", "chacha20-poly1305"):
            raise TransitInvalid(f"unknown key type {create.type}")
        options = KeyOptions(
            type=create.type, derived=derived, convergent_encryption=create.convergent_encryption
        )
        created = await self.create_key(mount, name, options)
        if not created.created:
            warnings.append(
                "Attempted creation of the key during the encrypt operation, but it was created beforehand"
            )
        return await self._require(mount, name, "encryption key not found")

    async def _add_version(
        self, tx: Transaction, row: KeyRow, version: int, material: Material, created_at: datetime
    ) -> VersionRow:
        sealed = self.keys.seal(pack(material), _place(row.mount, row.name, version))
        public_key = material.public_key() if material.type.asymmetric else None
        stored = VersionRow(version, sealed, public_key, created_at)
        await store.insert_version(tx.conn, row.mount, row.name, stored)
        return stored

    async def _describe(self, conn: AsyncConnection, row: KeyRow, context: bytes = b"") -> TransitKey:
        versions = await store.versions(conn, row.mount, row.name)
        public_keys: dict[int, str] = {}
        if row.type == "ed25519" and row.derived and context:
            key = _Key(row.mount, row, versions, self.keys)
            public_keys = {
                number: key.material(number).public_key(derived=True, context=context)
                for number in versions
                if number >= row.min_decryption_version
            }
        return self._document(row, versions, public_keys)

    @staticmethod
    def _document(row: KeyRow, versions: dict[int, VersionRow], public_keys: dict[int, str]) -> TransitKey:
        """The key's document; `public_keys`: a derived ed25519 key's public keys by version."""
        kind = TYPES[row.type]
        shown: list[KeyVersionInfo] = []
        if kind.name != "hmac":
            for number, stored in sorted(versions.items()):
                if number < row.min_decryption_version:
                    continue
                if not kind.asymmetric:
                    shown.append(KeyVersionInfo(number, stored.created_at))
                    continue
                public = public_keys.get(number, "") if row.derived else stored.public_key
                shown.append(KeyVersionInfo(number, stored.created_at, kind.public_name, public))
        return TransitKey(
            name=row.name,
            type=row.type,
            derived=row.derived,
            convergent_encryption=row.convergent_encryption,
            exportable=row.exportable,
            allow_plaintext_backup=row.allow_plaintext_backup,
            deletion_allowed=row.deletion_allowed,
            min_decryption_version=row.min_decryption_version,
            min_encryption_version=row.min_encryption_version,
            min_available_version=row.min_available_version,
            latest_version=row.latest_version,
            auto_rotate_period=row.auto_rotate_period,
            key_size=row.key_size,
            supports_encryption=kind.encryption,
            supports_decryption=kind.encryption,
            supports_derivation=kind.derivation,
            supports_signing=kind.signing,
            kdf="hkdf_sha256" if row.derived else None,
            convergent_encryption_version=3 if row.convergent_encryption else None,
            backup_info=_info(row.backup_time, row.backup_version),
            restore_info=_info(row.restore_time, row.restore_version),
            versions=shown,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _hmac_one(item: HmacItem, algorithm: str, version: int, hmac_key: bytes) -> Outcome[Hmac]:
    try:
        if item.input is None:
            raise TransitInvalid("missing input for HMAC")
        data = _decoded(item.input, "unable to decode input as base64: ")
    except TransitInvalid as error:
        return Outcome(item.reference, error=error)
    made = encode_base64(mac(algorithm, hmac_key, data))
    return Outcome(item.reference, Hmac(f"{VERSION_PREFIX}{version}:{made}"))


def _verify_hmac_one(key: _Key, item: VerifyItem, algorithm: str) -> Outcome[Verified]:
    """One HMAC checked, with Vault's checks in Vault's order."""
    try:
        if item.input is None:
            raise TransitInvalid("missing input")
        data = _decoded(item.input, "unable to decode input as base64: ")
        if item.hmac is None:
            raise TransitInvalid("missing hmac")
        if not item.hmac.startswith(VERSION_PREFIX):
            raise InvalidCiphertext("invalid HMAC to verify: no prefix")
        version, body = _versioned(item.hmac, "HMAC")
        expected = _decoded(body, "unable to decode verification HMAC as base64: ")
        if version > key.row.latest_version:
            raise InvalidCiphertext("invalid HMAC: version is too new")
        if version < key.row.min_decryption_version:
            raise InvalidCiphertext("cannot verify HMAC: version is too old (disallowed by policy)")
        key.check_hmac_version(version)
        actual = mac(algorithm, key.material(version).hmac_key, data)
    except TransitInvalid as error:
        return Outcome(item.reference, error=error)
    return Outcome(item.reference, Verified(hmac_module.compare_digest(actual, expected)))


def _subject(mount: str, name: str) -> str:
    return f"transit/{mount}/{name}"


def _info(time: datetime | None, version: int | None) -> BackupInfo | None:
    return BackupInfo(time, version) if time is not None and version is not None else None


def _opened(key: _Key, version: int) -> Material:
    """A stored version's material, whatever the key's minimum versions (a backup holds all)."""
    stored = key.versions[version]
    return unpack(key.keys.open(stored.sealed_key, _place(key.mount, key.row.name, version)), key.row.type)


def _verifies_hmac(items: Sequence[VerifyItem], batch: bool) -> bool:
    """Whether a verification checks HMACs (else signatures), with Vault's checks."""
    signatures = any(item.signature is not None for item in items)
    hmacs = any(item.signature is None and item.hmac is not None for item in items)
    missing = any(item.signature is None and item.hmac is None for item in items)
    if not batch and signatures and items[0].hmac is not None:
        raise TransitInvalid("provide one of 'signature' or 'hmac'")
    if not batch and not signatures and not hmacs:
        raise TransitInvalid("neither a 'signature' nor an 'hmac' were given to verify")
    if signatures and hmacs:
        raise TransitInvalid("elements of batch_input must all provide 'signature' or all provide 'hmac'")
    if missing and signatures:
        raise TransitInvalid("some elements of batch_input are missing 'signature'")
    if missing and hmacs:
        raise TransitInvalid("some elements of batch_input are missing 'hmac'")
    if missing:
        raise TransitInvalid("no batch_input elements have 'signature' or 'hmac'")
    return hmacs


def _configured(row: KeyRow, changes: KeyConfigChanges) -> tuple[KeyRow, list[str]]:
    """`row` as `changes` configure it, with Vault's checks, messages and warnings."""
    warnings: list[str] = []
    updated = row
    if changes.min_decryption_version is not None:
        minimum = changes.min_decryption_version
        if minimum < 0:
            raise TransitInvalid("min decryption version cannot be negative")
        if minimum == 0:
            minimum = 1
            warnings.append(_MIN_DECRYPTION_WARNING)
        if minimum != row.min_decryption_version:
            if minimum > row.latest_version:
                latest = row.latest_version
                raise TransitInvalid(
                    f"cannot set min decryption version of {minimum}, latest key version is {latest}"
                )
            updated = replace(updated, min_decryption_version=minimum)
    if changes.min_encryption_version is not None:
        minimum = changes.min_encryption_version
        if minimum < 0:
            raise TransitInvalid("min encryption version cannot be negative")
        if minimum != row.min_encryption_version:
            if minimum > row.latest_version:
                latest = row.latest_version
                raise TransitInvalid(
                    f"cannot set min encryption version of {minimum}, latest key version is {latest}"
                )
            updated = replace(updated, min_encryption_version=minimum)
    if 0 < updated.min_encryption_version < updated.min_decryption_version:
        raise TransitInvalid(
            "cannot set min encryption/decryption values; min encryption version of "
            f"{updated.min_encryption_version} must be greater than or equal to min decryption version of "
            f"{updated.min_decryption_version}"
        )
    if changes.deletion_allowed is not None:
        updated = replace(updated, deletion_allowed=changes.deletion_allowed)
    if changes.exportable:
        updated = replace(updated, exportable=True)
    if changes.allow_plaintext_backup:
        updated = replace(updated, allow_plaintext_backup=True)
    if changes.auto_rotate_period is not None:
        period = changes.auto_rotate_period
        if period != 0 and not MIN_AUTO_ROTATE_PERIOD <= period <= MAX_SETTING:
            raise TransitInvalid("auto rotate period must be 0 to disable or at least an hour")
        updated = replace(updated, auto_rotate_period=period)
    if updated != row:
        if updated.min_available_version > updated.min_encryption_version:
            raise TransitInvalid("min encryption version should not be less than min available version")
        if updated.min_available_version > updated.min_decryption_version:
            raise TransitInvalid("min decryption version should not be less then min available version")
    return updated, warnings


def _changed(before: KeyRow, after: KeyRow) -> dict[str, object]:
    return {name: value for name, value in asdict(after).items() if asdict(before)[name] != value}


def _check_trim(row: KeyRow, minimum: int) -> None:
    """Vault's rules (and messages) for trimming `row` to `minimum`."""
    if minimum < row.min_available_version:
        raise TransitInvalid("minimum available version cannot be decremented")
    if row.min_encryption_version == 0:
        raise TransitInvalid(
            "minimum available version cannot be set when minimum encryption version is not set"
        )
    if row.min_decryption_version == 0:
        raise TransitInvalid(
            "minimum available version cannot be set when minimum decryption version is not set"
        )
    if minimum > row.min_encryption_version:
        raise TransitInvalid("minimum available version cannot be greater than minmum encryption version")
    if minimum > row.min_decryption_version:
        raise TransitInvalid("minimum available version cannot be greater than minimum decryption version")
    if minimum < 0:
        raise TransitInvalid("minimum available version cannot be negative")
    if minimum == 0:
        raise TransitInvalid("minimum available version should be positive")


# ---- backups ---------------------------------------------------------------------------------


class _BackupVersion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1, le=MAX_SETTING)
    created_at: datetime
    #: Base64 of the version's key (`transit_keys.Material.key`) and HMAC key.
    key: str
    hmac_key: str


class _BackupKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    type: Literal[KEY_TYPES]  # type: ignore[valid-type]
    derived: bool
    convergent_encryption: bool
    exportable: bool
    allow_plaintext_backup: bool
    deletion_allowed: bool
    min_decryption_version: int = Field(ge=1, le=MAX_SETTING)
    min_encryption_version: int = Field(ge=0, le=MAX_SETTING)
    min_available_version: int = Field(ge=0, le=MAX_SETTING)
    latest_version: int = Field(ge=1, le=MAX_SETTING)
    auto_rotate_period: int = Field(ge=0, le=MAX_SETTING)
    key_size: int = Field(ge=0, le=HMAC_MAX_KEY_SIZE)
    backup_time: datetime | None
    backup_version: int | None
    created_at: datetime
    versions: list[_BackupVersion]


class _BackupDocument(BaseModel):
    """A backup: what it is, the version of its format, and the key with every version."""

    model_config = ConfigDict(extra="forbid")

    format: str
    format_version: int
    key: _BackupKey


#: The columns of a key's row that a backup restores as they were.
_ROW_FIELDS_IN_BACKUP = tuple(name for name in _BackupKey.model_fields if name not in ("name", "versions"))


def _parse_backup(backup: str) -> _BackupDocument:
    """The document of a backup blob; `InvalidBackup` (never echoing its contents) otherwise."""
    try:
        raw = decode_base64(backup)
    except ValueError:
        raise InvalidBackup("the backup is not base64: pass the 'backup' a backup answered") from None
    try:
        document = _BackupDocument.model_validate_json(raw)
    except ValidationError as error:
        fields = sorted({".".join(str(part) for part in problem["loc"]) for problem in error.errors()})
        raise InvalidBackup(f"the backup is not a transit key backup (fields: {', '.join(fields)})") from None
    if document.format != BACKUP_FORMAT or document.format_version != BACKUP_FORMAT_VERSION:
        raise InvalidBackup(f"the backup is not in format {BACKUP_FORMAT} version {BACKUP_FORMAT_VERSION}")
    saved = document.key
    kind = TYPES[saved.type]
    first = max(saved.min_available_version, 1)
    consistent = (
        saved.min_decryption_version <= saved.latest_version
        and saved.min_encryption_version <= saved.latest_version
        and saved.min_available_version <= saved.min_decryption_version
        and not 0 < saved.min_encryption_version < saved.min_decryption_version
        and [entry.version for entry in saved.versions] == list(range(first, saved.latest_version + 1))
        and (saved.key_size == 0) == (kind.name != "hmac")
    )
    if not consistent:
        raise InvalidBackup("the backup's key versions and settings do not agree")
    _creation_kind(
        KeyOptions(
            type=saved.type,
            derived=saved.derived,
            convergent_encryption=saved.convergent_encryption,
            key_size=saved.key_size,
            auto_rotate_period=saved.auto_rotate_period,
        )
    )
    return document


def _material(kind: KeyType, saved: _BackupKey, entry: _BackupVersion) -> Material:
    """A backed-up version's material, checked to be a key of its type."""
    try:
        material = Material(kind, decode_base64(entry.key), decode_base64(entry.hmac_key))
        valid = material_is_valid(material, saved.key_size)
    except ValueError:
        valid = False
    if not valid:
        raise InvalidBackup(f"version {entry.version} of the backup holds no valid {kind.name} key")
    return material
