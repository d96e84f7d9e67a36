"""Settings of the auth service (env prefix `ASSAY_AUTH_`, see `assay_common.config`)."""

import base64
import binascii
from typing import ClassVar

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

    sweep_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often expired sessions, tokens and throttle entries are removed"
    )

    @field_validator("password_recovery_key")
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
