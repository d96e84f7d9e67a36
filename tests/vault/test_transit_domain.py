"""Transit's rules on each backend: every key type, derivation, associated data, batches, rotation
and rewrap, minimum versions and trimming, deletion, backup and restore, stored keys bound to their
place, tampered ciphertexts, and sealing."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from assay_common.errors import Sealed
from assay_vault.domain.keyring import RecordIntegrityFailed
from assay_vault.domain.kv_mounts import KvConfigChanges, MountNotFound
from assay_vault.domain.transit import (
    KEY_TYPES,
    BackupNotAllowed,
    DecryptItem,
    DeletionNotAllowed,
    EncryptItem,
    HmacItem,
    InvalidBackup,
    InvalidCiphertext,
    KeyConfigChanges,
    KeyCreation,
    KeyOptions,
    RewrapItem,
    SignatureOptions,
    SignItem,
    TransitInvalid,
    TransitKeyExists,
    TransitKeyNotFound,
    VerifyItem,
)
from assay_vault.store.tables import outbox, transit_key_versions, transit_keys
from tests.vault.transit_support import MOUNT, TransitStore, transit_store

SIGNING = ("ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "ed25519", "rsa-2048", "rsa-3072", "rsa-4096")
ENCRYPTING = ("aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "rsa-2048", "rsa-3072", "rsa-4096")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
async def store(database_url: str, unique: str) -> AsyncIterator[TransitStore]:
    async with transit_store(database_url, unique) as found:
        yield found


async def encrypt(
    store: TransitStore,
    name: str,
    plaintext: bytes,
    context: str = "",
    associated_data: str = "",
    key_version: int = 0,
) -> str:
    item = EncryptItem(b64(plaintext), context, key_version, associated_data)
    return (await store.transit.encrypt(MOUNT, name, [item])).only().ciphertext


async def decrypt(
    store: TransitStore, name: str, ciphertext: str, context: str = "", associated_data: str = ""
) -> bytes:
    item = DecryptItem(ciphertext, context, associated_data)
    return base64.b64decode((await store.transit.decrypt(MOUNT, name, [item])).only().plaintext)


async def test_every_key_type_round_trips(store: TransitStore) -> None:
    transit = store.transit
    for kind in KEY_TYPES:
        key = (await transit.create_key(MOUNT, kind, KeyOptions(type=kind))).key
        assert (key.type, key.latest_version, key.min_decryption_version) == (kind, 1, 1)
        assert key.supports_encryption == (kind in ENCRYPTING)
        assert key.supports_signing == (kind in SIGNING)
        if kind in ENCRYPTING:
            ciphertext = await encrypt(store, kind, b"attack at dawn")
            assert ciphertext.startswith("vault:v1:")
            assert await decrypt(store, kind, ciphertext) == b"attack at dawn"
        else:
            with pytest.raises(TransitInvalid, match="not supported for key type"):
                await encrypt(store, kind, b"x")
        if kind in SIGNING:
            signed = (await transit.sign(MOUNT, kind, [SignItem(b64(b"msg"))], SignatureOptions())).only()
            for message, valid in ((b"msg", True), (b"other", False)):
                item = VerifyItem(b64(message), signature=signed.signature)
                verified = await transit.verify(MOUNT, kind, [item], SignatureOptions(), batch=False)
                assert verified.only().valid is valid
        made = (await transit.hmac(MOUNT, kind, [HmacItem(b64(b"msg"))])).only().hmac
        item = VerifyItem(b64(b"msg"), hmac=made)
        assert (await transit.verify(MOUNT, kind, [item], SignatureOptions(), batch=False)).only().valid
    assert await transit.list_keys(MOUNT) == sorted(KEY_TYPES)


async def test_the_key_document_is_vaults(store: TransitStore) -> None:
    transit = store.transit
    ecdsa = (await transit.create_key(MOUNT, "ec", KeyOptions(type="ecdsa-p256"))).key
    (version,) = ecdsa.versions
    assert (version.version, version.name) == (1, "P-256")
    assert version.public_key is not None
    public = serialization.load_pem_public_key(version.public_key.encode())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    aes = (await transit.create_key(MOUNT, "aes", KeyOptions())).key
    assert aes.type == "aes256-gcm96" and aes.kdf is None and aes.versions[0].public_key is None
    hmac = (await transit.create_key(MOUNT, "mac", KeyOptions(type="hmac", key_size=64))).key
    assert (hmac.key_size, hmac.versions) == (64, [])
    derived = (await transit.create_key(MOUNT, "d", KeyOptions(derived=True, convergent_encryption=True))).key
    assert (derived.kdf, derived.convergent_encryption_version) == ("hkdf_sha256", 3)
    again = await transit.create_key(MOUNT, "aes", KeyOptions(type="rsa-2048"))
    assert not again.created and again.key.type == "aes256-gcm96"
    with pytest.raises(TransitKeyNotFound):
        await transit.read_key(MOUNT, "missing")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (KeyOptions(type="des"), "unknown key type des"),
        (KeyOptions(convergent_encryption=True), "convergent encryption requires derivation to be enabled"),
        (KeyOptions(key_size=64), "key_size is not valid for algorithm aes256-gcm96"),
        (KeyOptions(type="hmac", key_size=16), "invalid key_size 16"),
        (KeyOptions(type="ecdsa-p256", derived=True), "not supported for keys of type ecdsa-p256"),
        (KeyOptions(type="ed25519", derived=True, convergent_encryption=True), "convergent encryption not"),
        (KeyOptions(auto_rotate_period=60), "auto rotate period must be 0 to disable or at least an hour"),
    ],
)
async def test_bad_creations_are_refused_and_create_nothing(
    store: TransitStore, options: KeyOptions, message: str
) -> None:
    with pytest.raises(TransitInvalid, match=message) as raised:
        await store.transit.create_key(MOUNT, "k", options)
    assert raised.value.status == 400
    assert await store.transit.list_keys(MOUNT) == []


async def test_derived_keys_need_their_context(store: TransitStore) -> None:
    await store.transit.create_key(MOUNT, "derived", KeyOptions(derived=True))
    context = b64(b"tenant-1")
    ciphertext = await encrypt(store, "derived", b"secret", context=context)
    assert await decrypt(store, "derived", ciphertext, context=context) == b"secret"
    with pytest.raises(InvalidCiphertext, match="message authentication failed"):
        await decrypt(store, "derived", ciphertext, context=b64(b"tenant-2"))
    with pytest.raises(TransitInvalid, match="missing 'context' for key derivation"):
        await encrypt(store, "derived", b"secret")


async def test_convergent_keys_encrypt_alike_only_within_a_context(store: TransitStore) -> None:
    await store.transit.create_key(MOUNT, "conv", KeyOptions(derived=True, convergent_encryption=True))
    first = await encrypt(store, "conv", b"same", context=b64(b"a"))
    assert await encrypt(store, "conv", b"same", context=b64(b"a")) == first
    assert await encrypt(store, "conv", b"same", context=b64(b"b")) != first
    assert await encrypt(store, "conv", b"other", context=b64(b"a")) != first
    assert await decrypt(store, "conv", first, context=b64(b"a")) == b"same"


async def test_associated_data_is_bound_to_the_ciphertext(store: TransitStore) -> None:
    await store.transit.create_key(MOUNT, "aead", KeyOptions(type="chacha20-poly1305"))
    ciphertext = await encrypt(store, "aead", b"pay 10", associated_data=b64(b"order-7"))
    assert await decrypt(store, "aead", ciphertext, associated_data=b64(b"order-7")) == b"pay 10"
    for wrong in ("", b64(b"order-8")):
        with pytest.raises(InvalidCiphertext):
            await decrypt(store, "aead", ciphertext, associated_data=wrong)
    await store.transit.create_key(MOUNT, "rsa", KeyOptions(type="rsa-2048"))
    with pytest.raises(TransitInvalid, match="provided for non-AEAD cipher suite rsa-2048"):
        await encrypt(store, "rsa", b"x", associated_data=b64(b"ad"))
    with pytest.raises(TransitInvalid, match="message too long for RSA key size"):
        await encrypt(store, "rsa", bytes(300))


async def test_a_batch_answers_each_item_and_a_bad_one_spoils_only_itself(store: TransitStore) -> None:
    await store.transit.create_key(MOUNT, "k", KeyOptions())
    items = [
        EncryptItem(b64(b"one"), reference="a"),
        EncryptItem("not base64!", reference="b"),
        EncryptItem(b64(b"3")),
    ]
    batch = await store.transit.encrypt(MOUNT, "k", items)
    assert [item.reference for item in batch.items] == ["a", "b", ""]
    assert batch.failed and batch.succeeded
    bad = batch.items[1]
    assert bad.value is None and bad.error is not None and "illegal base64 data" in bad.error.detail
    ciphertexts = [item.value.ciphertext for item in batch.items if item.value]
    decrypted = await store.transit.decrypt(
        MOUNT, "k", [DecryptItem(c) for c in ciphertexts] + [DecryptItem("vault:v1:")]
    )
    assert [item.value.plaintext for item in decrypted.items[:2] if item.value] == [b64(b"one"), b64(b"3")]
    assert isinstance(decrypted.items[2].error, InvalidCiphertext)
    with pytest.raises(
        TransitInvalid, match="context should be set either in all the request blocks or in none"
    ):
        await store.transit.encrypt(
            MOUNT, "k", [EncryptItem(b64(b"x"), context=b64(b"c")), EncryptItem(b64(b"y"))]
        )
    with pytest.raises(TransitInvalid, match="missing batch input to process"):
        await store.transit.encrypt(MOUNT, "k", [])


async def test_encrypt_creates_a_missing_key_only_when_asked(store: TransitStore) -> None:
    with pytest.raises(TransitKeyNotFound, match="encryption key not found"):
        await encrypt(store, "new", b"x")
    creation = KeyCreation(type="aes128-gcm96")
    batch = await store.transit.encrypt(MOUNT, "new", [EncryptItem(b64(b"x"))], create=creation)
    assert await decrypt(store, "new", batch.only().ciphertext) == b"x"
    assert (await store.transit.read_key(MOUNT, "new")).type == "aes128-gcm96"


async def test_rewrap_moves_ciphertexts_to_the_latest_version(store: TransitStore) -> None:
    await store.transit.create_key(MOUNT, "k", KeyOptions())
    old = await encrypt(store, "k", b"payload")
    rotated = await store.transit.rotate_key(MOUNT, "k")
    assert rotated.latest_version == 2 and [v.version for v in rotated.versions] == [1, 2]
    rewrapped = (await store.transit.rewrap(MOUNT, "k", [RewrapItem(old)])).only()
    assert rewrapped.key_version == 2 and rewrapped.ciphertext.startswith("vault:v2:")
    assert await decrypt(store, "k", rewrapped.ciphertext) == b"payload"
    assert (await encrypt(store, "k", b"new")).startswith("vault:v2:")
    assert (await encrypt(store, "k", b"new", key_version=1)).startswith("vault:v1:")
    with pytest.raises(TransitInvalid, match="higher than the latest key version"):
        await encrypt(store, "k", b"new", key_version=3)


async def test_min_decryption_version_refuses_older_ciphertexts(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions())
    v1 = await encrypt(store, "k", b"one")
    await transit.rotate_key(MOUNT, "k")
    await transit.rotate_key(MOUNT, "k")
    configured = await transit.configure_key(MOUNT, "k", KeyConfigChanges(min_decryption_version=2))
    assert [v.version for v in configured.key.versions] == [2, 3]
    with pytest.raises(InvalidCiphertext, match="disallowed by policy") as raised:
        await decrypt(store, "k", v1)
    assert raised.value.status == 400
    with pytest.raises(
        TransitInvalid, match="cannot set min decryption version of 5, latest key version is 3"
    ):
        await transit.configure_key(MOUNT, "k", KeyConfigChanges(min_decryption_version=5))
    with pytest.raises(TransitInvalid, match="min encryption version of 1 must be greater than or equal"):
        await transit.configure_key(MOUNT, "k", KeyConfigChanges(min_encryption_version=1))
    forced = await transit.configure_key(MOUNT, "k", KeyConfigChanges(min_decryption_version=0))
    assert forced.key.min_decryption_version == 1 and "forcing minimum to 1" in forced.warnings[0]
    assert await decrypt(store, "k", v1) == b"one"


async def test_trim_follows_vaults_rules(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions())
    v1 = await encrypt(store, "k", b"one")
    for _ in range(3):
        await transit.rotate_key(MOUNT, "k")
    with pytest.raises(TransitInvalid, match="minimum encryption version is not set"):
        await transit.trim_key(MOUNT, "k", 2)
    await transit.configure_key(
        MOUNT, "k", KeyConfigChanges(min_decryption_version=3, min_encryption_version=3)
    )
    with pytest.raises(TransitInvalid, match="greater than minmum encryption version"):
        await transit.trim_key(MOUNT, "k", 4)
    with pytest.raises(TransitInvalid, match="should be positive"):
        await transit.trim_key(MOUNT, "k", 0)
    trimmed = await transit.trim_key(MOUNT, "k", 3)
    assert trimmed.min_available_version == 3
    async with store.db.read() as conn:
        query = sa.select(transit_key_versions.c.version).where(transit_key_versions.c.name == "k")
        assert sorted((await conn.execute(query)).scalars()) == [3, 4]
    with pytest.raises(TransitInvalid, match="cannot be decremented"):
        await transit.trim_key(MOUNT, "k", 2)
    with pytest.raises(TransitInvalid, match="min decryption version should not be less then min available"):
        await transit.configure_key(MOUNT, "k", KeyConfigChanges(min_decryption_version=2))
    with pytest.raises(InvalidCiphertext, match="disallowed by policy"):
        await decrypt(store, "k", v1)


async def test_only_keys_allowing_deletion_are_deleted(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions())
    with pytest.raises(DeletionNotAllowed, match="deletion is not allowed for this key") as raised:
        await transit.delete_key(MOUNT, "k")
    assert raised.value.status == 400
    await transit.configure_key(MOUNT, "k", KeyConfigChanges(deletion_allowed=True))
    await transit.delete_key(MOUNT, "k")
    with pytest.raises(TransitKeyNotFound):
        await transit.read_key(MOUNT, "k")
    with pytest.raises(TransitKeyNotFound):
        await transit.delete_key(MOUNT, "k")


async def test_export_and_plaintext_backup_stay_on_once_on(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions(exportable=True))
    on = KeyConfigChanges(allow_plaintext_backup=True)
    assert (await transit.configure_key(MOUNT, "k", on)).key.allow_plaintext_backup
    off = KeyConfigChanges(exportable=False, allow_plaintext_backup=False)
    key = (await transit.configure_key(MOUNT, "k", off)).key
    assert key.exportable and key.allow_plaintext_backup


async def test_backup_delete_restore_keeps_old_ciphertexts_readable(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions())
    with pytest.raises(BackupNotAllowed, match="exporting is disallowed"):
        await transit.backup(MOUNT, "k")
    v1 = await encrypt(store, "k", b"first")
    await transit.rotate_key(MOUNT, "k")
    v2 = await encrypt(store, "k", b"second")
    await transit.configure_key(
        MOUNT, "k", KeyConfigChanges(exportable=True, allow_plaintext_backup=True, deletion_allowed=True)
    )
    backup = await transit.backup(MOUNT, "k")
    assert (await transit.read_key(MOUNT, "k")).backup_info is not None
    document = json.loads(base64.b64decode(backup))
    assert (document["format"], document["format_version"]) == ("assay.vault.transit.backup", 1)
    await transit.delete_key(MOUNT, "k")
    restored = await transit.restore(MOUNT, backup)
    assert (restored.name, restored.latest_version) == ("k", 2)
    assert restored.restore_info is not None and restored.restore_info.version == 2
    assert await decrypt(store, "k", v1) == b"first" and await decrypt(store, "k", v2) == b"second"
    with pytest.raises(TransitKeyExists, match='key "k" already exists'):
        await transit.restore(MOUNT, backup)
    await transit.restore(MOUNT, backup, force=True)
    await transit.restore(MOUNT, backup, name="copy")
    assert await decrypt(store, "copy", v1) == b"first"


async def test_a_backup_that_is_not_one_is_refused(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions(exportable=True, allow_plaintext_backup=True))
    document = json.loads(base64.b64decode(await transit.backup(MOUNT, "k")))
    short_key = json.loads(json.dumps(document))
    short_key["key"]["versions"][0]["key"] = b64(b"short")
    missing_version = json.loads(json.dumps(document))
    missing_version["key"]["latest_version"] = 2
    for blob in (
        "not base64!",
        b64(b"{}"),
        b64(json.dumps(short_key).encode()),
        b64(json.dumps(missing_version).encode()),
    ):
        with pytest.raises(InvalidBackup) as raised:
            await transit.restore(MOUNT, blob, name="other")
        assert raised.value.status == 400 and "short" not in raised.value.detail
    assert await transit.list_keys(MOUNT) == ["k"]


async def test_a_stored_key_altered_or_moved_fails_closed(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "a", KeyOptions())
    await transit.create_key(MOUNT, "b", KeyOptions())
    ciphertext = await encrypt(store, "b", b"b's secret")
    table = transit_key_versions
    async with store.db.transaction() as tx:
        moved = (await tx.execute(sa.select(table.c.sealed_key).where(table.c.name == "a"))).scalar_one()
        await tx.execute(table.update().where(table.c.name == "b").values(sealed_key=moved))
    with pytest.raises(RecordIntegrityFailed):
        await decrypt(store, "b", ciphertext)
    async with store.db.transaction() as tx:
        await tx.execute(
            table.update().where(table.c.name == "a").values(sealed_key=moved[:-1] + bytes([moved[-1] ^ 1]))
        )
    with pytest.raises(RecordIntegrityFailed):
        await encrypt(store, "a", b"x")
    await transit.create_key(MOUNT, "c", KeyOptions())
    async with store.db.transaction() as tx:
        await tx.execute(
            transit_keys.update().where(transit_keys.c.name == "c").values(type="chacha20-poly1305")
        )
    with pytest.raises(RecordIntegrityFailed):
        await encrypt(store, "c", b"x")


async def test_a_tampered_ciphertext_is_a_bad_request(store: TransitStore) -> None:
    await store.transit.create_key(MOUNT, "k", KeyOptions())
    await store.transit.create_key(MOUNT, "other", KeyOptions())
    ciphertext = await encrypt(store, "k", b"value")
    raw = base64.b64decode(ciphertext.removeprefix("vault:v1:"))
    flipped = "vault:v1:" + b64(raw[:-1] + bytes([raw[-1] ^ 1]))
    cases = {
        flipped: "message authentication failed",
        "vault:v1:" + b64(raw[:8]): "invalid ciphertext length",
        "vault:v1:!!!": "could not decode base64",
        "vault:v9:" + b64(raw): "version is too new",
        "vault:vX:" + b64(raw): "version number could not be decoded",
        "vault:v1": "wrong number of fields",
        "hello": "no prefix",
    }
    for bad, message in cases.items():
        with pytest.raises(InvalidCiphertext, match=message) as raised:
            await decrypt(store, "k", bad)
        assert raised.value.status == 400
    with pytest.raises(InvalidCiphertext):
        await decrypt(store, "other", ciphertext)


async def test_signature_options(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "rsa", KeyOptions(type="rsa-2048"))
    await transit.create_key(MOUNT, "ec", KeyOptions(type="ecdsa-p256"))
    digest = hashlib.sha256(b"msg").digest()
    option_sets = [
        ("rsa", SignatureOptions(signature_algorithm="pkcs1v15", hash_algorithm="sha2-512")),
        ("rsa", SignatureOptions(salt_length="hash")),
        ("rsa", SignatureOptions(salt_length="20")),
        ("rsa", SignatureOptions(hash_algorithm="none", prehashed=True, signature_algorithm="pkcs1v15")),
        ("ec", SignatureOptions(marshaling_algorithm="jws")),
        ("ec", SignatureOptions(prehashed=True)),
    ]
    for name, options in option_sets:
        data = digest if options.prehashed else b"msg"
        signed = (await transit.sign(MOUNT, name, [SignItem(b64(data))], options)).only()
        check = VerifyItem(b64(data), signature=signed.signature)
        assert (await transit.verify(MOUNT, name, [check], options)).only().valid, options
    with pytest.raises(TransitInvalid, match="hash_algorithm=none requires"):
        await transit.sign(MOUNT, "rsa", [SignItem(b64(b"m"))], SignatureOptions(hash_algorithm="none"))
    with pytest.raises(TransitInvalid, match='invalid hash algorithm "md5"'):
        await transit.sign(MOUNT, "rsa", [SignItem(b64(b"m"))], SignatureOptions(hash_algorithm="md5"))
    # A PSS signature by the key's public half verifies with any outside RSA implementation.
    signed = (await transit.sign(MOUNT, "rsa", [SignItem(b64(b"m"))], SignatureOptions())).only()
    public_pem = (await transit.read_key(MOUNT, "rsa")).versions[0].public_key
    assert public_pem is not None
    public = serialization.load_pem_public_key(public_pem.encode())
    assert isinstance(public, rsa.RSAPublicKey)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    public.verify(base64.b64decode(signed.signature.split(":")[2]), b"m", pss, hashes.SHA256())
    bad = VerifyItem(b64(b"m"), signature="vault:v1:" + b64(b"garbage"))
    with pytest.raises(InvalidCiphertext, match="supplied signature is invalid"):
        (await transit.verify(MOUNT, "ec", [bad], SignatureOptions())).only()


async def test_verification_takes_signatures_or_hmacs_as_vault(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "ed", KeyOptions(type="ed25519"))
    both = VerifyItem(b64(b"m"), signature="vault:v1:AA==", hmac="vault:v1:AA==")
    with pytest.raises(TransitInvalid, match="provide one of 'signature' or 'hmac'"):
        await transit.verify(MOUNT, "ed", [both], SignatureOptions(), batch=False)
    mixed = [VerifyItem(b64(b"m"), signature="vault:v1:AA=="), VerifyItem(b64(b"m"), hmac="vault:v1:AA==")]
    with pytest.raises(TransitInvalid, match="must all provide 'signature' or all provide 'hmac'"):
        await transit.verify(MOUNT, "ed", mixed, SignatureOptions())
    with pytest.raises(TransitInvalid, match="neither a 'signature' nor an 'hmac'"):
        await transit.verify(MOUNT, "ed", [VerifyItem(b64(b"m"))], SignatureOptions(), batch=False)


async def test_datakeys_hashes_and_random_bytes(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions())
    made = await transit.datakey(MOUNT, "k", "plaintext", bits=512)
    assert made.plaintext is not None and len(base64.b64decode(made.plaintext)) == 64
    assert await decrypt(store, "k", made.ciphertext) == base64.b64decode(made.plaintext)
    assert (await transit.datakey(MOUNT, "k", "wrapped")).plaintext is None
    with pytest.raises(TransitInvalid, match="invalid bit length"):
        await transit.datakey(MOUNT, "k", "wrapped", bits=64)
    assert await transit.hash(MOUNT, b64(b"hello")) == hashlib.sha256(b"hello").hexdigest()
    assert await transit.hash(MOUNT, b64(b"hi"), "sha3-512", "base64") == b64(
        hashlib.sha3_512(b"hi").digest()
    )
    with pytest.raises(TransitInvalid, match="unsupported algorithm"):
        await transit.hash(MOUNT, b64(b"hi"), "md5")
    assert len(bytes.fromhex(await transit.random_bytes(MOUNT, 16, "hex"))) == 16
    with pytest.raises(TransitInvalid, match='"bytes" should be less than'):
        await transit.random_bytes(MOUNT, 10**6)


async def test_transit_and_kv_mounts_serve_only_their_own_engine(store: TransitStore) -> None:
    await store.mounts.enable("secret", "kv", {"version": "2"})
    with pytest.raises(MountNotFound):
        await store.transit.create_key("secret", "k", KeyOptions())
    with pytest.raises(MountNotFound):
        await store.kv.write(MOUNT, "app/db", {"pw": "x"})
    with pytest.raises(MountNotFound):
        await store.mounts.configure(MOUNT, KvConfigChanges(max_versions=3))
    with pytest.raises(MountNotFound):
        await store.mounts.get(MOUNT, engine="kv")
    assert (await store.mounts.get(MOUNT)).type == "transit"


async def test_changes_publish_events_without_key_material(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions(exportable=True, allow_plaintext_backup=True))
    await transit.rotate_key(MOUNT, "k")
    await transit.configure_key(
        MOUNT,
        "k",
        KeyConfigChanges(min_decryption_version=2, min_encryption_version=2, deletion_allowed=True),
    )
    await transit.trim_key(MOUNT, "k", 2)
    backup = await transit.backup(MOUNT, "k")
    await transit.delete_key(MOUNT, "k")
    await transit.restore(MOUNT, backup)
    async with store.db.read() as conn:
        bodies = list((await conn.execute(sa.select(outbox.c.body).order_by(outbox.c.id))).scalars())
    events = [json.loads(body) for body in bodies]
    types = [event["type"].removeprefix("assay.vault.") for event in events if "transit" in event["type"]]
    assert types == [
        "transit_key_created",
        "transit_key_rotated",
        "transit_key_config_written",
        "transit_key_trimmed",
        "transit_key_deleted",
        "transit_key_restored",
    ]
    material = json.loads(base64.b64decode(backup))["key"]["versions"][0]["key"]
    assert all(material.encode() not in body for body in bodies)


async def test_every_operation_is_refused_while_sealed(store: TransitStore) -> None:
    transit = store.transit
    await transit.create_key(MOUNT, "k", KeyOptions())
    ciphertext = await encrypt(store, "k", b"x")
    store.keyring.wipe()
    operations = [
        transit.create_key(MOUNT, "n", KeyOptions()),
        transit.read_key(MOUNT, "k"),
        transit.list_keys(MOUNT),
        transit.rotate_key(MOUNT, "k"),
        transit.configure_key(MOUNT, "k", KeyConfigChanges(deletion_allowed=True)),
        transit.encrypt(MOUNT, "k", [EncryptItem(b64(b"x"))]),
        transit.decrypt(MOUNT, "k", [DecryptItem(ciphertext)]),
        transit.hmac(MOUNT, "k", [HmacItem(b64(b"x"))]),
        transit.datakey(MOUNT, "k", "wrapped"),
        transit.hash(MOUNT, b64(b"x")),
        transit.random_bytes(MOUNT),
        transit.backup(MOUNT, "k"),
    ]
    for operation in operations:
        with pytest.raises(Sealed):
            await operation
