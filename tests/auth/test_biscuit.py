"""Biscuit capability tokens: root keys (rotation, retirement, sealing at rest), issuing,
attenuation, verification and revocation — in the domain on SQLite and Postgres, offline with
`BiscuitVerifier`, and over HTTP against the stack's auth service."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta
from typing import Any

import biscuit_auth as bsc
import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from assay_auth.domain.biscuits import (
    ActiveRootKey,
    BiscuitVerifier,
    InvalidDatalog,
    MalformedBiscuit,
    NoRestriction,
    RequestContext,
    Restriction,
    RootKeyNotFound,
    RootKeyUnavailable,
    UnverifiableBiscuit,
    attenuate,
    public_key_of,
)
from assay_auth.domain.context import Actor
from assay_auth.domain.identity import Identity
from assay_auth.store import tables
from assay_common.db import Database
from assay_common.internal_auth import Principal
from tests.auth.conftest import ManualClock, make_identity, outbox_events
from tests.auth_api import AuthApi, email
from tests.conftest import Stack
from tests.support import eventually, subject_messages

ADMIN = Actor(id="tests", kind="service")
BASE = "/api/v1/auth/biscuit"


def fernet_key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


async def stored_keys(db: Database) -> list[Any]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(tables.biscuit_root_keys))).all())


async def published(identity: Identity) -> dict[int, str]:
    return {row.id: row.public_key for row in await identity.biscuits.root_keys()}


def request(clock: ManualClock, **fields: Any) -> RequestContext:
    return RequestContext(time=clock.now, **fields)


async def issue(identity: Identity, **fields: Any) -> str:
    restriction = Restriction(namespaces=["payments"], operations=["read", "write"], **fields)
    return (await identity.biscuits.issue(ADMIN, "ann", restriction, expires_in=3600)).token


# ---- domain ------------------------------------------------------------------------------------


async def test_a_token_allows_what_it_names_and_an_attenuated_one_less(
    identity: Identity, clock: ManualClock
) -> None:
    token = await issue(identity, resources=["invoices/*"])
    read = request(clock, namespace="payments", operation="read", resource="invoices/7")
    write = request(clock, namespace="payments", operation="write", resource="invoices/7")

    allowed = await identity.biscuits.verify(token, write)
    assert allowed.allowed and allowed.outcome == "allowed" and allowed.subject == "ann"
    assert allowed.policy == "allow if subject($s)" and allowed.failed_checks == []

    narrowed = await identity.biscuits.attenuate(token, Restriction(operations=["read"]))
    assert len(narrowed.revocation_ids) == 2 and narrowed.revocation_ids[0] == allowed.revocation_ids[0]
    assert (await identity.biscuits.verify(narrowed.token, read)).allowed
    denied = await identity.biscuits.verify(narrowed.token, write)
    assert not denied.allowed and denied.outcome == "checks_failed"
    assert denied.failed_checks == ['Check n°0 in block n°1: check if operation($op), {"read"}.contains($op)']

    elsewhere = await identity.biscuits.verify(token, request(clock, namespace="hr", operation="read"))
    assert not elsewhere.allowed and len(elsewhere.failed_checks) == 2, "namespace and resource checks"
    assert not (await identity.biscuits.verify(token, request(clock, operation="read"))).allowed

    clock.advance(3600)
    expired = await identity.biscuits.verify(
        token, request(clock, namespace="payments", operation="read", resource="invoices/7")
    )
    assert not expired.allowed and len(expired.failed_checks) == 1 and "time($t)" in expired.failed_checks[0]

    (audit,) = await outbox_events(identity.ctx.db, "biscuit_issued")
    assert audit[1].data["subject"] == "ann" and audit[1].data["operations"] == ["read", "write"]
    assert token not in json.dumps(audit[1].data)


async def test_a_later_block_cannot_widen_a_token(identity: Identity, clock: ManualClock) -> None:
    token = await issue(identity)
    widened = await identity.biscuits.attenuate(
        token, Restriction(checks=['check if operation("delete") or operation("read")'])
    )
    # Facts appended by a holder are seen by neither the authority block's checks nor the policy.
    block = bsc.BlockBuilder('operation("delete"); namespace("hr"); subject("root");')
    root = public_key_of((await published(identity))[widened.root_key_id])
    parsed = bsc.Biscuit.from_base64(widened.token, root)
    forged = parsed.append(block).to_base64()
    decision = await identity.biscuits.verify(forged, request(clock, namespace="hr", operation="delete"))
    assert not decision.allowed and decision.subject == "ann"


async def test_raw_checks_are_parsed_and_only_checks_are_accepted(
    identity: Identity, clock: ManualClock
) -> None:
    token = await issue(identity, checks=['reject if resource("secret")'])
    assert not (
        await identity.biscuits.verify(
            token, request(clock, namespace="payments", operation="read", resource="secret")
        )
    ).allowed
    for bad in [
        'right("payments", "delete")',
        "allow if true",
        'check if operation("read"); check if true',
        "check if operation({unbound})",
        "check if user($u) trusting ed25519/" + "00" * 32,
        "check if operation(",
        "",
    ]:
        with pytest.raises(InvalidDatalog):
            await identity.biscuits.issue(ADMIN, "ann", Restriction(checks=[bad]), expires_in=60)
        with pytest.raises(InvalidDatalog):
            await identity.biscuits.attenuate(token, Restriction(checks=[bad]))
    with pytest.raises(NoRestriction):
        await identity.biscuits.attenuate(token, Restriction())
    with pytest.raises(MalformedBiscuit):
        await identity.biscuits.verify("not a token", request(clock))
    assert len(await outbox_events(identity.ctx.db, "biscuit_issued")) == 1, "refused ones issue nothing"


async def test_rotation_keeps_old_keys_verifying_until_they_are_retired(
    identity: Identity, clock: ManualClock
) -> None:
    old_token = await issue(identity)
    (first,) = await identity.biscuits.root_keys()
    assert first.id == 1 and first.active is True
    clock.advance(1)

    second = await identity.biscuits.rotate_now(ADMIN)
    new_token = await issue(identity)

    keys = {row.id: row for row in await identity.biscuits.root_keys()}
    assert keys[second.id].active is True and keys[first.id].active is None
    assert keys[first.id].rotated_at == clock.now
    read = request(clock, namespace="payments", operation="read")
    old = await identity.biscuits.verify(old_token, read)
    new = await identity.biscuits.verify(new_token, read)
    assert old.allowed and old.root_key_id == first.id
    assert new.allowed and new.root_key_id == second.id

    with pytest.raises(ActiveRootKey):
        await identity.biscuits.retire(ADMIN, second.id)
    with pytest.raises(RootKeyNotFound):
        await identity.biscuits.retire(ADMIN, 99)
    await identity.biscuits.retire(ADMIN, first.id)

    assert [row.id for row in await identity.biscuits.root_keys()] == [second.id]
    gone = await identity.biscuits.verify(old_token, read)
    assert not gone.allowed and gone.outcome == "unknown_root_key"
    with pytest.raises(UnverifiableBiscuit):
        await identity.biscuits.attenuate(old_token, Restriction(operations=["read"]))
    rotated = [e.data for _, e in await outbox_events(identity.ctx.db, "biscuit_root_key_rotated")]
    assert [(r["reason"], r["previous_key_id"]) for r in rotated] == [("initial", None), ("manual", first.id)]
    (retired,) = await outbox_events(identity.ctx.db, "biscuit_root_key_retired")
    assert retired[1].data["target_id"] == str(first.id)


async def test_root_keys_are_sealed_at_rest(auth_db: Database, clock: ManualClock) -> None:
    secret = fernet_key()
    sealing = make_identity(auth_db, clock, signing_key_encryption_key=secret)
    token = await issue(sealing)

    (row,) = await stored_keys(auth_db)
    assert row.sealed is True
    clear = Fernet(secret.encode()).decrypt(row.private_key.encode()).decode()
    assert clear not in str(tuple(row)), "no clear private key in the row"
    pair = bsc.KeyPair.from_private_key(
        bsc.PrivateKey.from_bytes(bytes.fromhex(clear), bsc.Algorithm.Ed25519)  # type: ignore[call-arg,attr-defined]
    )
    assert pair.public_key.to_bytes().hex() == row.public_key

    # A replica with the same key signs; one without it, or with another key, cannot.
    replica = make_identity(auth_db, clock, signing_key_encryption_key=secret)
    assert (
        await replica.biscuits.verify(
            await issue(replica), request(clock, namespace="payments", operation="read")
        )
    ).allowed
    for other in (
        make_identity(auth_db, clock),
        make_identity(auth_db, clock, signing_key_encryption_key=fernet_key()),
    ):
        with pytest.raises(RootKeyUnavailable):
            await issue(other)
        # Verification needs only the public keys.
        assert (
            await other.biscuits.verify(token, request(clock, namespace="payments", operation="read"))
        ).allowed
    everything = json.dumps([e.data for _, e in await outbox_events(auth_db)])
    assert clear not in everything


async def test_without_an_encryption_key_the_root_key_is_stored_in_the_clear(identity: Identity) -> None:
    await identity.biscuits.rotate_now(ADMIN)
    (row,) = await stored_keys(identity.ctx.db)
    assert row.sealed is False and len(row.private_key) == 64
    assert row.private_key not in json.dumps([e.data for _, e in await outbox_events(identity.ctx.db)])


async def test_revoking_a_token_revokes_it_and_what_was_attenuated_from_it(
    identity: Identity, clock: ManualClock
) -> None:
    parent = await issue(identity)
    child = await identity.biscuits.attenuate(parent, Restriction(operations=["read"]))
    grandchild = await identity.biscuits.attenuate(child.token, Restriction(resources=["a"]))
    read = request(clock, namespace="payments", operation="read", resource="a")
    holder = Actor(id="someone", kind="user")

    assert await identity.biscuits.revoke(holder, token=child.token) == [child.revocation_ids[-1]]

    assert (await identity.biscuits.verify(parent, read)).allowed, "the token it came from lives on"
    for token in (child.token, grandchild.token):
        decision = await identity.biscuits.verify(token, read)
        assert not decision.allowed and decision.outcome == "revoked"
    (event,) = await outbox_events(identity.ctx.db, "biscuit_revoked")
    assert event[1].data == {"revocation_ids": [child.revocation_ids[-1]]}
    (audit,) = await outbox_events(identity.ctx.db, "biscuit_revocation_recorded")
    assert audit[1].data["via"] == "token" and audit[1].data["actor_id"] == "someone"

    # Revoking again changes nothing and announces nothing.
    await identity.biscuits.revoke(holder, token=child.token)
    assert len(await outbox_events(identity.ctx.db, "biscuit_revoked")) == 1

    parent_id = child.revocation_ids[0]
    await identity.biscuits.revoke(ADMIN, revocation_ids=[parent_id])
    assert (await identity.biscuits.verify(parent, read)).outcome == "revoked"
    listed = await identity.biscuits.revocations(after=0, limit=10)
    assert [r.revocation_id for r in listed] == [child.revocation_ids[-1], parent_id]
    assert await identity.biscuits.revocations(after=listed[0].seq, limit=10) == listed[1:]


async def test_the_verifier_works_offline_from_published_keys_and_revocations(
    identity: Identity, clock: ManualClock
) -> None:
    token = await issue(identity)
    keys = await published(identity)
    verifier = BiscuitVerifier(keys)
    read = request(clock, namespace="payments", operation="read")
    assert verifier.verify(token, read).allowed

    narrowed = attenuate(token, Restriction(expires_at=clock.now + timedelta(seconds=10)), keys)
    assert verifier.verify(narrowed.token, read).allowed
    later = RequestContext(time=clock.now + timedelta(seconds=11), namespace="payments", operation="read")
    assert not verifier.verify(narrowed.token, later).allowed and verifier.verify(token, later).allowed

    verifier.add_revocations(narrowed.revocation_ids[-1:])
    assert verifier.verify(narrowed.token, read).outcome == "revoked" and verifier.verify(token, read).allowed

    stranger = bsc.BiscuitBuilder('subject("ann");')
    stranger.set_root_key_id(next(iter(keys)))
    forged = stranger.build(bsc.KeyPair().private_key).to_base64()
    assert verifier.verify(forged, read).outcome == "invalid_signature"
    assert BiscuitVerifier({}).verify(token, read).outcome == "unknown_root_key"
    with pytest.raises(UnverifiableBiscuit):
        attenuate(forged, Restriction(operations=["read"]), keys)


# ---- HTTP --------------------------------------------------------------------------------------


async def issued(auth_api: AuthApi, **body: Any) -> dict[str, Any]:
    response = await auth_api.call("POST", f"{BASE}/tokens", json={"subject": "ann", **body})
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    result: dict[str, Any] = response.json()
    return result


async def verify(auth_api: AuthApi, token: str, **context: Any) -> dict[str, Any]:
    response = await auth_api.call("POST", f"{BASE}/verify", json={"token": token, **context})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_issue_attenuate_verify_over_http(auth_api: AuthApi, unique: str) -> None:
    token = await issued(auth_api, namespaces=[unique], operations=["read", "write"], expires_in=600)
    assert set(token) == {"token", "root_key_id", "revocation_ids", "expires_at"}

    anyone = Principal.anonymous()
    response = await auth_api.call(
        "POST", f"{BASE}/attenuate", anyone, json={"token": token["token"], "operations": ["read"]}
    )
    assert response.status_code == 200, response.text
    narrowed = response.json()
    assert (
        narrowed["revocation_ids"][0] == token["revocation_ids"][0] and len(narrowed["revocation_ids"]) == 2
    )

    read = await verify(auth_api, narrowed["token"], namespace=unique, operation="read")
    assert read["allowed"] is True and read["subject"] == "ann" and read["policy"] == "allow if subject($s)"
    write = await verify(auth_api, narrowed["token"], namespace=unique, operation="write")
    assert write["allowed"] is False and write["outcome"] == "checks_failed"
    assert write["failed_checks"] == [
        'Check n°0 in block n°1: check if operation($op), {"read"}.contains($op)'
    ]
    assert (await verify(auth_api, token["token"], namespace=unique, operation="write"))["allowed"] is True

    expires_at = datetime.fromisoformat(token["expires_at"])
    late = await verify(
        auth_api, token["token"], namespace=unique, operation="read", time=expires_at.isoformat()
    )
    assert late["allowed"] is False and "time($t)" in late["failed_checks"][0]


async def test_who_may_issue_and_verify(auth_api: AuthApi, unique: str) -> None:
    user = (await auth_api.signed_in((await auth_api.create_user(email(unique)))["email"])).principal
    body = {"subject": user.id, "operations": ["read"]}
    assert (await auth_api.call("POST", f"{BASE}/tokens", user, json=body)).status_code == 403
    admin = await auth_api.admin(email(unique, "admin"))
    token = (await auth_api.call("POST", f"{BASE}/tokens", admin, json=body)).json()["token"]
    check = {"token": token, "operation": "read"}
    assert (await auth_api.call("POST", f"{BASE}/verify", user, json=check)).status_code == 403
    assert (
        await auth_api.call("POST", f"{BASE}/verify", Principal.anonymous(), json=check)
    ).status_code == 401
    assert (await auth_api.call("POST", f"{BASE}/verify", admin, json=check)).json()["allowed"] is True


async def test_unknown_keys_forged_signatures_and_revoked_tokens_fail(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    token = await issued(auth_api, namespaces=[unique])
    for key_id, outcome in [(token["root_key_id"], "invalid_signature"), (10_000, "unknown_root_key")]:
        builder = bsc.BiscuitBuilder('subject("ann");')
        builder.set_root_key_id(key_id)
        forged = builder.build(bsc.KeyPair().private_key).to_base64()
        result = await verify(auth_api, forged, namespace=unique)
        assert (result["allowed"], result["outcome"]) == (False, outcome)

    holder = (await auth_api.signed_in((await auth_api.create_user(email(unique)))["email"])).principal
    response = await auth_api.call("POST", f"{BASE}/revocations", holder, json={"token": token["token"]})
    assert response.status_code == 201, response.text
    assert response.json() == {"revocation_ids": token["revocation_ids"]}
    assert (await verify(auth_api, token["token"], namespace=unique))["outcome"] == "revoked"

    async def announced() -> bool:
        messages = await subject_messages(
            stack.nats.url,
            stack.subjects.events_stream,
            f"{stack.subjects.events_prefix}.auth.*.biscuit_revoked",
        )
        return any(
            json.loads(m.data)["data"]["revocation_ids"] == token["revocation_ids"]
            for m in messages
            if m.data
        )

    await eventually(announced, what="biscuit_revoked on the events stream")

    listed = (await auth_api.call("GET", f"{BASE}/revocations", params={"limit": 10000})).json()
    assert token["revocation_ids"][0] in [item["revocation_id"] for item in listed["items"]]
    newer = (await auth_api.call("GET", f"{BASE}/revocations", params={"after": listed["cursor"]})).json()
    assert newer["items"] == [] and newer["next_cursor"] is None

    # Revocation by id is for administrators.
    by_id = {"revocation_ids": ["ab" * 64]}
    assert (await auth_api.call("POST", f"{BASE}/revocations", holder, json=by_id)).status_code == 403
    assert (await auth_api.call("POST", f"{BASE}/revocations", json=by_id)).status_code == 201


async def test_rotation_over_http_keeps_old_tokens_verifiable(auth_api: AuthApi, unique: str) -> None:
    old = await issued(auth_api, namespaces=[unique])
    response = await auth_api.call("POST", f"{BASE}/root-keys/rotate")
    assert response.status_code == 201, response.text
    key = response.json()
    assert set(key) == {"id", "algorithm", "public_key", "state", "created_at", "rotated_at"}
    assert key["state"] == "active" and key["id"] > old["root_key_id"]
    new = await issued(auth_api, namespaces=[unique])
    assert new["root_key_id"] == key["id"]

    listed = (await auth_api.call("GET", f"{BASE}/root-keys", Principal.anonymous())).json()["items"]
    states = {item["id"]: item["state"] for item in listed}
    assert states[key["id"]] == "active" and states[old["root_key_id"]] == "rotated"
    assert all(set(item) == set(key) and len(item["public_key"]) == 64 for item in listed)
    for token in (old, new):
        assert (await verify(auth_api, token["token"], namespace=unique))["allowed"] is True

    # Offline, from the published keys alone.
    verifier = BiscuitVerifier({item["id"]: item["public_key"] for item in listed})
    now = datetime.now().astimezone()
    assert verifier.verify(old["token"], RequestContext(time=now, namespace=unique)).allowed

    refused = await auth_api.call("DELETE", f"{BASE}/root-keys/{key['id']}")
    assert refused.status_code == 409 and refused.json()["code"] == "root_key_active"
    assert (
        await auth_api.call("DELETE", f"{BASE}/root-keys/{old['root_key_id']}", Principal.anonymous())
    ).status_code == 401
    assert (await auth_api.call("DELETE", f"{BASE}/root-keys/{old['root_key_id']}")).status_code == 204
    assert (await verify(auth_api, old["token"], namespace=unique))["outcome"] == "unknown_root_key"
    assert (await auth_api.call("DELETE", f"{BASE}/root-keys/{old['root_key_id']}")).status_code == 404


async def test_bad_input_is_a_problem_and_changes_nothing(auth_api: AuthApi, unique: str) -> None:
    token = (await issued(auth_api, namespaces=[unique]))["token"]
    before = (await auth_api.call("GET", f"{BASE}/revocations", params={"limit": 10000})).json()["cursor"]
    calls: list[tuple[str, str, dict[str, Any], int]] = [
        ("POST", "verify", {"token": "garbage"}, 400),
        ("POST", "verify", {"token": token[:40]}, 400),
        ("POST", "verify", {"token": token, "time": "2030-01-01T00:00:00"}, 422),
        ("POST", "attenuate", {"token": "garbage", "operations": ["read"]}, 400),
        ("POST", "attenuate", {"token": token}, 422),
        ("POST", "attenuate", {"token": token, "checks": ["allow if true"]}, 422),
        ("POST", "attenuate", {"token": token, "checks": ['check if x("a") trusting ed25519/zz']}, 422),
        ("POST", "tokens", {"subject": "ann", "checks": ["check if operation("]}, 422),
        ("POST", "tokens", {"subject": "ann", "checks": ['fact("x")']}, 422),
        ("POST", "tokens", {"subject": "ann\n"}, 422),
        ("POST", "tokens", {"subject": "ann", "operations": []}, 422),
        ("POST", "tokens", {"subject": "ann", "expires_in": 0}, 422),
        ("POST", "revocations", {}, 422),
        ("POST", "revocations", {"token": token, "revocation_ids": ["ab" * 64]}, 422),
        ("POST", "revocations", {"revocation_ids": ["not hex"]}, 422),
        ("POST", "revocations", {"token": "garbage"}, 400),
    ]
    for method, path, body, status in calls:
        response = await auth_api.call(method, f"{BASE}/{path}", json=body)
        assert response.status_code == status, (path, body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    for key_id in ("0", str(2**40), "x"):
        assert (await auth_api.call("DELETE", f"{BASE}/root-keys/{key_id}")).status_code == 422
    too_far = await auth_api.call("GET", f"{BASE}/revocations", params={"after": 2**40})
    assert too_far.status_code == 422
    after = (await auth_api.call("GET", f"{BASE}/revocations", params={"after": before})).json()
    assert after["items"] == []
    assert (await verify(auth_api, token, namespace=unique))["allowed"] is True


async def test_no_private_key_in_responses_or_audit_records(
    stack: Stack, auth_api: AuthApi, unique: str
) -> None:
    rotated = (await auth_api.call("POST", f"{BASE}/root-keys/rotate")).json()
    token = await issued(auth_api, subject=unique, namespaces=[unique])
    listed: httpx.Response = await auth_api.call("GET", f"{BASE}/root-keys")
    for item in listed.json()["items"]:
        assert "private" not in json.dumps(item)

    async def audited() -> list[dict[str, Any]]:
        messages = await subject_messages(
            stack.nats.url, stack.subjects.audit_stream, f"{stack.subjects.audit_prefix}.auth.>"
        )
        events = [json.loads(m.data) for m in messages if m.data]
        return [e["data"] for e in events if e["type"].startswith("assay.auth.biscuit_")]

    async def both() -> bool:
        records = await audited()
        return any(r.get("subject") == unique for r in records) and any(
            r.get("target_id") == str(rotated["id"]) for r in records
        )

    await eventually(both, what="the biscuit audit records")
    for record in await audited():
        assert not {"private_key", "token"} & set(record)
        assert token["token"] not in json.dumps(record)
    issued_record = next(r for r in await audited() if r.get("subject") == unique)
    assert set(issued_record) == {
        "actor_id",
        "actor_kind",
        "client_address",
        "target_type",
        "target_id",
        "subject",
        "root_key_id",
        "namespaces",
        "operations",
        "resources",
        "checks",
        "expires_at",
    }
