"""Random secrets and how they are kept.

Session secrets, CSRF tokens, API keys and recovery tokens are 256 random bits each. They are
stored as a plain SHA-256 digest, not with Argon2 as passwords are: a slow hash protects secrets a
person chose, which an attacker holding the digests could guess; nobody can guess 256 random bits,
so a fast digest is as safe here, and it lets a secret be found by an index lookup on its digest
(no per-row salt) on every request at no noticeable cost.
"""

from __future__ import annotations

import hashlib
import secrets

#: Every API key starts with this, so scanners and the gateway recognise one.
API_KEY_PREFIX = "assay_"
#: How much of a key lists show, to tell keys apart (the prefix and 6 of the 43 random characters).
API_KEY_DISPLAY_LENGTH = len(API_KEY_PREFIX) + 6


def new_secret() -> str:
    """256 random bits, URL-safe base64 without padding (43 characters)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """What is stored of a high-entropy secret: its SHA-256, in hex."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + new_secret()
