"""hvac's Transit, side by side: one scenario run against OpenBao's dev server and against Assay
must give the same answers — results, status codes, hvac's exception classes and error messages —
apart from what differs by nature and the differences listed in `KNOWN_DIFFERENCES` (and, for
messages only, in `OWN_WORDS`).

It covers every Transit method of hvac (create_key of each type, read_key, list_keys, delete_key,
update_key_configuration, rotate_key, encrypt_data, decrypt_data, rewrap_data, generate_data_key,
generate_random_bytes, hash_data, generate_hmac, sign_data, verify_signed_data, backup_key,
restore_key, trim_key) with their options and their refusals, and the transit mounts of
`sys/mounts`.

What differs by nature is compared by its shape: a ciphertext or HMAC by its version and its
length in bytes (so the format is Vault's: nonce, ciphertext, tag), a signature by its version
(and by verifying on its own side), random bytes and data keys by their length, public keys by
their form, a backup not at all (its format is each server's own; it is restored on its own side).
A ciphertext made on one side never goes to the other. Error messages are compared without the
wrapping Go's multierror adds to OpenBao's 500s ("1 error occurred: * …").
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import hashlib
import re
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import hvac
import pytest

from tests.conftest import Stack
from tests.vault.differential import (
    Bao,
    Outcomes,
    assert_same_answers,
    normalized,
    openbao_dev_server,
    outcome,
)

#: A refusal OpenBao answers with a 500 (hvac: InternalServerError) where Assay answers 400.
LATE_REFUSAL = (
    "OpenBao refuses this with a 500 (its check comes late, as an internal error); Assay with a 400, "
    "as a bad request: a 500 is a bug"
)
#: Answers that differ by design, each with its reason (step → reason).
KNOWN_DIFFERENCES: dict[str, str] = {
    "create hmac without key_size": LATE_REFUSAL,
    "create derived ecdsa": LATE_REFUSAL,
    "sign with a key_version too new": LATE_REFUSAL,
    "sign derived ed25519 without context": LATE_REFUSAL,
    "sign rsa with an unknown padding": LATE_REFUSAL,
    "backup a key that is not exportable": LATE_REFUSAL,
    "backup a missing key": LATE_REFUSAL,
    "restore over an existing key": LATE_REFUSAL,
    "restore under its own name": LATE_REFUSAL,
    "restore garbage": LATE_REFUSAL,
    "batch encrypt, an item without plaintext": LATE_REFUSAL,
    "batch decrypt, an item without ciphertext": LATE_REFUSAL,
    "transit on a kv mount": (
        "OpenBao's KV engine answers a path it does not serve with its own 404 (an envelope with a "
        "warning to use `bao kv`); Assay answers Vault's 'no handler for route' 404 (InvalidPath both)"
    ),
}
#: Steps whose error messages are Assay's words (their status and number are still compared):
#: everywhere else the messages are Vault's, word for word.
OWN_WORDS: dict[str, str] = {
    "random bytes, none": "Assay quotes the parameter as \"bytes\", OpenBao as 'bytes'",
    "random bytes, too many": "Assay quotes the parameter as \"bytes\", OpenBao as 'bytes'",
    "hmac with an unknown algorithm": "OpenBao shows the unknown algorithm as '\\x00'; Assay names it",
    "kv on a transit mount": (
        "OpenBao's transit engine answers 'unsupported path'; Assay, where no KV engine is mounted, "
        "answers Vault's 'no handler for route' (404 both)"
    ),
}

#: Every key type of the scenario, and those that encrypt.
KEY_TYPES = (
    "aes128-gcm96",
    "aes256-gcm96",
    "chacha20-poly1305",
    "ed25519",
    "ecdsa-p256",
    "rsa-2048",
    "rsa-4096",
)
ENCRYPTING = ("aes128-gcm96", "aes256-gcm96", "chacha20-poly1305", "rsa-2048")
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
_VAULT_VALUE = re.compile(r"^(vault:v-?\d+:)(.*)$", re.DOTALL)
_GO_ERRORS = re.compile(r"1 error occurred:\n\t\* (.*)\n\n", re.DOTALL)


@pytest.fixture(scope="module")
async def bao(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bao]:
    async with openbao_dev_server(tmp_path_factory.mktemp("bao")) as server:
        yield server


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def byte_count(text: str, encoding: str = "base64") -> str:
    """Bytes (random, or key material) by their number."""
    decoded = bytes.fromhex(text) if encoding == "hex" else base64.b64decode(text, validate=True)
    return f"<{len(decoded)} bytes>"


def _vault_value(text: str, *, sized: bool) -> str:
    """`vault:vN:<base64>` by its version and, if `sized`, its length in bytes."""
    found = _VAULT_VALUE.match(text)
    if found is None:
        return text
    if not sized:
        return f"{found[1]}<signature>"
    try:
        return f"{found[1]}{byte_count(found[2])}"
    except (binascii.Error, ValueError):
        return f"{found[1]}<not base64>"


def _material(text: str) -> str:
    """Key material by its form: a PEM block by its label, base64 by its size."""
    if text.startswith("-----BEGIN "):
        return f"<PEM {text.split('-----')[1].removeprefix('BEGIN ')}>"
    return byte_count(text) if text else text


def _shaped(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        if key == "keys" and all(version.isdigit() for version in value):
            return {version: _key_version(found) for version, found in value.items()}
        return {name: _field(name, found) for name, found in value.items()}
    if isinstance(value, list):
        return [_shaped(found) for found in value]
    return value


def _field(key: str, value: Any) -> Any:
    if key == "errors" and isinstance(value, list):
        return [_message(found) for found in value]
    if isinstance(value, str):
        if key == "error":
            return _message(value)
        if key in ("ciphertext", "hmac", "signature"):
            return _vault_value(value, sized=key != "signature")
        if key == "public_key":
            return _material(value)
        if key == "backup":
            return "<backup>"
    return _shaped(value, key)


def _message(text: str) -> str:
    """An error message without the wrapping of Go's multierror ("1 error occurred: * …")."""
    found = _GO_ERRORS.fullmatch(text)
    return found[1] if found else text


def _messages_counted(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: len(found)
            if key == "errors" and isinstance(found, list)
            else "<error>"
            if key == "error"
            else _messages_counted(found)
            for key, found in value.items()
        }
    if isinstance(value, list):
        return [_messages_counted(found) for found in value]
    return value


def in_own_words(outcomes: Outcomes, steps: Mapping[str, str]) -> list[tuple[str, Any]]:
    """`outcomes` with the error messages of `steps` replaced by how many there are."""
    return [(name, _messages_counted(found) if name in steps else found) for name, found in outcomes]


def _key_version(value: Any) -> Any:
    """A version in a key's `keys`: its creation time (symmetric keys), its public key and time
    (asymmetric ones), or exported key material."""
    if isinstance(value, int):
        return "<time>"
    if isinstance(value, str):
        return _material(value)
    return _shaped(value)


def transit_normalized(value: Any) -> Any:
    return normalized(_shaped(value))


def with_field(field: str, shape: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """An answer with `data[field]` replaced by its shape."""

    def shaped(answer: Any) -> Any:
        return {**answer, "data": {**answer["data"], field: shape(answer["data"][field])}}

    return shaped


class MountedTransit:
    """hvac's Transit methods with `mount_point` given."""

    def __init__(self, transit: Any, mount: str) -> None:
        self._transit = transit
        self._mount = mount

    def __getattr__(self, method: str) -> Callable[..., Any]:
        return functools.partial(getattr(self._transit, method), mount_point=self._mount)


class Run:
    """One run of the scenario against one server: every step's outcome, and the answers later
    steps use (a ciphertext to decrypt, a backup to restore)."""

    def __init__(self, client: hvac.Client, mount: str) -> None:
        self.client = client
        self.transit = MountedTransit(client.secrets.transit, mount)
        self.raw = client.adapter
        self.mount = mount
        self.outcomes: list[tuple[str, Any]] = []
        self.answers: dict[str, Any] = {}

    def step(
        self,
        name: str,
        call: Callable[..., Any],
        /,
        *args: Any,
        shape: Callable[[Any], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """`call(*args, **kwargs)`, its outcome recorded as `name` (the answer through `shape`)."""
        assert name not in dict(self.outcomes), f"two steps named {name!r}"

        def recorded() -> Any:
            answer = call(*args, **kwargs)
            self.answers[name] = answer
            return shape(answer) if shape else answer

        self.outcomes.append((name, outcome(recorded, transit_normalized)))

    def data(self, name: str, field: str) -> Any:
        """`data[field]` of what step `name` answered; a stand-in when it failed, so the later
        steps still run (and differ visibly)."""
        answer = self.answers.get(name)
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
            return f"<{name} failed>"
        return answer["data"].get(field, f"<{name} answered no {field}>")

    def post(self, path: str, body: dict[str, Any]) -> Any:
        """A write hvac has no method for, or refuses to send (it checks some values itself)."""
        return self.raw.post(f"/v1/{self.mount}/{path}", json=body)


def mounts(run: Run, kv_mount: str) -> None:
    sys = run.client.sys
    run.step("enable transit", sys.enable_secrets_engine, "transit", path=run.mount)
    run.step("enable transit again", sys.enable_secrets_engine, "transit", path=run.mount)
    run.step("read mount", sys.read_mount_configuration, run.mount)
    run.step("listed mount", lambda: sys.list_mounted_secrets_engines()["data"][f"{run.mount}/"])
    run.step("tune mount", sys.tune_mount_configuration, run.mount, description="transit keys")
    run.step("read tuned mount", sys.read_mount_configuration, run.mount)
    run.step("list keys of an empty mount", run.transit.list_keys)
    run.step("enable kv beside it", sys.enable_secrets_engine, "kv", path=kv_mount, options={"version": "2"})


def keys(run: Run) -> None:
    transit = run.transit
    for key_type in KEY_TYPES:
        run.step(f"create {key_type}", run.post, f"keys/{key_type}", {"type": key_type})
        run.step(f"read {key_type}", transit.read_key, key_type)
    run.step("create hmac", run.post, "keys/hmac", {"type": "hmac", "key_size": 32})
    run.step("read hmac", transit.read_key, "hmac")
    run.step("create hmac without key_size", run.post, "keys/hmac-unsized", {"type": "hmac"})
    run.step("create hmac with a bad key_size", run.post, "keys/hmac-small", {"type": "hmac", "key_size": 8})
    run.step("create aes with a key_size", run.post, "keys/sized", {"key_size": 32})
    run.step("create of an unknown type", run.post, "keys/unknown", {"type": "rot13"})
    run.step("create default", transit.create_key, "plain")
    run.step("create default again", transit.create_key, "plain")
    run.step("create with PUT", run.raw.put, f"/v1/{run.mount}/keys/put", json={})
    run.step("create with a null body (bao write -f)", run.raw.post, f"/v1/{run.mount}/keys/nil", data="null")
    run.step("create derived", transit.create_key, "derived", derived=True)
    run.step("create convergent", transit.create_key, "convergent", derived=True, convergent_encryption=True)
    run.step("create convergent without derived", run.post, "keys/cv", {"convergent_encryption": True})
    run.step("create derived ed25519", transit.create_key, "ed-derived", key_type="ed25519", derived=True)
    run.step("create derived ecdsa", run.post, "keys/ec-derived", {"type": "ecdsa-p256", "derived": True})
    run.step(
        "create exportable with plaintext backup",
        transit.create_key,
        "portable",
        exportable=True,
        allow_plaintext_backup=True,
    )
    run.step(
        "create with plaintext backup only", transit.create_key, "backup-only", allow_plaintext_backup=True
    )
    run.step("create a key to trim", transit.create_key, "trimmed")
    run.step("read derived", transit.read_key, "derived")
    run.step("read missing key", transit.read_key, "missing")
    run.step("list keys", transit.list_keys)
    run.step("list keys with ?list=true", run.raw.get, f"/v1/{run.mount}/keys", params={"list": "true"})
    run.step("list keys with a slash", run.raw.list, f"/v1/{run.mount}/keys/")
    run.step("read keys without list", run.raw.get, f"/v1/{run.mount}/keys")


def encryption(run: Run) -> None:
    transit = run.transit
    for key_type in ENCRYPTING:
        run.step(f"encrypt with {key_type}", transit.encrypt_data, key_type, b64("hello"))
        ciphertext = run.data(f"encrypt with {key_type}", "ciphertext")
        run.step(f"decrypt with {key_type}", transit.decrypt_data, key_type, ciphertext)
    run.step("encrypt nothing", transit.encrypt_data, "plain", "")
    run.step("decrypt nothing", transit.decrypt_data, "plain", run.data("encrypt nothing", "ciphertext"))
    run.step("encrypt bad base64", transit.encrypt_data, "plain", "!!!")
    run.step("encrypt without plaintext", run.post, "encrypt/plain", {})
    run.step("decrypt without ciphertext", run.post, "decrypt/plain", {})
    run.step("encrypt with a missing key (creates it)", transit.encrypt_data, "upserted", b64("x"))
    run.step("read the created key", transit.read_key, "upserted")
    ciphertext = run.data("encrypt with aes256-gcm96", "ciphertext")
    run.step("decrypt with a missing key", transit.decrypt_data, "missing", ciphertext)
    run.step("encrypt with ed25519", transit.encrypt_data, "ed25519", b64("x"))
    run.step("encrypt with hmac", transit.encrypt_data, "hmac", b64("x"))

    ad = b64("row 7")
    run.step("encrypt with associated data", transit.encrypt_data, "plain", b64("bound"), associated_data=ad)
    bound = run.data("encrypt with associated data", "ciphertext")
    run.step("decrypt with associated data", transit.decrypt_data, "plain", bound, associated_data=ad)
    run.step(
        "decrypt with other associated data", transit.decrypt_data, "plain", bound, associated_data=b64("8")
    )
    run.step("decrypt without associated data", transit.decrypt_data, "plain", bound)
    run.step("associated data with rsa", transit.encrypt_data, "rsa-2048", b64("x"), associated_data=ad)

    context = b64("tenant 1")
    run.step("encrypt derived without context", transit.encrypt_data, "derived", b64("x"))
    run.step("encrypt derived", transit.encrypt_data, "derived", b64("per tenant"), context=context)
    derived = run.data("encrypt derived", "ciphertext")
    run.step("decrypt derived", transit.decrypt_data, "derived", derived, context=context)
    run.step("decrypt derived, other context", transit.decrypt_data, "derived", derived, context=b64("2"))
    run.step("decrypt derived without context", transit.decrypt_data, "derived", derived)
    run.step(
        "encrypt with context, key not derived", transit.encrypt_data, "plain", b64("x"), context=context
    )
    run.step("convergent encrypt", transit.encrypt_data, "convergent", b64("same"), context=context)
    run.step("convergent encrypt again", transit.encrypt_data, "convergent", b64("same"), context=context)
    same = run.data("convergent encrypt", "ciphertext") == run.data("convergent encrypt again", "ciphertext")
    run.step("convergent ciphertexts are equal", lambda: same)

    tampered = ciphertext[:-4] + ("BBBB" if ciphertext.endswith("AAAA") else "AAAA")
    for name, bad in (
        ("garbage", "vault:v1:garbage"),
        ("without prefix", _VAULT_VALUE.sub(r"\2", ciphertext)),
        ("of a version too new", ciphertext.replace("vault:v1:", "vault:v9:")),
        ("tampered", tampered),
        ("too short", "vault:v1:AAAA"),
        ("with a bad version", "vault:vx:AAAA"),
        ("of version 0", "vault:v0:AAAA"),
    ):
        run.step(f"decrypt {name}", transit.decrypt_data, "aes256-gcm96", bad)

    two = [{"plaintext": b64("a")}, {"plaintext": b64("b"), "reference": "b"}]
    run.step("batch encrypt", transit.encrypt_data, "plain", batch_input=two)
    bad_item = [{"plaintext": b64("a")}, {"plaintext": "!!"}]
    run.step("batch encrypt with a bad item", transit.encrypt_data, "plain", batch_input=bad_item)
    encrypted = run.data("batch encrypt", "batch_results")
    items = [
        {"ciphertext": item.get("ciphertext", ""), "reference": item.get("reference", "")}
        for item in (encrypted if isinstance(encrypted, list) else [])
    ]
    run.step("batch decrypt", transit.decrypt_data, "plain", batch_input=items)
    with_bad = [*items, {"ciphertext": "vault:v1:zz"}]
    run.step("batch decrypt with a bad item", transit.decrypt_data, "plain", batch_input=with_bad)
    one = [{"plaintext": b64("a")}]
    run.step("batch encrypt with ed25519", transit.encrypt_data, "ed25519", batch_input=one)
    run.step("batch encrypt, nothing in it", run.post, "encrypt/plain", {"batch_input": []})
    run.step("batch encrypt, an item without plaintext", run.post, "encrypt/plain", {"batch_input": [{}]})
    run.step("batch decrypt, an item without ciphertext", run.post, "decrypt/plain", {"batch_input": [{}]})
    partial = {
        "batch_input": [{"plaintext": b64("a")}, {"plaintext": "!!"}],
        "partial_failure_response_code": 207,
    }
    run.step("batch encrypt, partial failure status", run.post, "encrypt/plain", partial)
    failing = {"batch_input": [{"plaintext": "!!"}], "partial_failure_response_code": 207}
    run.step("batch encrypt, every item failed", run.post, "encrypt/plain", failing)


def versions(run: Run) -> None:
    transit = run.transit
    first = run.data("encrypt with aes256-gcm96", "ciphertext")
    run.step("rotate", transit.rotate_key, "aes256-gcm96")
    run.step("rotate a missing key", transit.rotate_key, "missing")
    run.step("rotate hmac", transit.rotate_key, "hmac")
    run.step("rotate ed25519", transit.rotate_key, "ed25519")
    run.step("encrypt after rotate", transit.encrypt_data, "aes256-gcm96", b64("x"))
    run.step("encrypt with key_version 1", transit.encrypt_data, "aes256-gcm96", b64("x"), key_version=1)
    run.step("encrypt with key_version 0", transit.encrypt_data, "aes256-gcm96", b64("x"), key_version=0)
    run.step("encrypt, key_version too new", transit.encrypt_data, "aes256-gcm96", b64("x"), key_version=5)
    negative = {"plaintext": b64("x"), "key_version": -1}
    run.step("encrypt, negative key_version", run.post, "encrypt/aes256-gcm96", negative)
    run.step("decrypt v1 after rotate", transit.decrypt_data, "aes256-gcm96", first)

    run.step("rewrap", transit.rewrap_data, "aes256-gcm96", first)
    run.step("decrypt rewrapped", transit.decrypt_data, "aes256-gcm96", run.data("rewrap", "ciphertext"))
    run.step("rewrap to key_version 1", transit.rewrap_data, "aes256-gcm96", first, key_version=1)
    run.step("rewrap garbage", transit.rewrap_data, "aes256-gcm96", "vault:v1:garbage")
    run.step("rewrap with a missing key", transit.rewrap_data, "missing", first)
    bad_item = [{"ciphertext": first}, {"ciphertext": "x"}]
    run.step("batch rewrap with a bad item", transit.rewrap_data, "aes256-gcm96", None, batch_input=bad_item)
    derived = run.data("encrypt derived", "ciphertext")
    run.step("rewrap derived", transit.rewrap_data, "derived", derived, context=b64("tenant 1"))

    configure = transit.update_key_configuration
    run.step("raise min_decryption_version", configure, "aes256-gcm96", min_decryption_version=2)
    run.step("decrypt below min_decryption_version", transit.decrypt_data, "aes256-gcm96", first)
    run.step("rewrap below min_decryption_version", transit.rewrap_data, "aes256-gcm96", first)
    run.step(
        "encrypt below min_decryption_version", transit.encrypt_data, "aes256-gcm96", b64("x"), key_version=1
    )
    run.step("min_encryption_version above latest", configure, "aes256-gcm96", min_encryption_version=3)
    run.step("min_decryption_version above latest", configure, "aes256-gcm96", min_decryption_version=5)
    run.step("negative min_decryption_version", configure, "aes256-gcm96", min_decryption_version=-1)
    run.step("min_encryption below min_decryption", configure, "aes256-gcm96", min_encryption_version=1)
    run.step("set min_encryption_version", configure, "aes256-gcm96", min_encryption_version=2)
    run.step("make exportable", configure, "plain", exportable=True)
    run.step("make exportable no more", configure, "plain", exportable=False)
    run.step("allow plaintext backup", configure, "plain", allow_plaintext_backup=True)
    run.step("configure a missing key", configure, "missing", deletion_allowed=True)
    run.step("configure nothing", run.post, "keys/plain/config", {})

    run.step("delete without deletion_allowed", transit.delete_key, "put")
    run.step("delete a missing key", transit.delete_key, "missing")
    run.step("allow deletion", configure, "put", deletion_allowed=True)
    run.step("delete", transit.delete_key, "put")
    run.step("read deleted key", transit.read_key, "put")
    run.step("list after delete", transit.list_keys)


def data_keys_random_and_hashes(run: Run) -> None:
    transit = run.transit
    for kind in ("plaintext", "wrapped"):
        shape = with_field("plaintext", byte_count) if kind == "plaintext" else None
        for bits in (None, 128, 256, 512):
            name = f"{kind} data key of {bits or 'default'} bits"
            run.step(name, transit.generate_data_key, "plain", kind, bits=bits, shape=shape)
    made = "plaintext data key of default bits"
    decrypted = with_field("plaintext", byte_count)
    run.step(
        "decrypt a data key", transit.decrypt_data, "plain", run.data(made, "ciphertext"), shape=decrypted
    )
    same = run.data("decrypt a data key", "plaintext") == run.data(made, "plaintext")
    run.step("the data key decrypts to its plaintext", lambda: same)
    run.step("data key of 64 bits", run.post, "datakey/plaintext/plain", {"bits": 64})
    run.step("data key of another kind", run.post, "datakey/other/plain", {})
    run.step("data key with a missing key", transit.generate_data_key, "missing", "plaintext")
    run.step("derived data key", transit.generate_data_key, "derived", "wrapped", context=b64("tenant 1"))

    random_bytes = with_field("random_bytes", byte_count)
    hex_bytes = with_field("random_bytes", lambda text: byte_count(text, "hex"))
    run.step("random bytes", transit.generate_random_bytes, shape=random_bytes)
    run.step("random bytes in hex", transit.generate_random_bytes, 16, "hex", shape=hex_bytes)
    run.step("random bytes counted in the path", run.post, "random/8", {}, shape=random_bytes)
    run.step("random bytes from a source", run.post, "random/platform/8", {"format": "hex"}, shape=hex_bytes)
    run.step("random bytes from the seal", run.post, "random/seal/8", {}, shape=random_bytes)
    run.step("random bytes from an unknown source", run.post, "random/dice/8", {})
    run.step("random bytes, none", transit.generate_random_bytes, 0)
    run.step("random bytes, too many", transit.generate_random_bytes, 200_000)
    run.step("random bytes in an unknown format", run.post, "random", {"format": "base32"})
    run.step("random bytes, a bad count in the path", run.post, "random/many", {})

    run.step("hash", transit.hash_data, b64("hello"))
    for algorithm in HASH_ALGORITHMS:
        body = {"input": b64("hello"), "algorithm": algorithm, "format": "base64"}
        run.step(f"hash {algorithm}", run.post, "hash", body)
    run.step("hash, algorithm in the path", run.post, "hash/sha2-512", {"input": b64("hello")})
    both = {"input": b64("hello"), "algorithm": "sha2-224"}
    run.step("hash, algorithm in the path and the body", run.post, "hash/sha2-512", both)
    run.step("hash with an unknown algorithm", run.post, "hash", {"input": b64("hello"), "algorithm": "md5"})
    run.step("hash in an unknown format", run.post, "hash", {"input": b64("hello"), "format": "base32"})
    run.step("hash bad base64", run.post, "hash", {"input": "!!"})
    run.step("hash without input", run.post, "hash", {})


def hmacs(run: Run) -> None:
    transit = run.transit
    message = b64("hello")
    run.step("hmac", transit.generate_hmac, "plain", message)
    run.step("hmac sha2-512", transit.generate_hmac, "plain", message, algorithm="sha2-512")
    run.step("hmac, algorithm in the path", run.post, "hmac/plain/sha2-384", {"input": message})
    run.step("hmac sha3-256", run.post, "hmac/plain/sha3-256", {"input": message})
    run.step("hmac, key named in the body too", run.post, "hmac/plain", {"input": message, "name": "other"})
    run.step("hmac with an unknown algorithm", run.post, "hmac/plain/md5", {"input": message})
    run.step("hmac with a missing key", transit.generate_hmac, "missing", message)
    run.step("hmac bad base64", transit.generate_hmac, "plain", "!!")
    run.step("hmac with a key_version too new", transit.generate_hmac, "plain", message, key_version=2)
    bad_item = {"batch_input": [{"input": b64("x")}, {"input": "!!"}]}
    run.step("batch hmac with a bad item", run.post, "hmac/plain", bad_item)
    run.step("hmac without input", run.post, "hmac/plain", {})
    run.step("batch hmac, an item without input", run.post, "hmac/plain", {"batch_input": [{}]})
    run.step("batch rewrap, an item without ciphertext", run.post, "rewrap/plain", {"batch_input": [{}]})
    mac = run.data("hmac", "hmac")
    verify = transit.verify_signed_data
    run.step("verify hmac", verify, "plain", message, hmac=mac)
    run.step("verify hmac of other input", verify, "plain", b64("other"), hmac=mac)
    run.step(
        "verify hmac with another algorithm", verify, "plain", message, hmac=mac, hash_algorithm="sha2-512"
    )
    run.step("verify a garbage hmac", verify, "plain", message, hmac="vault:v1:zz")
    run.step("hmac with an hmac key", transit.generate_hmac, "hmac", message)
    run.step(
        "verify with an hmac key", verify, "hmac", message, hmac=run.data("hmac with an hmac key", "hmac")
    )
    batch = {"batch_input": [{"input": message, "hmac": mac}, {"input": b64("x"), "hmac": mac}]}
    run.step("batch verify", run.post, "verify/plain", batch)


def signatures(run: Run) -> None:
    transit = run.transit
    sign, verify = transit.sign_data, transit.verify_signed_data
    message = b64("signed")
    run.step("sign with an aes key", sign, "plain", message)
    run.step("sign with a missing key", sign, "missing", message)
    run.step("verify with a missing key", verify, "missing", message, signature="vault:v1:AAAA")

    run.step("sign ed25519", sign, "ed25519", message)
    signature = run.data("sign ed25519", "signature")
    run.step("verify ed25519", verify, "ed25519", message, signature=signature)
    run.step("verify ed25519, other input", verify, "ed25519", b64("other"), signature=signature)
    run.step("verify ed25519, garbage", verify, "ed25519", message, signature="vault:v1:zz")
    run.step("verify ed25519, too short", verify, "ed25519", message, signature="vault:v1:AAAA")
    run.step(
        "sign ed25519 prehashed, sha2-512",
        sign,
        "ed25519",
        message,
        prehashed=True,
        hash_algorithm="sha2-512",
    )
    same = run.data("sign ed25519 prehashed, sha2-512", "signature") == signature
    run.step("ed25519 ignores prehashed and hash_algorithm", lambda: same)
    run.step("batch sign with a bad item", sign, "ed25519", batch_input=[{"input": message}, {"input": "!!"}])
    run.step("sign with a key_version too new", sign, "ed25519", message, key_version=3)
    run.step("sign with key_version 1", sign, "ed25519", message, key_version=1)
    context = b64("tenant 1")
    run.step("sign derived ed25519 without context", sign, "ed-derived", message)
    run.step("sign derived ed25519", sign, "ed-derived", message, context=context)
    derived = run.data("sign derived ed25519", "signature")
    run.step("verify derived ed25519", verify, "ed-derived", message, signature=derived, context=context)

    for algorithm in (None, "sha2-384", "sha2-512"):
        label = algorithm or "default hash"
        run.step(f"sign ecdsa, {label}", sign, "ecdsa-p256", message, hash_algorithm=algorithm)
        signed = run.data(f"sign ecdsa, {label}", "signature")
        run.step(
            f"verify ecdsa, {label}",
            verify,
            "ecdsa-p256",
            message,
            signature=signed,
            hash_algorithm=algorithm,
        )
    run.step("sign ecdsa as jws", sign, "ecdsa-p256", message, marshaling_algorithm="jws")
    jws = run.data("sign ecdsa as jws", "signature")
    run.step("verify ecdsa as jws", verify, "ecdsa-p256", message, signature=jws, marshaling_algorithm="jws")
    run.step("verify jws as asn1", verify, "ecdsa-p256", message, signature=jws)
    digest = base64.b64encode(hashlib.sha256(b"signed").digest()).decode()
    run.step("sign ecdsa prehashed", sign, "ecdsa-p256", digest, prehashed=True)
    prehashed = run.data("sign ecdsa prehashed", "signature")
    run.step("verify prehashed against the input", verify, "ecdsa-p256", message, signature=prehashed)

    for key in ("rsa-2048", "rsa-4096"):
        for padding in ("pss", "pkcs1v15"):
            for algorithm in ("sha2-256", "sha2-512"):
                label = f"{key} {padding} {algorithm}"
                options: dict[str, Any] = {"hash_algorithm": algorithm, "signature_algorithm": padding}
                run.step(f"sign {label}", sign, key, message, **options)
                run.step(
                    f"verify {label}",
                    verify,
                    key,
                    message,
                    signature=run.data(f"sign {label}", "signature"),
                    **options,
                )
    pss = run.data("sign rsa-2048 pss sha2-256", "signature")
    as_pkcs1v15: dict[str, Any] = {"hash_algorithm": "sha2-256", "signature_algorithm": "pkcs1v15"}
    run.step("verify pss as pkcs1v15", verify, "rsa-2048", message, signature=pss, **as_pkcs1v15)
    run.step("sign rsa, algorithm in the path", run.post, "sign/rsa-2048/sha2-384", {"input": message})
    unknown_padding = {"input": message, "signature_algorithm": "raw"}
    run.step("sign rsa with an unknown padding", run.post, "sign/rsa-2048", unknown_padding)
    not_prehashed = {"input": message, "signature_algorithm": "pkcs1v15"}
    run.step("sign rsa with hash none, not prehashed", run.post, "sign/rsa-2048/none", not_prehashed)


def backups(run: Run) -> None:
    transit = run.transit
    run.step("backup a key that is not exportable", transit.backup_key, "backup-only")
    run.step("backup a missing key", transit.backup_key, "missing")
    run.step("encrypt before backup", transit.encrypt_data, "portable", b64("kept"))
    run.step("rotate before backup", transit.rotate_key, "portable")
    run.step("backup", transit.backup_key, "portable")
    backup = run.data("backup", "backup")
    run.step("restore over an existing key", transit.restore_key, backup, name="portable")
    run.step("restore over it with force", transit.restore_key, backup, name="portable", force=True)
    run.step("restore into a new name", transit.restore_key, backup, name="restored")
    run.step("read restored", transit.read_key, "restored")
    kept = run.data("encrypt before backup", "ciphertext")
    run.step("decrypt with the restored key", transit.decrypt_data, "restored", kept)
    run.step("restore under its own name", transit.restore_key, backup)
    run.step("restore garbage", transit.restore_key, "garbage", name="other")
    run.step("restore nothing", transit.restore_key, "", name="other")


def trimming(run: Run) -> None:
    transit = run.transit
    for version in range(2, 6):
        run.step(f"rotate to v{version}", transit.rotate_key, "trimmed")
    run.step("encrypt with v1 before trim", transit.encrypt_data, "trimmed", b64("x"), key_version=1)
    run.step("trim with min_encryption_version 0", transit.trim_key, "trimmed", 2)
    minimums = {"min_decryption_version": 3, "min_encryption_version": 4}
    run.step("configure for trimming", run.post, "keys/trimmed/config", minimums)
    run.step("trim above min_decryption_version", transit.trim_key, "trimmed", 4)
    run.step("trim to 0", transit.trim_key, "trimmed", 0)
    run.step("trim to 2", transit.trim_key, "trimmed", 2)
    run.step("trim to 3", transit.trim_key, "trimmed", 3)
    run.step("trim back to 2", transit.trim_key, "trimmed", 2)
    run.step("read trimmed", transit.read_key, "trimmed")
    run.step(
        "min_decryption_version below the trim",
        transit.update_key_configuration,
        "trimmed",
        min_decryption_version=2,
    )
    trimmed = run.data("encrypt with v1 before trim", "ciphertext")
    run.step("decrypt a trimmed version", transit.decrypt_data, "trimmed", trimmed)
    run.step("trim a missing key", transit.trim_key, "missing", 1)
    run.step("trim without min_available_version", run.post, "keys/trimmed/trim", {})


def other_paths(run: Run, kv_mount: str) -> None:
    kv = run.client.secrets.kv.v2
    run.step(
        "kv on a transit mount",
        kv.read_secret_version,
        "x",
        mount_point=run.mount,
        raise_on_deleted_version=True,
    )
    run.step("transit on a kv mount", run.client.secrets.transit.read_key, "x", mount_point=kv_mount)
    run.step(
        "transit on no mount",
        run.client.secrets.transit.encrypt_data,
        "x",
        b64("x"),
        mount_point=f"{run.mount}-no",
    )
    run.step("disable kv", run.client.sys.disable_secrets_engine, kv_mount)
    run.step("disable transit", run.client.sys.disable_secrets_engine, run.mount)
    run.step("read a key after disable", run.transit.read_key, "plain")


def scenario(client: hvac.Client, mount: str) -> list[tuple[str, Any]]:
    """Every step and its outcome."""
    run = Run(client, mount)
    kv_mount = f"{mount}-kv"
    mounts(run, kv_mount)
    keys(run)
    encryption(run)
    versions(run)
    data_keys_random_and_hashes(run)
    hmacs(run)
    signatures(run)
    backups(run)
    trimming(run)
    other_paths(run, kv_mount)
    return run.outcomes


async def test_hvac_transit_answers_as_openbao_does(bao: Bao, stack: Stack, unique: str) -> None:
    health = await stack.client.get("/v1/sys/health")
    assert health.status_code == 200, f"`assay up` unseals the vault it starts: {health.text}"
    mount = f"tr{unique}"
    expected = await asyncio.to_thread(scenario, hvac.Client(url=bao.url, token=bao.token), mount)
    actual = await asyncio.to_thread(scenario, hvac.Client(url=stack.url, token=stack.admin_key), mount)
    for name in OWN_WORDS:  # each listed step's messages really differ, or it would hide nothing
        assert dict(expected)[name] != dict(actual)[name], f"{name}: the messages are alike now"
    assert_same_answers(in_own_words(expected, OWN_WORDS), in_own_words(actual, OWN_WORDS), KNOWN_DIFFERENCES)
