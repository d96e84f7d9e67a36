"""Transit through the running stack, in Assay's own API (`/api/v1/vault/transit/{mount}/…`):
typed JSON with base64 fields, problem+json errors, batches answered item by item, who may do what
(`vault_mount:<mount>#read` reads keys, `#write` uses them, `#administer` manages them), and the
events key changes publish."""

from __future__ import annotations

import base64
import json

from tests.conftest import Stack
from tests.gateway.members import api_key, bearer, consistent, create_user, grant
from tests.support import eventually, subject_messages

TRANSIT = "/api/v1/vault/transit"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def enable_transit(stack: Stack, mount: str) -> None:
    response = await stack.client.post("/api/v1/vault/mounts", json={"path": mount, "type": "transit"})
    assert response.status_code == 201, response.text
    assert response.json()["type"] == "transit"


async def test_keys_and_encryption_through_the_native_api(stack: Stack, unique: str) -> None:
    mount = f"t{unique}"
    await enable_transit(stack, mount)
    client = stack.client
    base = f"{TRANSIT}/{mount}"

    created = await client.post(f"{base}/keys/orders", json={"type": "aes256-gcm96", "derived": True})
    assert created.status_code == 201, created.text
    assert (created.json()["latest_version"], created.json()["kdf"]) == (1, "hkdf_sha256")
    again = await client.post(f"{base}/keys/orders", json={})
    assert (again.status_code, again.json()["code"]) == (409, "transit_key_exists")
    assert (await client.get(f"{base}/keys")).json() == {"keys": ["orders"]}

    context = b64(b"customer-7")
    encrypted = await client.post(
        f"{base}/encrypt/orders", json={"plaintext": b64(b"card"), "context": context}
    )
    assert encrypted.status_code == 200, encrypted.text
    ciphertext = encrypted.json()["ciphertext"]
    assert ciphertext.startswith("vault:v1:") and encrypted.json()["key_version"] == 1
    decrypted = await client.post(
        f"{base}/decrypt/orders", json={"ciphertext": ciphertext, "context": context}
    )
    assert base64.b64decode(decrypted.json()["plaintext"]) == b"card"

    raw = base64.b64decode(ciphertext.removeprefix("vault:v1:"))
    tampered = "vault:v1:" + b64(raw[:-1] + bytes([raw[-1] ^ 1]))
    refused = await client.post(f"{base}/decrypt/orders", json={"ciphertext": tampered, "context": context})
    assert (refused.status_code, refused.headers["content-type"]) == (400, "application/problem+json")
    assert refused.json()["code"] == "invalid_ciphertext"

    batch = await client.post(
        f"{base}/encrypt/orders",
        json={
            "batch_input": [
                {"plaintext": b64(b"a"), "context": context, "reference": "one"},
                {"plaintext": "%%%", "context": context, "reference": "two"},
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    results = batch.json()["batch_results"]
    assert batch.json()["failed"] == 1
    assert results[0]["reference"] == "one" and results[0]["ciphertext"].startswith("vault:v1:")
    assert results[1]["reference"] == "two" and results[1]["error"]["code"] == "invalid_transit_request"

    rotated = await client.post(f"{base}/keys/orders/rotate")
    assert rotated.json()["latest_version"] == 2
    rewrapped = await client.post(
        f"{base}/rewrap/orders", json={"ciphertext": ciphertext, "context": context}
    )
    assert rewrapped.json()["ciphertext"].startswith("vault:v2:"), rewrapped.text
    configured = await client.patch(f"{base}/keys/orders/config", json={"min_decryption_version": 2})
    assert configured.json()["key"]["min_decryption_version"] == 2, configured.text
    too_old = await client.post(f"{base}/decrypt/orders", json={"ciphertext": ciphertext, "context": context})
    assert (too_old.status_code, too_old.json()["code"]) == (400, "invalid_ciphertext")

    datakey = await client.post(f"{base}/datakey/wrapped/orders", json={"bits": 128, "context": context})
    assert datakey.json()["plaintext"] is None and datakey.json()["key_version"] == 2
    digest = await client.post(f"{base}/hash", json={"input": b64(b"x"), "algorithm": "sha2-512"})
    assert len(digest.json()["sum"]) == 128
    random = await client.post(f"{base}/random", json={"bytes": 8, "format": "hex"})
    assert len(random.json()["random_bytes"]) == 16
    missing = await client.post(f"{base}/encrypt/nothing", json={"plaintext": b64(b"x")})
    assert (missing.status_code, missing.json()["code"]) == (404, "transit_key_not_found")
    refused_delete = await client.delete(f"{base}/keys/orders")
    assert (refused_delete.status_code, refused_delete.json()["code"]) == (400, "deletion_not_allowed")


async def test_signing_hmac_and_backup_through_the_native_api(stack: Stack, unique: str) -> None:
    mount = f"s{unique}"
    await enable_transit(stack, mount)
    client = stack.client
    base = f"{TRANSIT}/{mount}"
    assert (await client.post(f"{base}/keys/signer", json={"type": "ecdsa-p256"})).status_code == 201
    key = (await client.get(f"{base}/keys/signer")).json()
    assert key["versions"][0]["name"] == "P-256"
    assert key["versions"][0]["public_key"].startswith("-----BEGIN PUBLIC KEY-----")

    signed = await client.post(
        f"{base}/sign/signer", json={"input": b64(b"doc"), "marshaling_algorithm": "jws"}
    )
    signature = signed.json()["signature"]
    for message, valid in ((b"doc", True), (b"forged", False)):
        verified = await client.post(
            f"{base}/verify/signer",
            json={"input": b64(message), "signature": signature, "marshaling_algorithm": "jws"},
        )
        assert verified.json() == {"valid": valid}, verified.text
    made = await client.post(f"{base}/hmac/signer", json={"input": b64(b"doc"), "algorithm": "sha3-256"})
    checked = await client.post(
        f"{base}/verify/signer",
        json={"input": b64(b"doc"), "hmac": made.json()["hmac"], "hash_algorithm": "sha3-256"},
    )
    assert checked.json() == {"valid": True}

    refused = await client.post(f"{base}/keys/signer/backup")
    assert (refused.status_code, refused.json()["code"]) == (400, "backup_not_allowed")
    await client.patch(
        f"{base}/keys/signer/config",
        json={"exportable": True, "allow_plaintext_backup": True, "deletion_allowed": True},
    )
    backup = (await client.post(f"{base}/keys/signer/backup")).json()["backup"]
    assert (await client.delete(f"{base}/keys/signer")).status_code == 204
    restored = await client.post(f"{base}/restore", json={"backup": backup})
    assert (restored.status_code, restored.json()["name"]) == (201, "signer"), restored.text
    verified = await client.post(
        f"{base}/verify/signer",
        json={"input": b64(b"doc"), "signature": signature, "marshaling_algorithm": "jws"},
    )
    assert verified.json() == {"valid": True}
    taken = await client.post(f"{base}/restore", json={"backup": backup})
    assert (taken.status_code, taken.json()["code"]) == (409, "transit_key_exists")


async def test_readers_see_keys_writers_use_them_administrators_manage_them(
    stack: Stack, unique: str
) -> None:
    mount = f"p{unique}"
    await enable_transit(stack, mount)
    base = f"{TRANSIT}/{mount}"
    assert (await stack.client.post(f"{base}/keys/k", json={})).status_code == 201
    reader = await create_user(stack, f"reader-{unique}@example.com")
    writer = await create_user(stack, f"writer-{unique}@example.com")
    zookie = await grant(
        stack, f"vault_mount:{mount}#reader@user:{reader}", f"vault_mount:{mount}#writer@user:{writer}"
    )
    as_reader = {**bearer(await api_key(stack, reader, "*")), **consistent(zookie)}
    as_writer = {**bearer(await api_key(stack, writer, "*")), **consistent(zookie)}

    assert (await stack.client.get(f"{base}/keys/k", headers=as_reader)).status_code == 200
    assert (await stack.client.get(f"{base}/keys", headers=as_reader)).status_code == 200
    encrypt = {"plaintext": b64(b"x")}
    refused = await stack.client.post(f"{base}/encrypt/k", json=encrypt, headers=as_reader)
    assert (refused.status_code, refused.json()["needed"]) == (403, f"vault_mount:{mount}#write")
    assert (await stack.client.post(f"{base}/encrypt/k", json=encrypt, headers=as_writer)).status_code == 200
    for method, path in (
        ("POST", f"{base}/keys/k/rotate"),
        ("POST", f"{base}/keys/other"),
        ("DELETE", f"{base}/keys/k"),
    ):
        denied = await stack.client.request(
            method, path, json={} if method == "POST" else None, headers=as_writer
        )
        assert (denied.status_code, denied.json()["needed"]) == (403, f"vault_mount:{mount}#administer")


async def test_a_kv_mount_serves_no_transit_and_a_transit_mount_no_kv(stack: Stack, unique: str) -> None:
    transit_mount, kv_mount = f"tm{unique}", f"km{unique}"
    await enable_transit(stack, transit_mount)
    assert (await stack.client.post("/api/v1/vault/mounts", json={"path": kv_mount})).status_code == 201
    no_transit = await stack.client.post(f"{TRANSIT}/{kv_mount}/keys/k", json={})
    assert (no_transit.status_code, no_transit.json()["code"]) == (404, "mount_not_found")
    no_kv = await stack.client.put(f"/api/v1/vault/kv/{transit_mount}/secrets/a", json={"data": {"a": "b"}})
    assert (no_kv.status_code, no_kv.json()["code"]) == (404, "mount_not_found")
    listed = (await stack.client.get("/v1/sys/mounts")).json()["data"]
    assert listed[f"{transit_mount}/"]["type"] == "transit" and listed[f"{transit_mount}/"]["options"] is None


async def test_key_changes_publish_events_without_key_material(stack: Stack, unique: str) -> None:
    mount = f"e{unique}"
    await enable_transit(stack, mount)
    await stack.client.post(
        f"{TRANSIT}/{mount}/keys/k", json={"exportable": True, "allow_plaintext_backup": True}
    )
    await stack.client.post(f"{TRANSIT}/{mount}/keys/k/rotate")
    backup = (await stack.client.post(f"{TRANSIT}/{mount}/keys/k/backup")).json()["backup"]
    material = json.loads(base64.b64decode(backup))["key"]["versions"][0]["key"]
    subject = f"{stack.subjects.events_prefix}.vault._.*"
    found: list[dict[str, object]] = []

    async def published() -> bool:
        messages = await subject_messages(stack.nats.url, stack.subjects.events_stream, subject)
        found[:] = [json.loads(m.data) for m in messages if m.data and mount.encode() in m.data]
        return {"assay.vault.transit_key_created", "assay.vault.transit_key_rotated"} <= {
            e["type"] for e in found
        }

    await eventually(published, what="the transit events")
    rotated = next(e for e in found if e["type"] == "assay.vault.transit_key_rotated")
    assert rotated["data"] == {"mount": mount, "name": "k", "latest_version": 2}
    assert not any(material in json.dumps(e) for e in found)
