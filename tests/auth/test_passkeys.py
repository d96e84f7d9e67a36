"""Passkeys (WebAuthn) with a software authenticator: in the domain on SQLite and Postgres with a
test clock (expiry, single use, sweeping, cascades), and over HTTP against the running auth service
(registration, sign-in, replays, counters, origins, management, audit, what answers show)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from assay_auth.domain.context import Actor
from assay_auth.domain.errors import InvalidCredentials
from assay_auth.domain.identity import Identity
from assay_auth.domain.passkeys import InvalidPasskeyRegistration
from assay_auth.domain.sessions import ClientInfo
from assay_auth.store import tables
from assay_common.internal_auth import Principal
from tests.auth.conftest import ManualClock, outbox_events
from tests.auth.test_http_audit import in_log, on_stream
from tests.auth_api import PASSWORD, AuthApi, SignedIn, email, random_address
from tests.conftest import Stack
from tests.passkey_authenticator import Authenticator, b64url, unb64url
from tests.support import eventually

ADMIN = Actor(id="tests", kind="service")
HERE = ClientInfo(address="192.0.2.1", user_agent="pytest")
ANONYMOUS = Principal.anonymous()
PASSKEYS = "/api/v1/auth/passkeys"


# ---- the domain, on both backends --------------------------------------------------------------


def domain_origin(identity: Identity) -> str:
    [origin] = identity.ctx.settings.resolved_webauthn_origins()
    return origin


async def domain_user(identity: Identity, name: str = "ann") -> uuid.UUID:
    user = await identity.users.create(ADMIN, email=f"{name}@example.com", password=PASSWORD)
    return user.id


async def domain_register(identity: Identity, user_id: uuid.UUID, device: Authenticator) -> uuid.UUID:
    options = json.loads(await identity.passkeys.registration_options(user_id))
    row = await identity.passkeys.register(
        Actor.user(user_id), user_id, device.create(options), name="laptop"
    )
    return row.id


async def ceremony_count(identity: Identity) -> int:
    async with identity.ctx.db.read() as conn:
        query = sa.select(sa.func.count()).select_from(tables.webauthn_ceremonies)
        return int(await conn.scalar(query) or 0)


async def test_domain_registers_and_signs_in_once_per_challenge(identity: Identity) -> None:
    user_id = await domain_user(identity)
    device = Authenticator(domain_origin(identity))
    passkey_id = await domain_register(identity, user_id, device)
    assert await ceremony_count(identity) == 0, "a registration uses its ceremony up"

    options = json.loads(await identity.passkeys.authentication_options(None))
    assertion = device.get(options)
    created = await identity.passkeys.authenticate(assertion, HERE)
    assert created.user.id == user_id
    assert (await identity.sessions.validate(created.secret)).user.id == user_id
    [(_, succeeded)] = await outbox_events(identity.ctx.db, "login_succeeded")
    assert succeeded.data["method"] == "passkey" and succeeded.data["passkey_id"] == str(passkey_id)

    with pytest.raises(InvalidCredentials):
        await identity.passkeys.authenticate(assertion, HERE)
    [(_, failed)] = await outbox_events(identity.ctx.db, "login_failed")
    assert (failed.data["reason"], failed.data["method"]) == ("unknown_challenge", "passkey")
    [row] = await identity.passkeys.list(user_id)
    assert row.sign_count == 1 and row.last_used_at == identity.ctx.now()


async def test_domain_challenges_expire(identity: Identity, clock: ManualClock) -> None:
    user_id = await domain_user(identity)
    device = Authenticator(domain_origin(identity))
    ttl = identity.ctx.settings.webauthn_ceremony_ttl_seconds

    options = json.loads(await identity.passkeys.registration_options(user_id))
    clock.advance(ttl + 1)
    with pytest.raises(InvalidPasskeyRegistration):
        await identity.passkeys.register(Actor.user(user_id), user_id, device.create(options), name="late")
    assert await identity.passkeys.list(user_id) == []

    await domain_register(identity, user_id, device)
    options = json.loads(await identity.passkeys.authentication_options(None))
    clock.advance(ttl - 1)
    late_but_in_time = device.get(options)
    assert (await identity.passkeys.authenticate(late_but_in_time, HERE)).user.id == user_id

    options = json.loads(await identity.passkeys.authentication_options(None))
    clock.advance(ttl + 1)
    with pytest.raises(InvalidCredentials):
        await identity.passkeys.authenticate(device.get(options), HERE)
    reasons = [e.data["reason"] for _, e in await outbox_events(identity.ctx.db, "login_failed")]
    assert reasons == ["unknown_challenge"]


async def test_domain_sweep_removes_ended_ceremonies_only(identity: Identity, clock: ManualClock) -> None:
    user_id = await domain_user(identity)
    await identity.passkeys.registration_options(user_id)
    await identity.passkeys.authentication_options(None)
    clock.advance(identity.ctx.settings.webauthn_ceremony_ttl_seconds + 1)
    await identity.passkeys.authentication_options("ann@example.com")
    assert await ceremony_count(identity) == 3
    assert await identity.sweep() >= 2
    assert await ceremony_count(identity) == 1


async def test_domain_deleting_a_user_deletes_their_passkeys_and_ceremonies(identity: Identity) -> None:
    user_id = await domain_user(identity)
    await domain_register(identity, user_id, Authenticator(domain_origin(identity)))
    await identity.passkeys.registration_options(user_id)
    await identity.users.delete(ADMIN, user_id)
    async with identity.ctx.db.read() as conn:
        for table in (tables.passkeys, tables.webauthn_ceremonies):
            assert await conn.scalar(sa.select(sa.func.count()).select_from(table)) == 0


async def test_domain_email_options_bind_the_ceremony_to_that_user(identity: Identity) -> None:
    ann, bob = await domain_user(identity, "ann"), await domain_user(identity, "bob")
    ann_device, bob_device = Authenticator(domain_origin(identity)), Authenticator(domain_origin(identity))
    await domain_register(identity, ann, ann_device)
    await domain_register(identity, bob, bob_device)
    options = json.loads(await identity.passkeys.authentication_options("ANN@example.com"))
    assert [c["id"] for c in options["allowCredentials"]] == [ann_device.credential_id]
    with pytest.raises(InvalidCredentials):
        await identity.passkeys.authenticate(bob_device.get(options), HERE)
    reasons = [e.data["reason"] for _, e in await outbox_events(identity.ctx.db, "login_failed")]
    assert reasons == ["unknown_passkey"]


# ---- over HTTP, against the running auth service -------------------------------------------------


def problem_without_instance(response: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    return {k: v for k, v in body.items() if k != "instance"}


class Scene:
    """A user of the running stack with a software authenticator for pages of the stack."""

    def __init__(self, api: AuthApi, user: SignedIn, device: Authenticator) -> None:
        self.api = api
        self.user = user
        self.device = device
        self.responses: list[httpx.Response] = []

    async def call(self, method: str, path: str, principal: Principal, **kwargs: Any) -> httpx.Response:
        response = await self.api.call(method, path, principal, **kwargs)
        self.responses.append(response)
        return response

    async def registration_options(self) -> dict[str, Any]:
        response = await self.call("POST", f"{PASSKEYS}/registration/options", self.user.principal)
        assert response.status_code == 200, response.text
        options: dict[str, Any] = response.json()
        return options

    async def register(self, name: str = "laptop", **create: Any) -> httpx.Response:
        credential = self.device.create(await self.registration_options(), **create)
        return await self.call(
            "POST",
            f"{PASSKEYS}/registration",
            self.user.principal,
            json={"credential": credential, "name": name},
        )

    async def sign_in_options(self, email: str | None = None) -> dict[str, Any]:
        body = {"email": email} if email else {}
        response = await self.call("POST", f"{PASSKEYS}/authentication/options", ANONYMOUS, json=body)
        assert response.status_code == 200, response.text
        options: dict[str, Any] = response.json()
        return options

    async def assert_with(self, assertion: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return await self.call(
            "POST", f"{PASSKEYS}/authentication", ANONYMOUS, json={"credential": assertion}, **kwargs
        )

    async def sign_in(self, **get: Any) -> httpx.Response:
        return await self.assert_with(self.device.get(await self.sign_in_options(), **get))

    def key_material_shown(self) -> list[str]:
        texts = self.device.public_key_texts()
        return [r.request.url.path for r in self.responses for t in texts if t in r.text]


@pytest.fixture
async def scene(auth_api: AuthApi, stack: Stack, unique: str) -> Scene:
    await auth_api.create_user(email(unique), display_name="Ann")
    return Scene(auth_api, await auth_api.signed_in(email(unique)), Authenticator(stack.url))


async def registered(scene: Scene) -> dict[str, Any]:
    response = await scene.register()
    assert response.status_code == 201, response.text
    passkey: dict[str, Any] = response.json()
    return passkey


async def test_only_a_signed_in_user_registers_passkeys(auth_api: AuthApi, scene: Scene) -> None:
    options = await auth_api.call("POST", f"{PASSKEYS}/registration/options", ANONYMOUS)
    assert options.status_code == 401
    assert options.json()["code"] == "not_signed_in"
    own_options = await scene.registration_options()
    answer = {"credential": scene.device.create(own_options)}
    refused = await auth_api.call("POST", f"{PASSKEYS}/registration", ANONYMOUS, json=answer)
    assert refused.status_code == 401
    service = await auth_api.call("POST", f"{PASSKEYS}/registration/options")
    assert service.status_code == 403, "a service is not a user with passkeys"
    assert (await auth_api.call("GET", PASSKEYS, scene.user.principal)).json() == {"items": []}


async def test_registration_answers_webauthn_creation_options_and_keeps_the_passkey(
    scene: Scene, stack: Stack
) -> None:
    options = await scene.registration_options()
    assert options["rp"] == {"id": "127.0.0.1", "name": "Assay"}
    assert options["user"]["name"] == scene.user.body["user"]["email"]
    assert options["user"]["displayName"] == "Ann"
    assert uuid.UUID(bytes=unb64url(options["user"]["id"])) == uuid.UUID(scene.user.user_id)
    assert {"type": "public-key", "alg": -7} in options["pubKeyCredParams"]
    assert options["excludeCredentials"] == []
    assert options["attestation"] == "none"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["timeout"] == 300_000

    credential = scene.device.create(options)
    response = await scene.call(
        "POST",
        f"{PASSKEYS}/registration",
        scene.user.principal,
        json={"credential": credential, "name": "work laptop"},
    )
    assert response.status_code == 201, response.text
    passkey = response.json()
    assert passkey["name"] == "work laptop"
    assert passkey["user_id"] == scene.user.user_id
    assert passkey["credential_id"] == scene.device.credential_id
    assert passkey["transports"] == ["internal"]
    assert passkey["aaguid"] == "00000000-0000-0000-0000-000000000000"
    assert passkey["sign_count"] == 0 and passkey["last_used_at"] is None
    assert set(passkey) == {
        "id",
        "user_id",
        "name",
        "credential_id",
        "transports",
        "aaguid",
        "device_type",
        "backed_up",
        "sign_count",
        "created_at",
        "last_used_at",
    }

    again = await scene.registration_options()
    assert [c["id"] for c in again["excludeCredentials"]] == [scene.device.credential_id]
    replayed = await scene.call(
        "POST", f"{PASSKEYS}/registration", scene.user.principal, json={"credential": credential}
    )
    assert replayed.status_code == 400, "the challenge was used up"
    assert replayed.json()["code"] == "invalid_passkey_registration"
    assert scene.key_material_shown() == []


async def test_a_credential_is_registered_once(scene: Scene) -> None:
    await registered(scene)
    duplicate = await scene.register(keep_credential=True)
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "passkey_exists"
    listed = (await scene.call("GET", PASSKEYS, scene.user.principal)).json()["items"]
    assert len(listed) == 1


async def test_registration_from_another_origin_or_for_another_user_is_refused(
    scene: Scene, auth_api: AuthApi, unique: str
) -> None:
    wrong_origin = await scene.register(origin="https://evil.example")
    assert wrong_origin.status_code == 400
    assert wrong_origin.headers["content-type"] == "application/problem+json"

    options = await scene.registration_options()
    await auth_api.create_user(email(unique, "bob"))
    bob = await auth_api.signed_in(email(unique, "bob"))
    answer = {"credential": scene.device.create(options)}
    stolen = await auth_api.call("POST", f"{PASSKEYS}/registration", bob.principal, json=answer)
    assert stolen.status_code == 400, "the challenge was made for another user"

    nested = b64url(b"[" * 20_000)
    for client_data, attestation in (("AAAA", "AAAA"), (nested, nested)):
        garbage = dict(
            answer["credential"], response={"clientDataJSON": client_data, "attestationObject": attestation}
        )
        refused = await auth_api.call(
            "POST", f"{PASSKEYS}/registration", bob.principal, json={"credential": garbage}
        )
        assert refused.status_code == 400, refused.text
    not_json = await auth_api.call(
        "POST", f"{PASSKEYS}/registration", bob.principal, json={"credential": {"id": "x"}}
    )
    assert not_json.status_code == 422
    for who in (scene.user.principal, bob.principal):
        assert (await auth_api.call("GET", PASSKEYS, who)).json() == {"items": []}


async def test_sign_in_with_a_passkey_makes_a_session_as_a_password_does(
    scene: Scene, auth_api: AuthApi
) -> None:
    passkey = await registered(scene)
    options = await scene.sign_in_options()
    assert options["rpId"] == "127.0.0.1" and options["allowCredentials"] == []
    assert options["userVerification"] == "preferred"

    response = await scene.assert_with(scene.device.get(options))
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == set(scene.user.body) == {"user", "session", "csrf_token"}
    assert body["user"]["id"] == scene.user.user_id
    assert response.cookies["assay_csrf"] == body["csrf_token"]
    secret = response.cookies["assay_session"]
    assert secret not in response.text

    valid = await auth_api.call("POST", "/internal/v1/sessions/validate", json={"secret": secret})
    assert valid.status_code == 200, valid.text
    assert valid.json()["session_id"] == body["session"]["id"]
    principal = Principal(id=body["user"]["id"], kind="user", session_id=body["session"]["id"])
    whoami = await auth_api.call("GET", "/api/v1/auth/whoami", principal)
    assert whoami.status_code == 200 and whoami.json()["user"]["id"] == scene.user.user_id

    [listed] = (await scene.call("GET", PASSKEYS, scene.user.principal)).json()["items"]
    assert listed["id"] == passkey["id"] and listed["sign_count"] == 1
    assert listed["last_used_at"] is not None
    assert scene.key_material_shown() == []


async def test_signing_in_replaces_the_session_the_browser_brought(scene: Scene, auth_api: AuthApi) -> None:
    await registered(scene)
    cookie = {"cookie": f"assay_session={scene.user.secret}"}
    options = await scene.sign_in_options()
    response = await scene.assert_with(scene.device.get(options), headers=cookie)
    assert response.status_code == 200, response.text
    old = await auth_api.call("POST", "/internal/v1/sessions/validate", json={"secret": scene.user.secret})
    assert old.status_code == 401


async def test_sign_in_with_an_email_lists_that_users_passkeys(scene: Scene, unique: str) -> None:
    await registered(scene)
    known = await scene.sign_in_options(email(unique).upper())
    assert [c["id"] for c in known["allowCredentials"]] == [scene.device.credential_id]
    assert (await scene.assert_with(scene.device.get(known))).status_code == 200
    unknown = await scene.sign_in_options(email(unique, "nobody"))
    assert unknown["allowCredentials"] == []
    assert (await scene.assert_with(scene.device.get(unknown))).status_code == 200


async def test_a_replayed_assertion_is_refused(scene: Scene, auth_api: AuthApi) -> None:
    passkey = await registered(scene)
    assertion = scene.device.get(await scene.sign_in_options())
    assert (await scene.assert_with(assertion)).status_code == 200
    replay = await scene.assert_with(assertion)
    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_credentials"
    assert "set-cookie" not in replay.headers
    await eventually(
        lambda: failures(auth_api, scene.user.user_id, "unknown_challenge", passkey["id"]),
        what="the replay in the audit log",
    )


async def test_a_counter_that_does_not_grow_is_refused(scene: Scene, auth_api: AuthApi) -> None:
    passkey = await registered(scene)
    assert (await scene.sign_in()).status_code == 200
    assert (await scene.sign_in()).status_code == 200
    scene.device.sign_count = 1  # a clone would carry on from an older count
    cloned = await scene.sign_in()
    assert cloned.status_code == 401
    assert cloned.json()["code"] == "invalid_credentials"
    [listed] = (await scene.call("GET", PASSKEYS, scene.user.principal)).json()["items"]
    assert listed["sign_count"] == 2, "a refused sign-in leaves the counter alone"
    await eventually(
        lambda: failures(auth_api, scene.user.user_id, "counter_regression", passkey["id"]),
        what="the counter regression in the audit log",
    )


async def test_an_assertion_made_for_another_origin_is_refused(scene: Scene) -> None:
    await registered(scene)
    assert (await scene.sign_in(origin="https://evil.example")).status_code == 401
    assert (await scene.sign_in()).status_code == 200


async def test_every_failed_passkey_sign_in_answers_like_a_wrong_password(
    scene: Scene, auth_api: AuthApi, stack: Stack, unique: str
) -> None:
    await registered(scene)
    stranger = Authenticator(stack.url)
    stranger.create(STRAY_CREATION_OPTIONS)
    unknown = await scene.assert_with(stranger.get(await scene.sign_in_options()))
    assertion = scene.device.get(await scene.sign_in_options())
    assert (await scene.assert_with(assertion)).status_code == 200
    replayed = await scene.assert_with(assertion)
    tampered = scene.device.get(await scene.sign_in_options())
    tampered["response"]["signature"] = tampered["response"]["signature"][:-4] + "AAAA"
    bad_signature = await scene.assert_with(tampered)
    garbage = dict(tampered, response=dict(tampered["response"], clientDataJSON="AAAA"))
    unreadable = await scene.assert_with(garbage)
    nested = b64url(b"[" * 20_000)  # deeper than any JSON parser recurses
    deep = await scene.assert_with(dict(tampered, response=dict(tampered["response"], clientDataJSON=nested)))
    wrong_password = await auth_api.login(email(unique), "not the password")

    answers = [unknown, replayed, bad_signature, unreadable, deep]
    assert {r.status_code for r in answers} == {401} == {wrong_password.status_code}
    assert all(r.headers["content-type"] == "application/problem+json" for r in answers)
    assert all("set-cookie" not in r.headers for r in answers)
    assert len({json.dumps(problem_without_instance(r), sort_keys=True) for r in answers}) == 1
    refused, password = problem_without_instance(unknown), problem_without_instance(wrong_password)
    assert (refused["code"], refused["title"], refused["type"]) == (
        password["code"],
        password["title"],
        password["type"],
    )


#: Creation options no server made: an authenticator answering them holds a credential for the
#: stack's relying party that nobody registered.
STRAY_CREATION_OPTIONS = {
    "rp": {"id": "127.0.0.1", "name": "Assay"},
    "user": {"id": "AAAA", "name": "nobody", "displayName": "nobody"},
    "challenge": "AAAA",
    "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    "attestation": "none",
}


async def test_a_disabled_user_cannot_sign_in_with_a_passkey(scene: Scene, auth_api: AuthApi) -> None:
    passkey = await registered(scene)
    disabled = await auth_api.call("POST", f"/api/v1/auth/users/{scene.user.user_id}/disable")
    assert disabled.status_code == 200, disabled.text
    assert (await scene.sign_in()).status_code == 401
    await eventually(
        lambda: failures(auth_api, scene.user.user_id, "disabled", passkey["id"]),
        what="the disabled user's attempt in the audit log",
    )
    await auth_api.call("POST", f"/api/v1/auth/users/{scene.user.user_id}/enable")
    assert (await scene.sign_in()).status_code == 200


async def test_own_passkeys_are_listed_renamed_and_removed(
    stack: Stack, scene: Scene, auth_api: AuthApi, unique: str
) -> None:
    passkey = await registered(scene)
    me = scene.user.principal
    renamed = await scene.call("PATCH", f"{PASSKEYS}/{passkey['id']}", me, json={"name": "phone"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["name"] == "phone"
    assert (
        await scene.call("PATCH", f"{PASSKEYS}/{passkey['id']}", me, json={"name": "  "})
    ).status_code == 422
    [listed] = (await scene.call("GET", PASSKEYS, me)).json()["items"]
    assert listed["name"] == "phone"

    await auth_api.create_user(email(unique, "bob"))
    bob = (await auth_api.signed_in(email(unique, "bob"))).principal
    assert (
        await auth_api.call("PATCH", f"{PASSKEYS}/{passkey['id']}", bob, json={"name": "x"})
    ).status_code == 404
    assert (await auth_api.call("DELETE", f"{PASSKEYS}/{passkey['id']}", bob)).status_code == 404
    assert (await auth_api.call("GET", PASSKEYS, bob)).json() == {"items": []}

    assert (await scene.call("DELETE", f"{PASSKEYS}/{passkey['id']}", me)).status_code == 204
    assert (await scene.call("DELETE", f"{PASSKEYS}/{passkey['id']}", me)).status_code == 404
    assert (await scene.call("GET", PASSKEYS, me)).json() == {"items": []}
    assert (await scene.sign_in()).status_code == 401, "a removed passkey signs nobody in"
    assert scene.key_material_shown() == []

    async def recorded() -> bool:
        actions = {e["action"] for e in await in_log(auth_api, target=passkey["id"])}
        return actions == {"passkey_added", "passkey_renamed", "passkey_removed"}

    await eventually(recorded, what="the passkey's audit records")

    async def streamed() -> bool:
        return await on_stream(stack, passkey["id"]) == [
            "passkey_added",
            "passkey_renamed",
            "passkey_removed",
        ]

    await eventually(streamed, what="the passkey's audit records on the audit stream")
    [added] = await in_log(auth_api, target=passkey["id"], action="passkey_added")
    assert added["actor_id"] == scene.user.user_id
    assert added["data"]["owner_id"] == scene.user.user_id and added["data"]["name"] == "laptop"


async def test_administrators_list_and_remove_a_users_passkeys(
    scene: Scene, auth_api: AuthApi, unique: str
) -> None:
    passkey = await registered(scene)
    admin = await auth_api.admin(email(unique, "admin"))
    path = f"/api/v1/auth/users/{scene.user.user_id}/passkeys"
    listed = await scene.call("GET", path, admin)
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["items"]] == [passkey["id"]]
    assert (await auth_api.call("GET", path, scene.user.principal)).status_code == 403
    assert (
        await auth_api.call("GET", f"/api/v1/auth/users/{uuid.uuid4()}/passkeys", admin)
    ).status_code == 404
    elsewhere = f"/api/v1/auth/users/{uuid.uuid4()}/passkeys/{passkey['id']}"
    assert (await auth_api.call("DELETE", elsewhere, admin)).status_code == 404
    assert (await auth_api.call("DELETE", f"{path}/{passkey['id']}", admin)).status_code == 204
    assert (await auth_api.call("GET", path, admin)).json() == {"items": []}
    assert scene.key_material_shown() == []

    async def removed_by_admin() -> bool:
        records = await in_log(auth_api, target=passkey["id"], action="passkey_removed")
        return [r["actor_id"] for r in records] == [admin.id]

    await eventually(removed_by_admin, what="the administrator's removal in the audit log")


async def test_deleting_a_user_deletes_their_passkeys(scene: Scene, auth_api: AuthApi) -> None:
    await registered(scene)
    assert (await auth_api.call("DELETE", f"/api/v1/auth/users/{scene.user.user_id}")).status_code == 204
    address = random_address()
    assertion = scene.device.get(await scene.sign_in_options())
    assert (await scene.assert_with(assertion, address=address)).status_code == 401

    async def unknown_now() -> bool:
        return any(
            r["client_address"] == address
            and (r["data"]["method"], r["data"]["reason"], r["data"]["passkey_id"])
            == ("passkey", "unknown_passkey", None)
            for r in await in_log(auth_api, action="login_failed")
        )

    await eventually(unknown_now, what="the sign-in with a deleted passkey in the audit log")


async def test_passkey_sign_ins_are_audited_with_their_method(scene: Scene, auth_api: AuthApi) -> None:
    passkey = await registered(scene)
    response = await scene.sign_in()
    session_id = response.json()["session"]["id"]

    async def succeeded() -> bool:
        records = await in_log(auth_api, target=scene.user.user_id, action="login_succeeded")
        return any(r["data"]["session_id"] == session_id for r in records)

    await eventually(succeeded, what="the passkey sign-in in the audit log")
    records = await in_log(auth_api, target=scene.user.user_id, action="login_succeeded")
    [record] = [r for r in records if r["data"]["session_id"] == session_id]
    assert record["data"]["method"] == "passkey" and record["data"]["passkey_id"] == passkey["id"]
    assert record["actor_id"] == scene.user.user_id
    password_login = [r for r in records if r["data"]["session_id"] == scene.user.body["session"]["id"]]
    assert [r["data"]["method"] for r in password_login] == ["password"]


async def failures(api: AuthApi, user_id: str, reason: str, passkey_id: str) -> bool:
    """Whether the audit log holds a failed passkey sign-in of the user for this reason."""
    return any(
        (r["data"]["reason"], r["data"]["method"], r["data"]["passkey_id"]) == (reason, "passkey", passkey_id)
        for r in await in_log(api, target=user_id, action="login_failed")
    )
