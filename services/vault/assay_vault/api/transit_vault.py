"""`/v1/{mount}/{keys,encrypt,decrypt,rewrap,datakey,random,hash,hmac,sign,verify,backup,restore}/…`:
the transit engine in Vault's dialect, for hvac, the `vault`/`bao` CLIs and Vault SDKs. Same
domain as the native routes (`transit`); paths, bodies, envelopes and status codes are Vault's
(checked against OpenBao by tests/vault/test_transit_vault_differential.py).

Vault-specific answers: writes take PUT and POST alike; listing is the `LIST` method or
`GET ?list=true`; a key that does not exist is `404 {"errors": []}` when read and a 400 with
Vault's message on every other path; a batch of `encrypt` or `decrypt` with a failed item answers
400 with every item's result (`partial_failure_response_code` chooses the status when some item
succeeded), the other batches 200; a `name` or `source` that the body repeats from the path gives
way to the path's, with Vault's warning. `encrypt` to a key that does not exist creates it when
the caller may create keys (Vault's upsert, which needs the `create` capability: here,
administering the mount).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Sequence
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from assay_common.errors import BadRequest
from assay_common.permission_checks import vault_mount
from assay_common.route_access import Access, access
from assay_vault.api.kv_vault import KvVaultRoute, rfc3339
from assay_vault.api.transit import transit_engine
from assay_vault.api.vault_dialect import VAULT_PREFIX, envelope, errors_response
from assay_vault.domain.kv_durations import parse_seconds
from assay_vault.domain.transit import (
    DEFAULT_HASH_ALGORITHM,
    DEFAULT_KEY_TYPE,
    MAX_BATCH_ITEMS,
    BackupInfo,
    Batch,
    DataKey,
    Decrypted,
    DecryptItem,
    Encrypted,
    EncryptItem,
    Hmac,
    HmacItem,
    KeyConfigChanges,
    KeyCreation,
    KeyOptions,
    KeyVersionInfo,
    RewrapItem,
    SignatureOptions,
    Signed,
    SignItem,
    Transit,
    TransitInvalid,
    TransitKey,
    TransitKeyNotFound,
    Verified,
    VerifyItem,
)

#: Vault answers writes to PUT and POST alike.
WRITE_METHODS = ("POST", "PUT")
#: `?list=true` (any of Go's true spellings) turns a GET of `keys` into a listing.
_TRUE = frozenset({"1", "t", "true"})
#: Where Vault's `random` may draw bytes from; Assay has no seal to add entropy, as a Vault
#: without an entropy-augmenting seal.
RANDOM_SOURCES = ("platform", "seal", "all")
NO_SEAL_ENTROPY = "no seal/entropy augmentation available, using platform entropy source"
REPLACED_PARAMETERS = (
    "Endpoint replaced the value of these parameters with the values captured from the endpoint's path"
)
#: The path parameters that Vault's transit names as it names fields of the body (it calls the
#: others `urlalgorithm`, `urlbytes`, …, so repeating those in the body draws no warning).
SHARED_PARAMETERS = frozenset({"name", "source"})

DATA_KEY_KINDS: tuple[Literal["plaintext", "wrapped"], ...] = ("plaintext", "wrapped")

T = TypeVar("T")
Listing = Annotated[str | None, Query(alias="list")]
StatusCode = Annotated[int | None, Field(ge=100, le=599)]


class TransitVaultRoute(KvVaultRoute):
    """A transit route of Vault's dialect: a mount that is not a transit mount is Vault's "no
    handler for route" (as on the KV routes), a key that does not exist is a 400 with the
    domain's (Vault's) message, as Vault's transit answers everywhere but on a key's read, and a
    body of JSON `null` is an empty one (`bao write -f transit/keys/<name>` sends it)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            body = await request.body()
            given = b"{}" if body.strip() == b"null" else body

            async def receive() -> Message:
                return {"type": "http.request", "body": given, "more_body": False}

            try:
                return await handler(Request(request.scope, receive))
            except TransitKeyNotFound as missing:
                return self.missing_key(missing)

        return handle

    @staticmethod
    def missing_key(missing: TransitKeyNotFound) -> Response:
        return errors_response(400, [missing.detail])


class KeyReadRoute(TransitVaultRoute):
    """Reading a key that does not exist is Vault's bare 404."""

    @staticmethod
    def missing_key(missing: TransitKeyNotFound) -> Response:
        return errors_response(404, [])


router = APIRouter(
    prefix=VAULT_PREFIX + "/{mount}",
    tags=["vault: Vault-compatible transit"],
    route_class=TransitVaultRoute,
)


async def replaced_parameters(request: Request) -> list[str] | None:
    """Vault's warning when the body repeats parameters of the path (whose values are used)."""
    try:
        body = await request.json()
    except ValueError:
        return None
    named = sorted(set(body) & set(request.path_params) & SHARED_PARAMETERS) if isinstance(body, dict) else []
    return [f"{REPLACED_PARAMETERS}: [{' '.join(named)}]"] if named else None


Warnings = Annotated[list[str] | None, Depends(replaced_parameters)]


def _writes(path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
    """`endpoint` for PUT and POST, as two routes (one OpenAPI operation each)."""
    for method in WRITE_METHODS:
        router.add_api_route(
            path, endpoint, methods=[method], name=f"{endpoint.__name__}_{method.lower()}", **kwargs
        )


# ---- bodies ------------------------------------------------------------------------------------


class _VaultBody(BaseModel):
    model_config = ConfigDict(extra="ignore")


class KeyIn(_VaultBody):
    """Vault's parameters of a key's creation."""

    type: str = DEFAULT_KEY_TYPE
    derived: bool = False
    convergent_encryption: bool = False
    exportable: bool = False
    allow_plaintext_backup: bool = False
    key_size: int = 0
    auto_rotate_period: str | int = 0

    def options(self) -> KeyOptions:
        if self.type == "hmac" and not self.key_size:
            # Vault has no default size of an HMAC key (Assay's own API has): it refuses the key.
            raise TransitInvalid("invalid key size for HMAC key, must be between 32 and 512 bytes")
        return KeyOptions(
            type=self.type,
            derived=self.derived,
            convergent_encryption=self.convergent_encryption,
            exportable=self.exportable,
            allow_plaintext_backup=self.allow_plaintext_backup,
            key_size=self.key_size,
            auto_rotate_period=parse_seconds(self.auto_rotate_period, "auto_rotate_period"),
        )


class KeyConfigIn(_VaultBody):
    min_decryption_version: int | None = None
    min_encryption_version: int | None = None
    deletion_allowed: bool | None = None
    exportable: bool | None = None
    allow_plaintext_backup: bool | None = None
    auto_rotate_period: str | int | None = None

    def changes(self) -> KeyConfigChanges:
        period = self.auto_rotate_period
        return KeyConfigChanges(
            min_decryption_version=self.min_decryption_version,
            min_encryption_version=self.min_encryption_version,
            deletion_allowed=self.deletion_allowed,
            exportable=self.exportable,
            allow_plaintext_backup=self.allow_plaintext_backup,
            auto_rotate_period=None if period is None else parse_seconds(period, "auto_rotate_period"),
        )


class TrimIn(_VaultBody):
    min_available_version: int | None = None


class EncryptItemIn(_VaultBody):
    plaintext: str | None = None
    context: str = ""
    key_version: int = 0
    associated_data: str = ""
    nonce: str = ""
    reference: str = ""


class EncryptIn(_VaultBody):
    plaintext: str | None = None
    context: str = ""
    key_version: int = 0
    associated_data: str = ""
    nonce: str = ""
    batch_input: list[EncryptItemIn] | None = Field(default=None, max_length=MAX_BATCH_ITEMS)
    type: str = DEFAULT_KEY_TYPE
    convergent_encryption: bool = False
    partial_failure_response_code: StatusCode = None

    def items(self) -> list[EncryptItem]:
        if self.batch_input is not None:
            return [
                EncryptItem(**{**item.model_dump(), "plaintext": _present(item.plaintext, i, "plaintext")})
                for i, item in enumerate(_given(self.batch_input))
            ]
        if self.plaintext is None:
            raise TransitInvalid("missing plaintext to encrypt")
        return [
            EncryptItem(
                plaintext=self.plaintext,
                context=self.context,
                key_version=self.key_version,
                associated_data=self.associated_data,
                nonce=self.nonce,
            )
        ]


class DecryptItemIn(_VaultBody):
    ciphertext: str | None = None
    context: str = ""
    associated_data: str = ""
    nonce: str = ""
    reference: str = ""


class DecryptIn(_VaultBody):
    ciphertext: str | None = None
    context: str = ""
    associated_data: str = ""
    nonce: str = ""
    batch_input: list[DecryptItemIn] | None = Field(default=None, max_length=MAX_BATCH_ITEMS)
    partial_failure_response_code: StatusCode = None

    def items(self) -> list[DecryptItem]:
        if self.batch_input is not None:
            return [
                DecryptItem(**{**item.model_dump(), "ciphertext": _present(item.ciphertext, i, "ciphertext")})
                for i, item in enumerate(_given(self.batch_input))
            ]
        if self.ciphertext is None:
            raise TransitInvalid("missing ciphertext to decrypt")
        return [
            DecryptItem(
                ciphertext=self.ciphertext,
                context=self.context,
                associated_data=self.associated_data,
                nonce=self.nonce,
            )
        ]


class RewrapItemIn(_VaultBody):
    ciphertext: str = ""
    context: str = ""
    key_version: int = 0
    associated_data: str = ""
    nonce: str = ""
    reference: str = ""


class RewrapIn(_VaultBody):
    ciphertext: str | None = None
    context: str = ""
    key_version: int = 0
    associated_data: str = ""
    nonce: str = ""
    batch_input: list[RewrapItemIn] | None = Field(default=None, max_length=MAX_BATCH_ITEMS)

    def items(self) -> list[RewrapItem]:
        if self.batch_input is not None:
            return [RewrapItem(**item.model_dump()) for item in _given(self.batch_input)]
        if self.ciphertext is None:
            raise TransitInvalid("missing ciphertext to decrypt")
        return [
            RewrapItem(
                ciphertext=self.ciphertext,
                context=self.context,
                key_version=self.key_version,
                associated_data=self.associated_data,
                nonce=self.nonce,
            )
        ]


class DataKeyIn(_VaultBody):
    bits: int = 256
    context: str = ""
    nonce: str = ""
    key_version: int = 0
    associated_data: str = ""


class RandomIn(_VaultBody):
    bytes: int = 32
    format: str = "base64"
    source: str = "platform"


class HashIn(_VaultBody):
    input: str | None = None
    algorithm: str = DEFAULT_HASH_ALGORITHM
    format: str = "hex"


class HmacItemIn(_VaultBody):
    input: str | None = None
    reference: str = ""


class HmacIn(_VaultBody):
    input: str | None = None
    key_version: int = 0
    algorithm: str = DEFAULT_HASH_ALGORITHM
    batch_input: list[HmacItemIn] | None = Field(default=None, max_length=MAX_BATCH_ITEMS)


class _SignatureIn(_VaultBody):
    hash_algorithm: str | None = None
    #: Vault's older name of `hash_algorithm`.
    algorithm: str | None = None
    prehashed: bool = False
    signature_algorithm: str = ""
    marshaling_algorithm: str = "asn1"
    salt_length: str | int = "auto"

    def options(self, path_algorithm: str | None) -> SignatureOptions:
        return SignatureOptions(
            hash_algorithm=path_algorithm or self.hash_algorithm or self.algorithm or DEFAULT_HASH_ALGORITHM,
            prehashed=self.prehashed,
            signature_algorithm=self.signature_algorithm,
            marshaling_algorithm=self.marshaling_algorithm,
            salt_length=str(self.salt_length),
        )


class SignItemIn(_VaultBody):
    input: str | None = None
    context: str = ""
    reference: str = ""


class SignIn(_SignatureIn):
    input: str | None = None
    context: str = ""
    key_version: int = 0
    batch_input: list[SignItemIn] | None = Field(default=None, max_length=MAX_BATCH_ITEMS)


class VerifyItemIn(_VaultBody):
    input: str | None = None
    signature: str | None = None
    hmac: str | None = None
    context: str = ""
    reference: str = ""


class VerifyIn(_SignatureIn):
    input: str | None = None
    signature: str | None = None
    hmac: str | None = None
    context: str = ""
    batch_input: list[VerifyItemIn] | None = Field(default=None, max_length=MAX_BATCH_ITEMS)


class RestoreIn(_VaultBody):
    backup: str = ""
    force: bool = False
    name: str = ""


def _given(batch: Sequence[T]) -> Sequence[T]:
    if not batch:
        raise TransitInvalid("missing batch input to process")
    return batch


#: What each operation says of a batch item without its input (Vault's words).
_MISSING = {"plaintext": "missing plaintext to encrypt", "ciphertext": "missing ciphertext to decrypt"}


def _present(value: str | None, index: int, field: str) -> str:
    """An item's input of an `encrypt` or `decrypt` batch: without it the batch is refused (Vault
    refuses it as it parses the batch)."""
    if value is None:
        raise TransitInvalid(f"failed to parse batch input: '[{index}].{field}' {_MISSING[field]}")
    return value


# ---- answers -----------------------------------------------------------------------------------


def _info(info: BackupInfo) -> dict[str, Any]:
    return {"time": rfc3339(info.time), "version": info.version}


def _version(key: TransitKey, version: KeyVersionInfo) -> Any:
    """A version as Vault's key document shows it: its creation time in seconds (symmetric
    keys), or its public key (asymmetric ones)."""
    if not key.asymmetric:
        return int(version.created_at.timestamp())
    return {
        "certificate_chain": "",
        "creation_time": rfc3339(version.created_at),
        "name": version.name,
        "public_key": version.public_key,
    }


def key_document(key: TransitKey) -> dict[str, Any]:
    """A key as Vault's `GET {mount}/keys/{name}` describes it (what Vault leaves out for a
    type is left out)."""
    document: dict[str, Any] = {
        "allow_plaintext_backup": key.allow_plaintext_backup,
        "auto_rotate_period": key.auto_rotate_period,
        "deletion_allowed": key.deletion_allowed,
        "derived": key.derived,
        "exportable": key.exportable,
        "imported_key": False,
        "latest_version": key.latest_version,
        "min_available_version": key.min_available_version,
        "min_decryption_version": key.min_decryption_version,
        "min_encryption_version": key.min_encryption_version,
        "name": key.name,
        "soft_deleted": False,
        "supports_decryption": key.supports_decryption,
        "supports_derivation": key.supports_derivation,
        "supports_encryption": key.supports_encryption,
        "supports_signing": key.supports_signing,
        "type": key.type,
    }
    if key.versions:
        document["keys"] = {str(version.version): _version(key, version) for version in key.versions}
    if key.key_size:
        document["key_size"] = key.key_size
    if key.derived:
        document["convergent_encryption"] = key.convergent_encryption
        document["kdf"] = key.kdf
    if key.convergent_encryption:
        # Vault shows -1 once every version carries its own convergent version (3 and later), as
        # every version of Assay's keys does.
        document["convergent_encryption_version"] = -1
    if key.backup_info is not None:
        document["backup_info"] = _info(key.backup_info)
    if key.restore_info is not None:
        document["restore_info"] = _info(key.restore_info)
    return document


def key_answer(key: TransitKey, warnings: list[str] | None = None) -> dict[str, Any]:
    return envelope(key_document(key), warnings=warnings or None)


def _encrypted(value: Encrypted) -> dict[str, Any]:
    return {"ciphertext": value.ciphertext, "key_version": value.key_version}


def _decrypted(value: Decrypted) -> dict[str, Any]:
    return {"plaintext": value.plaintext}


def _hmac(value: Hmac) -> dict[str, Any]:
    return {"hmac": value.hmac}


def _signed(value: Signed, public_key_field: str = "public_key") -> dict[str, Any]:
    answer: dict[str, Any] = {"signature": value.signature, "key_version": value.key_version}
    if value.public_key is not None:
        answer[public_key_field] = value.public_key
    return answer


def _signed_item(value: Signed) -> dict[str, Any]:
    # Vault's batch items name a derived key's public key `publickey`.
    return _signed(value, "publickey")


def _verified(value: Verified) -> dict[str, Any]:
    # Go leaves out a false `valid` of a batch item (omitempty).
    return {"valid": True} if value.valid else {}


def results(
    batch: Batch[T], shown: Callable[[T], dict[str, Any]], failed: dict[str, Any]
) -> list[dict[str, Any]]:
    """Vault's `batch_results`: each item's answer or, for a failed item, `failed` with its error,
    each with its `reference`."""
    answers = []
    for item in batch.items:
        if item.error is not None:
            answers.append({**failed, "error": item.error.detail, "reference": item.reference})
        else:
            assert item.value is not None
            answers.append({**shown(item.value), "reference": item.reference})
    return answers


def batch_answer(
    batch: Batch[T],
    shown: Callable[[T], dict[str, Any]],
    *,
    failed: dict[str, Any] | None = None,
    failure_status: int = 200,
    partial_failure_status: int | None = None,
    warnings: list[str] | None = None,
) -> JSONResponse:
    """A batch's results. With a failed item, the status is `failure_status`, or
    `partial_failure_status` when some item succeeded and it is given."""
    status = 200
    if batch.failed:
        status = partial_failure_status if partial_failure_status and batch.succeeded else failure_status
    data = {"batch_results": results(batch, shown, failed or {})}
    return JSONResponse(
        envelope(data, warnings=[*(warnings or []), *batch.warnings] or None), status_code=status
    )


def single_answer(
    batch: Batch[T], shown: Callable[[T], dict[str, Any]], warnings: list[str] | None
) -> dict[str, Any]:
    """A request of one item: its answer, or its error raised."""
    return envelope(shown(batch.only()), warnings=[*(warnings or []), *batch.warnings] or None)


# ---- keys --------------------------------------------------------------------------------------


async def _listing(domain: Transit, mount: str) -> Response:
    names = await domain.list_keys(mount)
    if not names:
        return errors_response(404, [])
    return JSONResponse(envelope({"keys": names}))


async def read_keys(
    mount: str, listing: Listing = None, domain: Transit = Depends(transit_engine)
) -> Response:
    if listing is None or listing.lower() not in _TRUE:
        return errors_response(405, ["unsupported operation"])
    return await _listing(domain, mount)


async def list_keys(mount: str, domain: Transit = Depends(transit_engine)) -> Response:
    return await _listing(domain, mount)


for _path in ("/keys", "/keys/"):
    _slash = "_slash" if _path.endswith("/") else ""
    router.add_api_route(
        _path, read_keys, methods=["GET"], name=f"read_keys{_slash}", summary="List the keys (`?list=true`)"
    )
    router.add_api_route(
        _path, list_keys, methods=["LIST"], name=f"list_keys{_slash}", summary="List the keys"
    )


async def read_key(mount: str, name: str, domain: Transit = Depends(transit_engine)) -> dict[str, Any]:
    return key_answer(await domain.read_key(mount, name))


router.add_api_route(
    "/keys/{name}",
    read_key,
    methods=["GET"],
    route_class_override=KeyReadRoute,
    summary="Read a key (Vault's `{mount}/keys/:name`)",
)


async def create_key(
    mount: str,
    name: str,
    warnings: Warnings,
    body: KeyIn = KeyIn(),
    domain: Transit = Depends(transit_engine),
) -> dict[str, Any]:
    created = await domain.create_key(mount, name, body.options())
    return key_answer(created.key, warnings)


_writes("/keys/{name}", create_key, summary="Create a key (an existing one is answered as it is)")


@router.delete("/keys/{name}", status_code=204, summary="Delete a key (once its `deletion_allowed`)")
async def delete_key(mount: str, name: str, domain: Transit = Depends(transit_engine)) -> Response:
    await domain.delete_key(mount, name)
    return Response(status_code=204)


async def configure_key(
    mount: str,
    name: str,
    warnings: Warnings,
    body: KeyConfigIn = KeyConfigIn(),
    domain: Transit = Depends(transit_engine),
) -> dict[str, Any]:
    configured = await domain.configure_key(mount, name, body.changes())
    return key_answer(configured.key, [*(warnings or []), *configured.warnings])


_writes("/keys/{name}/config", configure_key, summary="Configure a key (minimum versions, deletion, export)")


async def rotate_key(mount: str, name: str, domain: Transit = Depends(transit_engine)) -> dict[str, Any]:
    return key_answer(await domain.rotate_key(mount, name))


_writes("/keys/{name}/rotate", rotate_key, summary="Add a key's next version")


async def trim_key(
    mount: str,
    name: str,
    warnings: Warnings,
    body: TrimIn = TrimIn(),
    domain: Transit = Depends(transit_engine),
) -> dict[str, Any]:
    if body.min_available_version is None:
        raise TransitInvalid("missing min_available_version")
    return key_answer(await domain.trim_key(mount, name, body.min_available_version), warnings)


_writes("/keys/{name}/trim", trim_key, summary="Delete a key's oldest versions for good")


# ---- encryption --------------------------------------------------------------------------------


async def may_create_keys(caller: Access, mount: str) -> bool:
    [allowed] = await caller.checks.permitted(
        caller.principal, [vault_mount(mount, "administer")], caller.at_least
    )
    return allowed


async def encrypt(
    mount: str,
    name: str,
    body: EncryptIn,
    warnings: Warnings,
    domain: Transit = Depends(transit_engine),
    caller: Access = Depends(access),
) -> Response:
    items = body.items()
    try:
        batch = await domain.encrypt(mount, name, items)
    except TransitKeyNotFound:
        if not await may_create_keys(caller, mount):
            raise
        creation = KeyCreation(type=body.type, convergent_encryption=body.convergent_encryption)
        batch = await domain.encrypt(mount, name, items, create=creation)
    if body.batch_input is None:
        return JSONResponse(single_answer(batch, _encrypted, warnings))
    return batch_answer(
        batch,
        _encrypted,
        failure_status=400,
        partial_failure_status=body.partial_failure_response_code,
        warnings=warnings,
    )


async def decrypt(
    mount: str, name: str, body: DecryptIn, warnings: Warnings, domain: Transit = Depends(transit_engine)
) -> Response:
    batch = await domain.decrypt(mount, name, body.items())
    if body.batch_input is None:
        return JSONResponse(single_answer(batch, _decrypted, warnings))
    return batch_answer(
        batch,
        _decrypted,
        failed={"plaintext": ""},
        failure_status=400,
        partial_failure_status=body.partial_failure_response_code,
        warnings=warnings,
    )


async def rewrap(
    mount: str, name: str, body: RewrapIn, warnings: Warnings, domain: Transit = Depends(transit_engine)
) -> Response:
    batch = await domain.rewrap(mount, name, body.items())
    if body.batch_input is None:
        return JSONResponse(single_answer(batch, _encrypted, warnings))
    return batch_answer(batch, _encrypted, warnings=warnings)


async def datakey(
    mount: str,
    kind: str,
    name: str,
    warnings: Warnings,
    body: DataKeyIn = DataKeyIn(),
    domain: Transit = Depends(transit_engine),
) -> dict[str, Any]:
    if kind not in DATA_KEY_KINDS:
        raise TransitInvalid("Invalid path, must be 'plaintext' or 'wrapped'")
    made: DataKey = await domain.datakey(
        mount,
        name,
        kind,
        bits=body.bits,
        context=body.context,
        nonce=body.nonce,
        key_version=body.key_version,
        associated_data=body.associated_data,
    )
    answer: dict[str, Any] = {"ciphertext": made.ciphertext, "key_version": made.key_version}
    if made.plaintext is not None:
        answer["plaintext"] = made.plaintext
    return envelope(answer, warnings=warnings)


_writes("/encrypt/{name}", encrypt, summary="Encrypt (one plaintext or a batch)")
_writes("/decrypt/{name}", decrypt, summary="Decrypt (one ciphertext or a batch)")
_writes(
    "/rewrap/{name}", rewrap, summary="Encrypt ciphertexts again with another version, never revealing them"
)
_writes("/datakey/{kind}/{name}", datakey, summary="Make a data key, encrypted by the key (and in plaintext)")


# ---- random bytes and hashes -------------------------------------------------------------------


def _byte_count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        # Vault's words (Go's), which scripts may look for.
        raise BadRequest(
            f'error parsing url-set byte count: strconv.Atoi: parsing "{text}": invalid syntax'
        ) from None


async def _random(
    domain: Transit, mount: str, count: int, body: RandomIn, source: str, warnings: list[str] | None
) -> dict[str, Any]:
    if source not in RANDOM_SOURCES:
        raise BadRequest(f'unsupported entropy source "{source}"; must be "platform" or "seal", or "all"')
    notes = [*(warnings or []), *([NO_SEAL_ENTROPY] if source == "seal" else [])]
    random_bytes = await domain.random_bytes(mount, count, body.format)
    return envelope({"random_bytes": random_bytes}, warnings=notes or None)


async def generate_random(
    mount: str, warnings: Warnings, body: RandomIn = RandomIn(), domain: Transit = Depends(transit_engine)
) -> dict[str, Any]:
    return await _random(domain, mount, body.bytes, body, body.source, warnings)


async def random_of(
    mount: str,
    part: str,
    warnings: Warnings,
    body: RandomIn = RandomIn(),
    domain: Transit = Depends(transit_engine),
) -> dict[str, Any]:
    """`random/<source>` or `random/<bytes>`, as Vault reads its optional segments."""
    if part in RANDOM_SOURCES:
        return await _random(domain, mount, body.bytes, body, part, warnings)
    return await _random(domain, mount, _byte_count(part), body, body.source, warnings)


async def random_from(
    mount: str,
    source: str,
    count: str,
    warnings: Warnings,
    body: RandomIn = RandomIn(),
    domain: Transit = Depends(transit_engine),
) -> dict[str, Any]:
    return await _random(domain, mount, _byte_count(count), body, source, warnings)


async def _hash(
    domain: Transit, mount: str, body: HashIn, algorithm: str, warnings: list[str] | None
) -> dict[str, Any]:
    if body.input is None:
        raise TransitInvalid("input missing")
    digest = await domain.hash(mount, body.input, algorithm, body.format)
    return envelope({"sum": digest}, warnings=warnings)


async def hash_input(
    mount: str, body: HashIn, warnings: Warnings, domain: Transit = Depends(transit_engine)
) -> dict[str, Any]:
    return await _hash(domain, mount, body, body.algorithm, warnings)


async def hash_with(
    mount: str, algorithm: str, body: HashIn, warnings: Warnings, domain: Transit = Depends(transit_engine)
) -> dict[str, Any]:
    return await _hash(domain, mount, body, algorithm, warnings)


_writes("/random", generate_random, summary="Random bytes")
_writes("/random/{part}", random_of, summary="Random bytes (their source, or how many, in the path)")
_writes(
    "/random/{source}/{count}", random_from, summary="Random bytes (their source and how many in the path)"
)
_writes("/hash", hash_input, summary="Hash data")
_writes("/hash/{algorithm}", hash_with, summary="Hash data (the algorithm in the path)")


# ---- HMAC and signatures -----------------------------------------------------------------------


async def _hmac_of(
    domain: Transit, mount: str, name: str, body: HmacIn, algorithm: str, warnings: list[str] | None
) -> Response:
    if body.batch_input is None:
        batch = await domain.hmac(
            mount, name, [HmacItem(body.input)], algorithm=algorithm, key_version=body.key_version
        )
        return JSONResponse(single_answer(batch, _hmac, warnings))
    items = [HmacItem(item.input, item.reference) for item in _given(body.batch_input)]
    batch = await domain.hmac(mount, name, items, algorithm=algorithm, key_version=body.key_version)
    return batch_answer(batch, _hmac, warnings=warnings)


async def generate_hmac(
    mount: str, name: str, body: HmacIn, warnings: Warnings, domain: Transit = Depends(transit_engine)
) -> Response:
    return await _hmac_of(domain, mount, name, body, body.algorithm, warnings)


async def hmac_with(
    mount: str,
    name: str,
    algorithm: str,
    body: HmacIn,
    warnings: Warnings,
    domain: Transit = Depends(transit_engine),
) -> Response:
    return await _hmac_of(domain, mount, name, body, algorithm, warnings)


async def _sign(
    domain: Transit, mount: str, name: str, body: SignIn, algorithm: str | None, warnings: list[str] | None
) -> Response:
    options = body.options(algorithm)
    if body.batch_input is None:
        one = [SignItem(body.input, body.context)]
        batch = await domain.sign(mount, name, one, options, key_version=body.key_version, batch=False)
        return JSONResponse(single_answer(batch, _signed, warnings))
    items = [SignItem(item.input, item.context, item.reference) for item in _given(body.batch_input)]
    batch = await domain.sign(mount, name, items, options, key_version=body.key_version)
    return batch_answer(batch, _signed_item, failed={"key_version": 0}, warnings=warnings)


async def sign(
    mount: str, name: str, body: SignIn, warnings: Warnings, domain: Transit = Depends(transit_engine)
) -> Response:
    return await _sign(domain, mount, name, body, None, warnings)


async def sign_with(
    mount: str,
    name: str,
    hash_algorithm: str,
    body: SignIn,
    warnings: Warnings,
    domain: Transit = Depends(transit_engine),
) -> Response:
    return await _sign(domain, mount, name, body, hash_algorithm, warnings)


async def _verify(
    domain: Transit, mount: str, name: str, body: VerifyIn, algorithm: str | None, warnings: list[str] | None
) -> Response:
    options = body.options(algorithm)
    if body.batch_input is None:
        one = [VerifyItem(body.input, body.signature, body.hmac, body.context)]
        batch = await domain.verify(mount, name, one, options, batch=False)
        return JSONResponse(single_answer(batch, lambda verified: {"valid": verified.valid}, warnings))
    items = [
        VerifyItem(item.input, item.signature, item.hmac, item.context, item.reference)
        for item in _given(body.batch_input)
    ]
    batch = await domain.verify(mount, name, items, options)
    return batch_answer(batch, _verified, warnings=warnings)


async def verify(
    mount: str, name: str, body: VerifyIn, warnings: Warnings, domain: Transit = Depends(transit_engine)
) -> Response:
    return await _verify(domain, mount, name, body, None, warnings)


async def verify_with(
    mount: str,
    name: str,
    hash_algorithm: str,
    body: VerifyIn,
    warnings: Warnings,
    domain: Transit = Depends(transit_engine),
) -> Response:
    return await _verify(domain, mount, name, body, hash_algorithm, warnings)


_writes("/hmac/{name}", generate_hmac, summary="HMAC of data with the key")
_writes(
    "/hmac/{name}/{algorithm}", hmac_with, summary="HMAC of data with the key (the algorithm in the path)"
)
_writes("/sign/{name}", sign, summary="Sign data with the key")
_writes("/sign/{name}/{hash_algorithm}", sign_with, summary="Sign data with the key (the hash in the path)")
_writes("/verify/{name}", verify, summary="Verify a signature or an HMAC")
_writes(
    "/verify/{name}/{hash_algorithm}",
    verify_with,
    summary="Verify a signature or an HMAC (the hash in the path)",
)


# ---- backup ------------------------------------------------------------------------------------


@router.get("/backup/{name}", summary="Back a key up (when it is exportable and allows plaintext backups)")
async def backup_key(mount: str, name: str, domain: Transit = Depends(transit_engine)) -> dict[str, Any]:
    return envelope({"backup": await domain.backup(mount, name)})


async def restore_key(
    mount: str, body: RestoreIn = RestoreIn(), domain: Transit = Depends(transit_engine)
) -> Response:
    await domain.restore(mount, body.backup, name=body.name, force=body.force)
    return Response(status_code=204)


async def restore_key_as(
    mount: str, name: str, body: RestoreIn = RestoreIn(), domain: Transit = Depends(transit_engine)
) -> Response:
    await domain.restore(mount, body.backup, name=name, force=body.force)
    return Response(status_code=204)


_writes("/restore", restore_key, status_code=204, summary="Restore a backed-up key under its own name")
_writes("/restore/{name}", restore_key_as, status_code=204, summary="Restore a backed-up key under a name")
