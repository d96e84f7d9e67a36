"""The audit of the running platform's vault: every KV operation, in both dialects, leaves exactly
one `assay.vault.request` record in a file sink and in a webhook sink (signed), none holding a
secret value; records wait out a webhook's outage; syslog gets them; hvac manages the sinks;
refusals are not request records."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import hvac
import hvac.exceptions
import orjson
import pytest

from assay_common.internal_auth import INTERNAL_TOKEN_HEADER, InternalTokenMinter, Principal, load_private_key
from tests.conftest import Stack
from tests.support import eventually
from tests.vault.audit_support import SYSLOG, Webhook, holds, lines_of, syslog_receiver, webhook_receiver

AUDIT = "/api/v1/vault/audit"
HMAC_KEY = "the platform's webhook key"
REQUEST = "assay.vault.request"


@pytest.fixture
async def mount(stack: Stack, unique: str) -> AsyncIterator[str]:
    enabled = await stack.client.post("/api/v1/vault/mounts", json={"path": unique})
    assert enabled.status_code == 201, enabled.text
    yield unique
    await stack.client.delete(f"/api/v1/vault/mounts/{unique}")


@pytest.fixture
async def webhook() -> AsyncIterator[Webhook]:
    async with webhook_receiver() as hook:
        yield hook


async def enable(stack: Stack, path: str, body: dict[str, Any]) -> None:
    answer = await stack.client.put(f"{AUDIT}/{path}", json={"filter": [REQUEST], **body})
    assert answer.status_code == 201, answer.text


def records(bodies: list[bytes], request_ids: set[str]) -> list[dict[str, Any]]:
    """The data of the request records among `bodies` made by `request_ids`, in order."""
    found = [orjson.loads(body) for body in bodies]
    return [event["data"] for event in found if event["data"].get("request_id") in request_ids]


class Operations:
    """Requests made through the gateway, each remembered by its request id."""

    def __init__(self, stack: Stack) -> None:
        self.client = stack.client
        self.ids: list[str] = []

    async def __call__(self, method: str, url: str, body: Any = None) -> httpx.Response:
        answer = await self.client.request(method, url, json=body)
        assert answer.status_code < 500, answer.text
        self.ids.append(answer.headers["x-request-id"])
        return answer


async def test_each_kv_operation_leaves_one_record_in_each_sink_and_never_a_value(
    stack: Stack, mount: str, webhook: Webhook, tmp_path: Path, unique: str
) -> None:
    log = tmp_path / "audit.log"
    secrets = [f"{unique}-secret-{n}" for n in range(4)]
    await enable(stack, f"{unique}f", {"type": "file", "options": {"file_path": str(log)}})
    await enable(
        stack, f"{unique}w", {"type": "webhook", "options": {"url": webhook.url, "hmac_key": HMAC_KEY}}
    )
    kv, v1 = f"/api/v1/vault/kv/{mount}", f"/v1/{mount}"
    call = Operations(stack)
    try:
        await call("PUT", f"{kv}/config", {"max_versions": 5})
        await call("PUT", f"{kv}/secrets/app/db", {"data": {"pw": secrets[0]}})
        await call("GET", f"{kv}/secrets/app/db")
        await call("PATCH", f"{kv}/secrets/app/db", {"data": {"token": secrets[1]}})
        await call("GET", f"{kv}/keys?prefix=app/")
        await call("DELETE", f"{kv}/secrets/app/db")
        await call("POST", f"{kv}/undelete/app/db", {"versions": [2]})
        await call("POST", f"{kv}/delete/app/db", {"versions": [1]})
        await call("POST", f"{kv}/destroy/app/db", {"versions": [1]})
        await call("PUT", f"{kv}/metadata/app/db", {"custom_metadata": {"owner": secrets[2]}})
        await call("GET", f"{kv}/metadata/app/db")
        await call("GET", f"{kv}/config")
        await call("PUT", f"{kv}/secrets/app/db", {"data": {"pw": "x"}, "cas": 1})
        await call("DELETE", f"{kv}/metadata/app/db")
        await call("POST", f"{v1}/data/app/db", {"data": {"pw": secrets[3]}})
        await call("GET", f"{v1}/data/app/db?version=1")
        await call("GET", f"{v1}/metadata/app?list=true")
        await call("LIST", f"{v1}/metadata/app")
        await call("GET", f"{v1}/data/missing")
        ids = set(call.ids)

        async def arrived() -> bool:
            return all(len(records(bodies, ids)) >= len(ids) for bodies in (lines_of(log), webhook.accepted))

        await eventually(arrived, within=30, what="a record of each request in both sinks")
    finally:
        await stack.client.delete(f"{AUDIT}/{unique}f")
        await stack.client.delete(f"{AUDIT}/{unique}w")

    expected = [
        ("native", "PUT", "kv.config.write", 200, None),
        ("native", "PUT", "kv.write", 200, "app/db"),
        ("native", "GET", "kv.read", 200, "app/db"),
        ("native", "PATCH", "kv.patch", 200, "app/db"),
        ("native", "GET", "kv.list", 200, None),
        ("native", "DELETE", "kv.delete", 204, "app/db"),
        ("native", "POST", "kv.undelete", 204, "app/db"),
        ("native", "POST", "kv.delete", 204, "app/db"),
        ("native", "POST", "kv.destroy", 204, "app/db"),
        ("native", "PUT", "kv.metadata.write", 200, "app/db"),
        ("native", "GET", "kv.metadata.read", 200, "app/db"),
        ("native", "GET", "kv.config.read", 200, None),
        ("native", "PUT", "kv.write", 409, "app/db"),
        ("native", "DELETE", "kv.metadata.delete", 204, "app/db"),
        ("vault", "POST", "kv.write", 200, "app/db"),
        ("vault", "GET", "kv.read", 200, "app/db"),
        ("vault", "GET", "kv.list", 200, "app"),
        ("vault", "LIST", "kv.list", 200, "app"),
        ("vault", "GET", "kv.read", 404, "missing"),
    ]
    for bodies in (lines_of(log), webhook.accepted):
        found = records(bodies, ids)
        assert [
            (r["dialect"], r["method"], r["operation"], r["status"], r["secret_path"]) for r in found
        ] == expected
        assert [r["request_id"] for r in found] == call.ids
        assert {(r["mount"], r["target_type"], r["target_id"], r["actor_kind"]) for r in found} == {
            (mount, "vault_mount", mount, "api_key")
        }
        assert {r["outcome"] for r in found[:12]} == {"ok"}
        assert (found[12]["outcome"], found[12]["code"]) == ("error", "cas_mismatch")
        assert all("?" not in r["path"] for r in found)
        assert not any(secret.encode() in body for body in bodies for secret in secrets)
    assert webhook.signed(HMAC_KEY)


async def test_records_wait_while_the_webhook_is_away_and_all_arrive_once_it_is_back(
    stack: Stack, mount: str, webhook: Webhook, unique: str
) -> None:
    await enable(stack, unique, {"type": "webhook", "options": {"url": webhook.url}})
    call = Operations(stack)
    try:
        await call("PUT", f"/api/v1/vault/kv/{mount}/secrets/first", {"data": {"a": "1"}})
        await eventually(
            lambda: holds(len([b for b in webhook.accepted if call.ids[0].encode() in b]) == 1),
            within=30,
            what="the first record",
        )
        await webhook.stop()
        for index in range(5):
            await call("PUT", f"/api/v1/vault/kv/{mount}/secrets/away{index}", {"data": {"a": "1"}})
        await webhook.start()

        async def all_arrived() -> bool:
            return len(records(webhook.accepted, set(call.ids))) >= len(call.ids)

        await eventually(all_arrived, within=60, what="every record after the outage")
    finally:
        await stack.client.delete(f"{AUDIT}/{unique}")

    found = records(webhook.accepted, set(call.ids))
    assert [r["request_id"] for r in found] == call.ids
    assert [r["secret_path"] for r in found] == ["first"] + [f"away{index}" for index in range(5)]


async def test_a_syslog_sink_gets_rfc5424_messages_over_udp(stack: Stack, mount: str, unique: str) -> None:
    async with syslog_receiver("udp") as (port, received):
        await enable(stack, unique, {"type": "syslog", "options": {"address": f"127.0.0.1:{port}"}})
        call = Operations(stack)
        try:
            await call("GET", f"/api/v1/vault/kv/{mount}/config")

            async def arrived() -> bool:
                return any(call.ids[0].encode() in message for message in received)

            await eventually(arrived, within=30, what="the syslog message")
        finally:
            await stack.client.delete(f"{AUDIT}/{unique}")

    message = next(message for message in received if call.ids[0].encode() in message)
    found = SYSLOG.match(message)
    assert found is not None, message
    assert (found[1], found[4], found[6]) == (b"38", b"assay-vault", b"vault.request")
    assert orjson.loads(found[7])["data"]["operation"] == "kv.config.read"


def enables(log: Path, sink: str) -> list[dict[str, Any]]:
    """The records of the enabling of `sink` in the file `log`."""
    found = [orjson.loads(line)["data"] for line in lines_of(log)]
    return [data for data in found if (data.get("operation"), data.get("sink")) == ("audit.enable", sink)]


async def test_hvac_lists_enables_and_disables_audit_devices(
    stack: Stack, tmp_path: Path, unique: str
) -> None:
    client = hvac.Client(url=stack.url, token=stack.admin_key)
    log = tmp_path / "hvac.log"

    client.sys.enable_audit_device(
        "file", description="from hvac", options={"file_path": str(log), "event_types": REQUEST}, path=unique
    )
    try:
        listed = client.sys.list_enabled_audit_devices()
        # The enable itself is recorded after it: the new sink gets its record.
        await eventually(lambda: holds(len(enables(log, unique)) == 1), within=30, what="the enable's record")
    finally:
        client.sys.disable_audit_device(unique)

    assert listed["data"][f"{unique}/"] == {
        "description": "from hvac",
        "local": False,
        "options": {"file_path": str(log)},
        "path": f"{unique}/",
        "type": "file",
    }
    assert listed[f"{unique}/"] == listed["data"][f"{unique}/"]
    (enabled,) = enables(log, unique)
    assert (enabled["dialect"], enabled["method"], enabled["status"], enabled["actor_kind"]) == (
        "vault",
        "POST",
        204,
        "api_key",
    )
    assert f"{unique}/" not in client.sys.list_enabled_audit_devices()["data"]
    with pytest.raises(hvac.exceptions.InvalidRequest, match="filter expressions"):
        client.sys.enable_audit_device(
            "file", options={"file_path": str(log), "filter": "x == y"}, path=unique
        )


async def test_refusals_are_access_denied_records_not_request_records(
    stack: Stack, tmp_path: Path, unique: str
) -> None:
    log = tmp_path / "audit.log"
    await enable(stack, unique, {"type": "file", "options": {"file_path": str(log)}})
    minter = InternalTokenMinter(load_private_key((stack.platform.data_dir / "internal.key").read_bytes()))
    stranger = {INTERNAL_TOKEN_HEADER: minter.mint(Principal(id=unique, kind="user"), audience="vault")}
    try:
        async with httpx.AsyncClient(base_url=stack.platform.service_url("vault")) as vault:
            refused = await vault.get(AUDIT, headers={**stranger, "x-request-id": f"{unique}-refused"})
        answered = await stack.client.get(AUDIT, headers={"x-request-id": f"{unique}-answered"})
        await eventually(
            lambda: holds(any(f"{unique}-answered".encode() in line for line in lines_of(log))),
            within=30,
            what="the answered request's record",
        )
    finally:
        await stack.client.delete(f"{AUDIT}/{unique}")

    assert (refused.status_code, answered.status_code) == (403, 200)
    assert not any(f"{unique}-refused".encode() in line for line in lines_of(log))


async def test_transit_operations_are_recorded_with_their_key_and_never_a_plaintext_or_ciphertext(
    stack: Stack, tmp_path: Path, unique: str
) -> None:
    mount = f"t{unique}"
    assert (
        await stack.client.post("/api/v1/vault/mounts", json={"path": mount, "type": "transit"})
    ).is_success
    log = tmp_path / "audit.log"
    await enable(stack, unique, {"type": "file", "options": {"file_path": str(log)}})
    plaintext = base64.b64encode(f"{unique} card number".encode()).decode()
    base = f"/api/v1/vault/transit/{mount}"
    call = Operations(stack)
    try:
        await call("POST", f"{base}/keys/orders", {})
        encrypted = await call("POST", f"{base}/encrypt/orders", {"plaintext": plaintext})
        ciphertext = encrypted.json()["ciphertext"]
        await call("POST", f"{base}/decrypt/orders", {"ciphertext": ciphertext})
        await call("PUT", f"/v1/{mount}/encrypt/orders", {"plaintext": plaintext})

        async def arrived() -> bool:
            return len(records(lines_of(log), set(call.ids))) >= len(call.ids)

        await eventually(arrived, within=30, what="the transit records")
    finally:
        await stack.client.delete(f"{AUDIT}/{unique}")
        await stack.client.delete(f"/api/v1/vault/mounts/{mount}")

    found = records(lines_of(log), set(call.ids))
    assert [(r["operation"], r["key_name"], r["mount"], r["dialect"]) for r in found] == [
        ("transit.keys.create", "orders", mount, "native"),
        ("transit.encrypt", "orders", mount, "native"),
        ("transit.decrypt", "orders", mount, "native"),
        ("transit.encrypt", "orders", mount, "vault"),
    ]
    written = b"".join(lines_of(log))
    assert plaintext.encode() not in written and ciphertext.encode() not in written
