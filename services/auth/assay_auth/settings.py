"""Settings of the auth service (env prefix `ASSAY_AUTH_`, see `assay_common.config`)."""

import base64
import binascii
from typing import ClassVar
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator

from assay_common.config import CommonSettings


class AuthSettings(CommonSettings):
    service_name: ClassVar[str] = "auth"
    port: int = 8082

    # Argon2id cost. Stored hashes carry their own parameters, so changing these never locks anyone
    # out: a hash made with other parameters is verified with its own and replaced at next sign-in.
    password_hash_memory_kib: int = Field(
        default=65536, ge=1024, description="Argon2id memory per hash, in KiB (64 MiB)"
    )
    password_hash_time_cost: int = Field(default=3, ge=1, description="Argon2id passes over the memory")
    password_hash_parallelism: int = Field(default=4, ge=1, description="Argon2id lanes")
    password_min_length: int = Field(default=12, ge=1, le=1024, description="Shortest password accepted")

    session_idle_ttl_seconds: float = Field(
        default=24 * 3600, gt=0, description="A session unused this long ends"
    )
    session_absolute_ttl_seconds: float = Field(
        default=14 * 24 * 3600, gt=0, description="A session ends this long after sign-in, used or not"
    )

    login_throttle_window_seconds: float = Field(
        default=900.0, gt=0, description="Failed sign-ins further apart than this start the count again"
    )
    login_throttle_account_failures: int = Field(
        default=5, ge=1, description="Failures for one account before it is locked for a while"
    )
    login_throttle_address_failures: int = Field(
        default=30, ge=1, description="Failures from one client address before it is locked for a while"
    )
    login_throttle_base_seconds: float = Field(
        default=1.0, gt=0, description="First lock; each further failure doubles it"
    )
    login_throttle_max_seconds: float = Field(default=900.0, gt=0, description="Longest lock")

    password_recovery_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key sealing recovery tokens for the mail sender; empty: recovery is off",
    )
    password_recovery_ttl_seconds: float = Field(
        default=900.0, gt=0, description="How long a recovery token can be used"
    )
    password_recovery_cooldown_seconds: float = Field(
        default=60.0, ge=0, description="Shortest interval between two recovery tokens for one user"
    )

    bootstrap_password_link_ttl_seconds: float = Field(
        default=7 * 24 * 3600,
        gt=0,
        description="How long the bootstrap administrator's set-password link works",
    )

    first_user_becomes_admin: bool = Field(
        default=True,
        description="On a platform that never had an administrator, the first user to sign in becomes "
        "one (`platform:assay#admin`)",
    )

    sweep_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often expired sessions, tokens and throttle entries are removed"
    )

    webauthn_rp_id: str = Field(
        default="",
        max_length=253,
        description="WebAuthn relying-party id: the domain passkeys belong to; empty: the host of public_url",
    )
    webauthn_rp_name: str = Field(
        default="Assay", min_length=1, max_length=100, description="The name authenticators show for passkeys"
    )
    webauthn_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) of pages running passkey ceremonies; empty: public_url's",
    )
    webauthn_ceremony_ttl_seconds: float = Field(
        default=300.0, gt=0, le=3600, description="How long a passkey challenge can be answered"
    )

    def resolved_webauthn_rp_id(self) -> str:
        """The relying-party id: the configured one, else the host of `public_url`."""
        return self.webauthn_rp_id or (urlsplit(self.public_url).hostname or "localhost")

    def resolved_webauthn_origins(self) -> list[str]:
        """The origins accepted in a ceremony's client data: the configured ones, else the origin of
        `public_url` (what the browser reports: scheme, host and a non-default port, no path)."""
        return self.webauthn_origins or [_origin(self.public_url)]

    @field_validator("webauthn_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return [_origin(origin) for origin in value]

    signing_key_encryption_key: SecretStr = Field(
        default=SecretStr(""),
        description="Fernet key sealing the JWT signing keys and the biscuit root keys in the database; "
        "empty: stored in the clear",
    )
    signing_key_rotation_seconds: float = Field(
        default=30 * 24 * 3600, gt=0, description="A JWT signing key is replaced this long after it was made"
    )
    token_ttl_seconds: int = Field(
        default=900, ge=1, le=24 * 3600, description="Longest life of a JWT from the token exchange"
    )
    biscuit_token_max_ttl_seconds: int = Field(
        default=30 * 24 * 3600, ge=1, description="Longest life of a biscuit token when it is issued"
    )
    token_audience: str = Field(
        default="assay", min_length=1, description="The `aud` of Assay's JWTs (the gateway checks it)"
    )

    permissions_cache_entries: int = Field(
        default=100_000,
        ge=0,
        description="Permission answers (checks, expands, lookups) kept per process, keyed by store "
        "revision; 0: no cache",
    )
    permissions_staleness_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How old a store revision `minimize_latency` reads may use before the current one "
        "is read again",
    )
    permissions_max_depth: int = Field(
        default=50, ge=1, le=1000, description="Deepest nesting of relations a permission query follows"
    )

    @field_validator("password_recovery_key", "signing_key_encryption_key")
    @classmethod
    def _fernet_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value()
        if key:
            try:
                raw = base64.urlsafe_b64decode(key.encode())
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != 32:
                raise ValueError("must be a Fernet key: 32 bytes in URL-safe base64 (44 characters)")
        return value


def _origin(url: str) -> str:
    """The origin of `url` as a browser writes it in client data: scheme://host, and the port
    only when it is not the scheme's default."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(f"{url!r}: give an origin such as https://assay.example.com")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{url!r}: the port is not a number") from None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None and port != default else "")
