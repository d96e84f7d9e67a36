"""Sealing of private keys at rest with `signing_key_encryption_key` (Fernet), shared by the JWT
signing keys and the biscuit root keys. Without the setting, keys are stored in the clear."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class KeyNotOpened(Exception):
    """A sealed key cannot be opened: no encryption key is configured, or it is not the one that
    sealed it. The message never carries key material."""


class KeySealer:
    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(secret.encode()) if secret else None

    @property
    def sealing(self) -> bool:
        return self._fernet is not None

    def seal(self, plain: str) -> str:
        """`plain` sealed when an encryption key is set, else as it is (then stored with `sealed` false)."""
        return plain if self._fernet is None else self._fernet.encrypt(plain.encode()).decode()

    def open(self, stored: str, *, sealed: bool) -> str:
        """The clear text of a stored key (`sealed` says whether it was sealed when stored)."""
        if not sealed:
            return stored
        if self._fernet is None:
            raise KeyNotOpened("the key is sealed: set signing_key_encryption_key")
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            raise KeyNotOpened("the configured signing_key_encryption_key does not open the key") from None
