"""A software passkey authenticator speaking the browser's JSON: it takes the options the auth
service gives (as `PublicKeyCredential.parseCreationOptionsFromJSON()` would read them) and answers
with the credential as `PublicKeyCredential.toJSON()` writes it.

Underneath is `soft_webauthn.SoftWebauthnDevice` (one ES256 credential, attestation `none`, user
presence without verification), which works with fido2-style dictionaries of bytes.
"""

from __future__ import annotations

import base64
from typing import Any

from soft_webauthn import SoftWebauthnDevice


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Authenticator:
    """One authenticator holding (at most) one credential, used from pages at `origin`."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.device = SoftWebauthnDevice()

    @property
    def credential_id(self) -> str:
        """The credential's id as the server stores and shows it."""
        return b64url(self.device.credential_id)

    @property
    def sign_count(self) -> int:
        count: int = self.device.sign_count
        return count

    @sign_count.setter
    def sign_count(self, value: int) -> None:
        self.device.sign_count = value

    def public_key_texts(self) -> list[str]:
        """Every way the credential's public key might be written in an answer: raw point,
        COSE, DER; each in URL-safe and standard base64."""
        from cryptography.hazmat.primitives import serialization
        from fido2 import cbor
        from fido2.cose import ES256

        public = self.device.private_key.public_key()
        forms = [
            public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint),
            cbor.encode(ES256.from_cryptography_key(public)),
            public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        ]
        return [text for raw in forms for text in (b64url(raw), base64.b64encode(raw).decode())]

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, keep_credential: bool = False
    ) -> dict[str, Any]:
        """Answer creation options (the JSON the server gave): a new credential, unless
        `keep_credential` makes the device present the one it holds again."""
        public_key: dict[str, Any] = {
            **options,
            "challenge": unb64url(options["challenge"]),
            "user": {**options["user"], "id": unb64url(options["user"]["id"])},
            "attestation": options.get("attestation", "none"),
        }
        if keep_credential:
            made = self._with_held_credential(public_key, origin or self.origin)
        else:
            made = self.device.create({"publicKey": public_key}, origin or self.origin)
        return {
            "id": b64url(made["rawId"]),
            "rawId": b64url(made["rawId"]),
            "type": made["type"],
            "response": {
                "clientDataJSON": b64url(made["response"]["clientDataJSON"]),
                "attestationObject": b64url(made["response"]["attestationObject"]),
                "transports": ["internal"],
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }

    def _with_held_credential(self, public_key: dict[str, Any], origin: str) -> dict[str, Any]:
        """The device's creation answer for the credential it holds (it always makes a new one:
        its key-making step is swapped for one keeping the held key)."""
        init = self.device.cred_init
        held = (self.device.credential_id, self.device.private_key)

        def keep(rp_id: str, user_handle: bytes) -> None:
            self.device.credential_id, self.device.private_key = held
            self.device.rp_id, self.device.user_handle = rp_id, user_handle

        self.device.cred_init = keep
        try:
            made: dict[str, Any] = self.device.create({"publicKey": public_key}, origin)
        finally:
            self.device.cred_init = init
        return made

    def get(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        """Answer request options (the JSON the server gave) with an assertion."""
        public_key = {**options, "challenge": unb64url(options["challenge"])}
        made = self.device.get({"publicKey": public_key}, origin or self.origin)
        response = made["response"]
        return {
            "id": b64url(made["rawId"]),
            "rawId": b64url(made["rawId"]),
            "type": made["type"],
            "response": {
                "clientDataJSON": b64url(response["clientDataJSON"]),
                "authenticatorData": b64url(response["authenticatorData"]),
                "signature": b64url(response["signature"]),
                "userHandle": b64url(response["userHandle"]) if response["userHandle"] else None,
            },
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
        }
