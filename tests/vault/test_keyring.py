"""The key hierarchy and the key shares: what the vault's secrets at rest rely on."""

from __future__ import annotations

import base64
import itertools
import os

import pytest

from assay_common.errors import Sealed
from assay_vault.domain import shamir
from assay_vault.domain.ciphers import RecordCipher, place
from assay_vault.domain.keyring import (
    Keyring,
    KeyVersionNotLoaded,
    RecordIntegrityFailed,
    new_key,
    root_check,
    root_key_matches,
    unwrap_kek,
    wrap_kek,
)

SECRET = b'{"password": "hunter2"}'


def unsealed(versions: int = 1) -> tuple[Keyring, bytes]:
    """A keyring unsealed with a fresh root key and `versions` KEK versions; and the root key."""
    root = bytes(new_key())
    keyring = Keyring()
    wrapped = {version: wrap_kek(root, version, new_key()) for version in range(1, versions + 1)}
    keyring.install(bytearray(root), wrapped, epoch=1)
    return keyring, root


def test_any_threshold_of_the_shares_rebuild_the_root_key_and_fewer_do_not() -> None:
    root = os.urandom(32)
    shares = shamir.split(root, 5, 3)

    assert [len(share) for share in shares] == [33] * 5
    assert sorted(share[0] for share in shares) == [1, 2, 3, 4, 5]
    for chosen in itertools.combinations(shares, 3):
        assert shamir.combine(chosen) == root
    assert shamir.combine(shares[:2]) != root


def test_one_share_of_threshold_one_is_the_whole_key() -> None:
    root = os.urandom(32)

    assert shamir.combine(shamir.split(root, 1, 1)) == root


@pytest.mark.parametrize(("shares", "threshold"), [(0, 1), (1, 0), (3, 4), (256, 3), (3, 1)], ids=str)
def test_vaults_rules_for_a_seal_configuration_hold(shares: int, threshold: int) -> None:
    with pytest.raises(shamir.InvalidSealConfig):
        shamir.check_config(shares, threshold)


def test_a_share_is_read_back_from_its_hex_or_base64_text() -> None:
    shares = shamir.split(os.urandom(32), 3, 2)
    hex_texts, base64_texts = shamir.texts(shares)

    assert [shamir.decode_share(text) for text in hex_texts] == shares
    assert [shamir.decode_share(text) for text in base64_texts] == shares
    assert base64.b64decode(base64_texts[0]) == bytes.fromhex(hex_texts[0])


@pytest.mark.parametrize(
    "text", ["", "zz", "00" * 33, "ab" * 32, base64.b64encode(b"x" * 40).decode(), "not a key"]
)
def test_anything_else_is_not_a_share(text: str) -> None:
    with pytest.raises(shamir.MalformedShare):
        shamir.decode_share(text)


def test_the_root_check_proves_the_right_root_key_only() -> None:
    root = new_key()
    check = root_check(root)

    assert root_key_matches(root, check)
    assert not root_key_matches(new_key(), check)


def test_a_kek_opens_only_under_its_own_version() -> None:
    root, kek = new_key(), new_key()
    wrapped = wrap_kek(root, 2, kek)

    assert unwrap_kek(root, 2, wrapped) == kek
    with pytest.raises(RecordIntegrityFailed):
        unwrap_kek(root, 3, wrapped)


def test_a_record_opens_where_it_was_sealed() -> None:
    keyring, _ = unsealed()
    cipher: RecordCipher = keyring
    where = place("kv", "secret", "app/db", 1)

    record = cipher.seal(SECRET, where)

    assert SECRET not in record
    assert cipher.open(record, where) == SECRET
    assert cipher.seal(SECRET, where) != record  # a fresh data key and nonces every time


@pytest.mark.parametrize(
    "elsewhere",
    [
        place("kv", "secret", "app/db", 2),  # another version
        place("kv", "secret", "app/dc", 1),  # another path
        place("kv", "other", "app/db", 1),  # another mount
        place("kv", "secret/app", "db", 1),  # the same characters, split differently
    ],
)
def test_a_record_moved_elsewhere_fails_closed(elsewhere: bytes) -> None:
    keyring, _ = unsealed()
    record = keyring.seal(SECRET, place("kv", "secret", "app/db", 1))

    with pytest.raises(RecordIntegrityFailed) as failure:
        keyring.open(record, elsewhere)
    assert "hunter2" not in failure.value.detail


def test_a_changed_byte_anywhere_fails_closed() -> None:
    keyring, _ = unsealed(versions=2)
    where = place("kv", "secret", "app", 1)
    record = keyring.seal(SECRET, where)

    for index in range(len(record)):
        tampered = bytearray(record)
        tampered[index] ^= 0x01
        with pytest.raises((RecordIntegrityFailed, KeyVersionNotLoaded)):
            keyring.open(bytes(tampered), where)
    for truncated in (b"", record[:10], record[:-1]):
        with pytest.raises(RecordIntegrityFailed):
            keyring.open(truncated, where)


def test_new_records_use_the_newest_kek_and_older_ones_still_open() -> None:
    keyring, _ = unsealed()
    where = place("kv", "secret", "app", 1)
    old = keyring.seal(SECRET, where)

    keyring.add_kek(2, keyring.new_kek(2))
    new = keyring.seal(SECRET, where)

    assert keyring.kek_version == 2
    assert (old[1:5], new[1:5]) == ((1).to_bytes(4, "big"), (2).to_bytes(4, "big"))
    assert keyring.open(old, where) == keyring.open(new, where) == SECRET


def test_a_record_of_a_kek_not_loaded_yet_asks_for_it_and_fails_for_now() -> None:
    writer, root = unsealed()
    reader = Keyring()
    reader.install(bytearray(root), {1: wrap_kek(root, 1, new_key())}, epoch=1)
    writer_kek_1 = writer.seal(SECRET, b"here")  # of the writer's own KEK v1: not the reader's
    asked: list[int] = []
    reader.on_unknown_version = asked.append
    wrapped = writer.new_kek(7)
    writer.add_kek(7, wrapped)

    with pytest.raises(KeyVersionNotLoaded):
        reader.open(writer.seal(SECRET, b"here"), b"here")
    assert asked == [7]
    reader.add_kek(7, wrapped)
    assert reader.open(writer.seal(SECRET, b"here"), b"here") == SECRET
    with pytest.raises(RecordIntegrityFailed):
        reader.open(writer_kek_1, b"here")


def test_a_sealed_keyring_neither_seals_nor_opens_and_wiping_forgets_the_keys() -> None:
    keyring, _ = unsealed()
    record = keyring.seal(SECRET, b"here")
    held = keyring._unsealed()
    root, kek = held.root, held.keks[1]

    keyring.wipe()

    assert keyring.sealed and keyring.kek_version is None and keyring.epoch is None
    assert root == bytes(32) and kek == bytes(32)
    with pytest.raises(Sealed):
        keyring.seal(SECRET, b"here")
    with pytest.raises(Sealed):
        keyring.open(record, b"here")


def test_a_record_kept_opened_is_built_once_until_the_vault_is_sealed() -> None:
    root = bytes(new_key())
    wrapped = {1: wrap_kek(root, 1, new_key())}
    keyring = Keyring()
    keyring.install(bytearray(root), wrapped, epoch=1)
    where = place("transit", "keys", "k", 1)
    record = keyring.seal(SECRET, where)
    built: list[bytes] = []

    def build(plaintext: bytes) -> str:
        built.append(plaintext)
        return plaintext.decode()

    first = keyring.open_kept(record, where, "text", build)
    again = keyring.open_kept(record, where, "text", build)

    assert first == again == SECRET.decode() and built == [SECRET]
    keyring.open_kept(record, where, "another kind", build)  # kept apart by kind
    assert len(built) == 2
    keyring.wipe()
    with pytest.raises(Sealed):
        keyring.open_kept(record, where, "text", build)
    keyring.install(bytearray(root), wrapped, epoch=2)  # unsealed again: opened anew
    assert keyring.open_kept(record, where, "text", build) == SECRET.decode() and len(built) == 3


def test_a_record_kept_opened_is_not_what_an_altered_or_moved_copy_opens_to() -> None:
    keyring, _ = unsealed()
    where = place("transit", "keys", "k", 1)
    record = keyring.seal(SECRET, where)
    keyring.open_kept(record, where, "bytes", bytes)

    with pytest.raises(RecordIntegrityFailed):
        keyring.open_kept(record, place("transit", "keys", "other", 1), "bytes", bytes)
    tampered = bytearray(record)
    tampered[-1] ^= 0x01
    with pytest.raises(RecordIntegrityFailed):
        keyring.open_kept(bytes(tampered), where, "bytes", bytes)
