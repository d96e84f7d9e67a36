"""`/api/v1/vault/transit/{mount}/…`: the transit engine in Assay's own API (problem+json errors).

The same domain serves Vault's dialect (`transit_vault`); this one speaks typed JSON with base64
fields, as Vault's does, and Vault's parameter names. An operation takes one item (its fields at
the top level) or a batch (`batch_input`): one item answers its result or its error as a problem;
a batch answers 200 with each item's result or error (`{code, detail}`) in order, and `failed`,
how many items failed. Unlike Vault's `encrypt`, a missing key is not created: 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Generic, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from assay_common.problems import problems
from assay_common.service import runtime
from assay_vault.api.deps import keyring
from assay_vault.domain.transit import (
    DEFAULT_HASH_ALGORITHM,
    DEFAULT_KEY_TYPE,
    MAX_BATCH_ITEMS,
    MAX_RANDOM_BYTES,
    BackupInfo,
    Batch,
    Decrypted,
    DecryptItem,
    Encrypted,
    EncryptItem,
    Hmac,
    HmacItem,
    KeyConfigChanges,
    KeyOptions,
    KeyVersionInfo,
    Outcome,
    RewrapItem,
    SignatureOptions,
    Signed,
    SignItem,
    Transit,
    TransitKey,
    TransitKeyExists,
    Verified,
    VerifyItem,
)

router = APIRouter(prefix="/api/v1/vault/transit/{mount}", tags=["vault: transit"])

MountName = Annotated[str, Path(min_length=1, max_length=64, description="The transit mount, e.g. `transit`")]
KeyName = Annotated[str, Path(min_length=1, max_length=255, description="The key's name, e.g. `payments`")]
Base64 = Annotated[str, Field(description="Base64 (standard alphabet, padded)")]
Reference = Field(default="", max_length=1024, description="Echoed in the item's result")
KeyVersion = Field(default=0, ge=0, description="The key version to use; 0: the latest")

T = TypeVar("T")
R = TypeVar("R", bound=BaseModel)


async def transit_engine(request: Request) -> Transit:
    # Made here, not from dependencies of its own (see `kv_deps`).
    rt = await runtime(request)
    return Transit(rt.store, rt.events, await keyring(request))


# ---- keys --------------------------------------------------------------------------------------


class KeyVersionOut(BaseModel):
    version: int
    created_time: datetime
    name: str | None = Field(default=None, description="Asymmetric keys: `P-256`, `ed25519`, `rsa-2048`, …")
    public_key: str | None = Field(
        default=None, description='Asymmetric keys: PEM, or base64 for ed25519 ("" when derived)'
    )

    @classmethod
    def of(cls, info: KeyVersionInfo) -> KeyVersionOut:
        return cls(
            version=info.version, created_time=info.created_at, name=info.name, public_key=info.public_key
        )


class BackupInfoOut(BaseModel):
    time: datetime
    version: int = Field(description="The key's latest version then")

    @classmethod
    def of(cls, info: BackupInfo | None) -> BackupInfoOut | None:
        return None if info is None else cls(time=info.time, version=info.version)


class TransitKeyOut(BaseModel):
    name: str
    type: str
    derived: bool
    convergent_encryption: bool
    convergent_encryption_version: int | None
    kdf: str | None = Field(description="`hkdf_sha256` for derived keys")
    exportable: bool
    allow_plaintext_backup: bool
    deletion_allowed: bool
    min_decryption_version: int
    min_encryption_version: int = Field(description="0: any version up to the latest")
    min_available_version: int = Field(description="Versions below it were trimmed; 0: none")
    latest_version: int
    auto_rotate_period_seconds: int
    key_size: int = Field(description="Bytes of an hmac key; 0 for other types")
    supports_encryption: bool
    supports_decryption: bool
    supports_derivation: bool
    supports_signing: bool
    backup_info: BackupInfoOut | None
    restore_info: BackupInfoOut | None
    versions: list[KeyVersionOut] = Field(description="From `min_decryption_version` (none for hmac keys)")
    created_time: datetime
    updated_time: datetime

    @classmethod
    def of(cls, key: TransitKey) -> TransitKeyOut:
        return cls(
            name=key.name,
            type=key.type,
            derived=key.derived,
            convergent_encryption=key.convergent_encryption,
            convergent_encryption_version=key.convergent_encryption_version,
            kdf=key.kdf,
            exportable=key.exportable,
            allow_plaintext_backup=key.allow_plaintext_backup,
            deletion_allowed=key.deletion_allowed,
            min_decryption_version=key.min_decryption_version,
            min_encryption_version=key.min_encryption_version,
            min_available_version=key.min_available_version,
            latest_version=key.latest_version,
            auto_rotate_period_seconds=key.auto_rotate_period,
            key_size=key.key_size,
            supports_encryption=key.supports_encryption,
            supports_decryption=key.supports_decryption,
            supports_derivation=key.supports_derivation,
            supports_signing=key.supports_signing,
            backup_info=BackupInfoOut.of(key.backup_info),
            restore_info=BackupInfoOut.of(key.restore_info),
            versions=[KeyVersionOut.of(info) for info in key.versions],
            created_time=key.created_at,
            updated_time=key.updated_at,
        )


class KeyIn(BaseModel):
    type: str = Field(default=DEFAULT_KEY_TYPE, examples=["aes256-gcm96", "ed25519", "rsa-2048", "hmac"])
    derived: bool = False
    convergent_encryption: bool = False
    exportable: bool = False
    allow_plaintext_backup: bool = False
    key_size: int = Field(default=0, ge=0, description="hmac keys only: bytes (32-512); 0: 32")
    auto_rotate_period_seconds: int = Field(default=0, ge=0, description="0: never; else at least 3600")


class KeyConfigIn(BaseModel):
    min_decryption_version: int | None = Field(default=None, ge=0)
    min_encryption_version: int | None = Field(default=None, ge=0)
    deletion_allowed: bool | None = None
    exportable: bool | None = Field(default=None, description="Can only be turned on")
    allow_plaintext_backup: bool | None = Field(default=None, description="Can only be turned on")
    auto_rotate_period_seconds: int | None = Field(default=None, ge=0)


class KeyConfiguredOut(BaseModel):
    key: TransitKeyOut
    warnings: list[str]


class TrimIn(BaseModel):
    min_available_version: int = Field(ge=0, description="Versions below it are deleted for good")


class KeyListOut(BaseModel):
    keys: list[str]


class BackupOut(BaseModel):
    backup: str = Field(description="The key with every version, base64; as secret as the key")


class RestoreIn(BaseModel):
    backup: str = Field(min_length=1)
    name: str = Field(
        default="", max_length=255, description='The restored key\'s name; "": the backed-up one'
    )
    force: bool = Field(default=False, description="Replace a key of that name")


KEY_PROBLEMS = problems(400, 404, 422, 503)


@router.get("/keys", response_model=KeyListOut, responses=problems(404, 503), summary="List transit keys")
async def list_keys(mount: MountName, domain: Transit = Depends(transit_engine)) -> KeyListOut:
    return KeyListOut(keys=await domain.list_keys(mount))


@router.post(
    "/keys/{name}",
    status_code=201,
    response_model=TransitKeyOut,
    responses=problems(400, 404, 409, 422, 503),
    summary="Create a transit key",
)
async def create_key(
    mount: MountName, name: KeyName, body: KeyIn, domain: Transit = Depends(transit_engine)
) -> TransitKeyOut:
    options = KeyOptions(
        type=body.type,
        derived=body.derived,
        convergent_encryption=body.convergent_encryption,
        exportable=body.exportable,
        allow_plaintext_backup=body.allow_plaintext_backup,
        key_size=body.key_size,
        auto_rotate_period=body.auto_rotate_period_seconds,
    )
    created = await domain.create_key(mount, name, options)
    if not created.created:
        raise TransitKeyExists(f"a transit key named {name!r} exists")
    return TransitKeyOut.of(created.key)


@router.get(
    "/keys/{name}", response_model=TransitKeyOut, responses=KEY_PROBLEMS, summary="Read a transit key"
)
async def read_key(
    mount: MountName,
    name: KeyName,
    context: Annotated[str, Query(description="Base64: a derived ed25519 key's public keys for it")] = "",
    domain: Transit = Depends(transit_engine),
) -> TransitKeyOut:
    return TransitKeyOut.of(await domain.read_key(mount, name, context))


@router.delete(
    "/keys/{name}",
    status_code=204,
    responses=KEY_PROBLEMS,
    summary="Delete a transit key and every version (needs `deletion_allowed`)",
)
async def delete_key(mount: MountName, name: KeyName, domain: Transit = Depends(transit_engine)) -> None:
    await domain.delete_key(mount, name)


@router.patch(
    "/keys/{name}/config",
    response_model=KeyConfiguredOut,
    responses=KEY_PROBLEMS,
    summary="Configure a transit key: minimum versions, deletion, export, backup, rotation",
)
async def configure_key(
    mount: MountName, name: KeyName, body: KeyConfigIn, domain: Transit = Depends(transit_engine)
) -> KeyConfiguredOut:
    changes = KeyConfigChanges(
        min_decryption_version=body.min_decryption_version,
        min_encryption_version=body.min_encryption_version,
        deletion_allowed=body.deletion_allowed,
        exportable=body.exportable,
        allow_plaintext_backup=body.allow_plaintext_backup,
        auto_rotate_period=body.auto_rotate_period_seconds,
    )
    configured = await domain.configure_key(mount, name, changes)
    return KeyConfiguredOut(key=TransitKeyOut.of(configured.key), warnings=configured.warnings)


@router.post(
    "/keys/{name}/rotate", response_model=TransitKeyOut, responses=KEY_PROBLEMS, summary="Add a key version"
)
async def rotate_key(
    mount: MountName, name: KeyName, domain: Transit = Depends(transit_engine)
) -> TransitKeyOut:
    return TransitKeyOut.of(await domain.rotate_key(mount, name))


@router.post(
    "/keys/{name}/trim",
    response_model=TransitKeyOut,
    responses=KEY_PROBLEMS,
    summary="Delete the versions below `min_available_version` for good",
)
async def trim_key(
    mount: MountName, name: KeyName, body: TrimIn, domain: Transit = Depends(transit_engine)
) -> TransitKeyOut:
    return TransitKeyOut.of(await domain.trim_key(mount, name, body.min_available_version))


@router.post(
    "/keys/{name}/backup",
    response_model=BackupOut,
    responses=KEY_PROBLEMS,
    summary="Back up a key with every version (needs `exportable` and `allow_plaintext_backup`)",
)
async def backup_key(mount: MountName, name: KeyName, domain: Transit = Depends(transit_engine)) -> BackupOut:
    return BackupOut(backup=await domain.backup(mount, name))


@router.post(
    "/restore",
    status_code=201,
    response_model=TransitKeyOut,
    responses=problems(400, 404, 409, 422, 503),
    summary="Restore a key from a backup",
)
async def restore_key(
    mount: MountName, body: RestoreIn, domain: Transit = Depends(transit_engine)
) -> TransitKeyOut:
    return TransitKeyOut.of(await domain.restore(mount, body.backup, name=body.name, force=body.force))


# ---- items and batches -------------------------------------------------------------------------


class ItemError(BaseModel):
    code: str
    detail: str


class BatchOut(BaseModel, Generic[R]):
    batch_results: list[R]
    failed: int = Field(description="How many items failed")


def _batch(batch: Batch[T], shape: Callable[[str, T | None, ItemError | None], R]) -> BatchOut[R]:
    def one(outcome: Outcome[T]) -> R:
        error = outcome.error
        return shape(
            outcome.reference,
            outcome.value,
            ItemError(code=error.code, detail=error.detail) if error else None,
        )

    return BatchOut[R](
        batch_results=[one(item) for item in batch.items], failed=sum(1 for item in batch.items if item.error)
    )


class EncryptItemIn(BaseModel):
    plaintext: Base64
    context: Base64 = Field(default="", description="Base64; required by derived keys")
    key_version: int = KeyVersion
    associated_data: Base64 = Field(default="", description="Base64; AEAD key types only")
    reference: str = Reference

    def item(self) -> EncryptItem:
        return EncryptItem(
            plaintext=self.plaintext,
            context=self.context,
            key_version=self.key_version,
            associated_data=self.associated_data,
            reference=self.reference,
        )


class EncryptIn(BaseModel):
    plaintext: Base64 = ""
    context: Base64 = ""
    key_version: int = KeyVersion
    associated_data: Base64 = ""
    batch_input: list[EncryptItemIn] | None = Field(default=None, min_length=1, max_length=MAX_BATCH_ITEMS)


class EncryptedOut(BaseModel):
    ciphertext: str = Field(
        examples=["vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM13ok481zoCmHnSeDX9vyf7w=="]
    )
    key_version: int


class EncryptedItemOut(BaseModel):
    reference: str
    ciphertext: str | None = None
    key_version: int | None = None
    error: ItemError | None = None


def _encrypted(reference: str, value: Encrypted | None, error: ItemError | None) -> EncryptedItemOut:
    if value is None:
        return EncryptedItemOut(reference=reference, error=error)
    return EncryptedItemOut(reference=reference, ciphertext=value.ciphertext, key_version=value.key_version)


@router.post(
    "/encrypt/{name}",
    response_model=EncryptedOut | BatchOut[EncryptedItemOut],
    responses=KEY_PROBLEMS,
    summary="Encrypt a plaintext, or a batch",
)
async def encrypt(
    mount: MountName, name: KeyName, body: EncryptIn, domain: Transit = Depends(transit_engine)
) -> EncryptedOut | BatchOut[EncryptedItemOut]:
    if body.batch_input is not None:
        return _batch(
            await domain.encrypt(mount, name, [item.item() for item in body.batch_input]), _encrypted
        )
    single = EncryptItemIn(
        plaintext=body.plaintext,
        context=body.context,
        key_version=body.key_version,
        associated_data=body.associated_data,
    )
    found = (await domain.encrypt(mount, name, [single.item()])).only()
    return EncryptedOut(ciphertext=found.ciphertext, key_version=found.key_version)


class DecryptItemIn(BaseModel):
    ciphertext: str = Field(
        examples=["vault:v1:8SDd3WHDOjf7mq69CyCqYjBXAiQQAVZRkFM13ok481zoCmHnSeDX9vyf7w=="]
    )
    context: Base64 = ""
    associated_data: Base64 = ""
    reference: str = Reference

    def item(self) -> DecryptItem:
        return DecryptItem(
            ciphertext=self.ciphertext,
            context=self.context,
            associated_data=self.associated_data,
            reference=self.reference,
        )


class DecryptIn(BaseModel):
    ciphertext: str = ""
    context: Base64 = ""
    associated_data: Base64 = ""
    batch_input: list[DecryptItemIn] | None = Field(default=None, min_length=1, max_length=MAX_BATCH_ITEMS)


class DecryptedOut(BaseModel):
    plaintext: Base64


class DecryptedItemOut(BaseModel):
    reference: str
    plaintext: str | None = None
    error: ItemError | None = None


def _decrypted(reference: str, value: Decrypted | None, error: ItemError | None) -> DecryptedItemOut:
    return DecryptedItemOut(reference=reference, plaintext=value.plaintext if value else None, error=error)


@router.post(
    "/decrypt/{name}",
    response_model=DecryptedOut | BatchOut[DecryptedItemOut],
    responses=KEY_PROBLEMS,
    summary="Decrypt a ciphertext, or a batch",
)
async def decrypt(
    mount: MountName, name: KeyName, body: DecryptIn, domain: Transit = Depends(transit_engine)
) -> DecryptedOut | BatchOut[DecryptedItemOut]:
    if body.batch_input is not None:
        return _batch(
            await domain.decrypt(mount, name, [item.item() for item in body.batch_input]), _decrypted
        )
    single = DecryptItemIn(
        ciphertext=body.ciphertext, context=body.context, associated_data=body.associated_data
    )
    return DecryptedOut(plaintext=(await domain.decrypt(mount, name, [single.item()])).only().plaintext)


class RewrapItemIn(DecryptItemIn):
    key_version: int = KeyVersion

    def rewrap_item(self) -> RewrapItem:
        return RewrapItem(
            ciphertext=self.ciphertext,
            context=self.context,
            key_version=self.key_version,
            associated_data=self.associated_data,
            reference=self.reference,
        )


class RewrapIn(BaseModel):
    ciphertext: str = ""
    context: Base64 = ""
    associated_data: Base64 = ""
    key_version: int = KeyVersion
    batch_input: list[RewrapItemIn] | None = Field(default=None, min_length=1, max_length=MAX_BATCH_ITEMS)


@router.post(
    "/rewrap/{name}",
    response_model=EncryptedOut | BatchOut[EncryptedItemOut],
    responses=KEY_PROBLEMS,
    summary="Encrypt a ciphertext's plaintext again with the latest (or `key_version`) version",
)
async def rewrap(
    mount: MountName, name: KeyName, body: RewrapIn, domain: Transit = Depends(transit_engine)
) -> EncryptedOut | BatchOut[EncryptedItemOut]:
    if body.batch_input is not None:
        items = [item.rewrap_item() for item in body.batch_input]
        return _batch(await domain.rewrap(mount, name, items), _encrypted)
    single = RewrapItemIn(
        ciphertext=body.ciphertext,
        context=body.context,
        associated_data=body.associated_data,
        key_version=body.key_version,
    )
    found = (await domain.rewrap(mount, name, [single.rewrap_item()])).only()
    return EncryptedOut(ciphertext=found.ciphertext, key_version=found.key_version)


class DataKeyIn(BaseModel):
    bits: Literal[128, 256, 512] = 256
    context: Base64 = ""
    key_version: int = KeyVersion
    associated_data: Base64 = ""


class DataKeyOut(BaseModel):
    ciphertext: str
    key_version: int
    plaintext: str | None = Field(description="Base64 of the new key; null for a `wrapped` data key")


@router.post(
    "/datakey/{kind}/{name}",
    response_model=DataKeyOut,
    responses=KEY_PROBLEMS,
    summary="A new random data key, encrypted by the key (`plaintext`: and in the clear)",
)
async def datakey(
    mount: MountName,
    kind: Literal["plaintext", "wrapped"],
    name: KeyName,
    body: DataKeyIn,
    domain: Transit = Depends(transit_engine),
) -> DataKeyOut:
    made = await domain.datakey(
        mount,
        name,
        kind,
        bits=body.bits,
        context=body.context,
        key_version=body.key_version,
        associated_data=body.associated_data,
    )
    return DataKeyOut(ciphertext=made.ciphertext, key_version=made.key_version, plaintext=made.plaintext)


# ---- HMAC and signatures -----------------------------------------------------------------------


class InputItemIn(BaseModel):
    input: Base64
    reference: str = Reference


class HmacIn(BaseModel):
    input: Base64 | None = None
    algorithm: str = Field(default=DEFAULT_HASH_ALGORITHM, examples=["sha2-256", "sha3-512"])
    key_version: int = KeyVersion
    batch_input: list[InputItemIn] | None = Field(default=None, min_length=1, max_length=MAX_BATCH_ITEMS)


class HmacOut(BaseModel):
    hmac: str


class HmacItemOut(BaseModel):
    reference: str
    hmac: str | None = None
    error: ItemError | None = None


def _hmac(reference: str, value: Hmac | None, error: ItemError | None) -> HmacItemOut:
    return HmacItemOut(reference=reference, hmac=value.hmac if value else None, error=error)


@router.post(
    "/hmac/{name}",
    response_model=HmacOut | BatchOut[HmacItemOut],
    responses=KEY_PROBLEMS,
    summary="The HMAC of an input, or a batch, with a key version's HMAC key",
)
async def hmac(
    mount: MountName, name: KeyName, body: HmacIn, domain: Transit = Depends(transit_engine)
) -> HmacOut | BatchOut[HmacItemOut]:
    single = body.batch_input is None
    items = (
        [HmacItem(body.input)]
        if single
        else [HmacItem(item.input, item.reference) for item in body.batch_input or ()]
    )
    made = await domain.hmac(mount, name, items, algorithm=body.algorithm, key_version=body.key_version)
    return HmacOut(hmac=made.only().hmac) if single else _batch(made, _hmac)


class SignatureIn(BaseModel):
    hash_algorithm: str = Field(
        default=DEFAULT_HASH_ALGORITHM,
        description="Verifying an HMAC: the HMAC's algorithm",
        examples=["sha2-256"],
    )
    prehashed: bool = Field(default=False, description="The input is the digest already")
    signature_algorithm: str = Field(default="", description="RSA: `pss` (default) or `pkcs1v15`")
    marshaling_algorithm: Literal["asn1", "jws"] = Field(default="asn1", description="ECDSA signatures")
    salt_length: str = Field(default="auto", description="RSA PSS: `auto`, `hash` or bytes")

    def options(self) -> SignatureOptions:
        return SignatureOptions(
            hash_algorithm=self.hash_algorithm,
            prehashed=self.prehashed,
            signature_algorithm=self.signature_algorithm,
            marshaling_algorithm=self.marshaling_algorithm,
            salt_length=self.salt_length,
        )


class SignItemIn(InputItemIn):
    context: Base64 = Field(default="", description="Base64; derived ed25519 keys")


class SignIn(SignatureIn):
    input: Base64 = ""
    context: Base64 = ""
    key_version: int = KeyVersion
    batch_input: list[SignItemIn] | None = Field(default=None, min_length=1, max_length=MAX_BATCH_ITEMS)


class SignedOut(BaseModel):
    signature: str
    key_version: int
    public_key: str | None = Field(default=None, description="Derived ed25519 keys: the public key, base64")


class SignedItemOut(BaseModel):
    reference: str
    signature: str | None = None
    key_version: int | None = None
    public_key: str | None = None
    error: ItemError | None = None


def _signed(reference: str, value: Signed | None, error: ItemError | None) -> SignedItemOut:
    if value is None:
        return SignedItemOut(reference=reference, error=error)
    return SignedItemOut(
        reference=reference,
        signature=value.signature,
        key_version=value.key_version,
        public_key=value.public_key,
    )


@router.post(
    "/sign/{name}",
    response_model=SignedOut | BatchOut[SignedItemOut],
    responses=KEY_PROBLEMS,
    summary="Sign an input, or a batch (ECDSA, ed25519 and RSA keys)",
)
async def sign(
    mount: MountName, name: KeyName, body: SignIn, domain: Transit = Depends(transit_engine)
) -> SignedOut | BatchOut[SignedItemOut]:
    if body.batch_input is not None:
        items = [SignItem(item.input, item.context, item.reference) for item in body.batch_input]
        return _batch(
            await domain.sign(mount, name, items, body.options(), key_version=body.key_version), _signed
        )
    found = (
        await domain.sign(
            mount, name, [SignItem(body.input, body.context)], body.options(), key_version=body.key_version
        )
    ).only()
    return SignedOut(signature=found.signature, key_version=found.key_version, public_key=found.public_key)


class VerifyItemIn(SignItemIn):
    signature: str | None = Field(default=None, description="A signature to check (or `hmac`)")
    hmac: str | None = Field(default=None, description="An HMAC to check (or `signature`)")


class VerifyIn(SignatureIn):
    input: Base64 = ""
    context: Base64 = ""
    signature: str | None = None
    hmac: str | None = None
    batch_input: list[VerifyItemIn] | None = Field(default=None, min_length=1, max_length=MAX_BATCH_ITEMS)


class VerifiedOut(BaseModel):
    valid: bool


class VerifiedItemOut(BaseModel):
    reference: str
    valid: bool | None = None
    error: ItemError | None = None


def _verified(reference: str, value: Verified | None, error: ItemError | None) -> VerifiedItemOut:
    return VerifiedItemOut(reference=reference, valid=value.valid if value else None, error=error)


@router.post(
    "/verify/{name}",
    response_model=VerifiedOut | BatchOut[VerifiedItemOut],
    responses=KEY_PROBLEMS,
    summary="Check a signature or an HMAC of an input, or a batch",
)
async def verify(
    mount: MountName, name: KeyName, body: VerifyIn, domain: Transit = Depends(transit_engine)
) -> VerifiedOut | BatchOut[VerifiedItemOut]:
    if body.batch_input is not None:
        items = [
            VerifyItem(item.input, item.signature, item.hmac, item.context, item.reference)
            for item in body.batch_input
        ]
        return _batch(await domain.verify(mount, name, items, body.options()), _verified)
    single = VerifyItem(body.input, body.signature, body.hmac, body.context)
    return VerifiedOut(
        valid=(await domain.verify(mount, name, [single], body.options(), batch=False)).only().valid
    )


# ---- utilities ---------------------------------------------------------------------------------


class HashIn(BaseModel):
    input: Base64
    algorithm: str = Field(default=DEFAULT_HASH_ALGORITHM, examples=["sha2-256", "sha3-512"])
    format: Literal["hex", "base64"] = "hex"


class HashOut(BaseModel):
    sum: str


@router.post("/hash", response_model=HashOut, responses=problems(400, 404, 422, 503), summary="Hash an input")
async def hash_input(mount: MountName, body: HashIn, domain: Transit = Depends(transit_engine)) -> HashOut:
    return HashOut(sum=await domain.hash(mount, body.input, body.algorithm, body.format))


class RandomIn(BaseModel):
    bytes: int = Field(default=32, ge=1, le=MAX_RANDOM_BYTES)
    format: Literal["hex", "base64"] = "base64"


class RandomOut(BaseModel):
    random_bytes: str


@router.post(
    "/random", response_model=RandomOut, responses=problems(404, 422, 503), summary="Random bytes from the OS"
)
async def random_bytes(
    mount: MountName, body: RandomIn, domain: Transit = Depends(transit_engine)
) -> RandomOut:
    return RandomOut(random_bytes=await domain.random_bytes(mount, body.bytes, body.format))
