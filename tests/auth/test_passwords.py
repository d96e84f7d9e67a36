"""Argon2id hashing, verification, rehashing and the password policy; the settings' defaults."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from pydantic import ValidationError

from assay_auth.domain.errors import WeakPassword
from assay_auth.domain.passwords import Passwords
from assay_auth.settings import AuthSettings
from tests.auth.conftest import settings
from tests.auth_api import PASSWORD


def verifications() -> float:
    return REGISTRY.get_sample_value("assay_auth_password_verifications_total") or 0.0


def test_production_cost_is_64_mib_3_passes_4_lanes_by_default() -> None:
    fields = AuthSettings.model_fields
    assert fields["password_hash_memory_kib"].default == 65536
    assert fields["password_hash_time_cost"].default == 3
    assert fields["password_hash_parallelism"].default == 4


async def test_hash_is_argon2id_with_the_configured_parameters_and_verifies() -> None:
    passwords = Passwords(settings())
    stored = await passwords.hash(PASSWORD)
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert await passwords.verify(stored, PASSWORD)
    assert not await passwords.verify(stored, PASSWORD + "!")
    assert stored != await passwords.hash(PASSWORD), "each hash has its own salt"


async def test_no_hash_and_a_broken_hash_cost_a_verification_and_never_match() -> None:
    passwords = Passwords(settings())
    before = verifications()
    assert not await passwords.verify(None, PASSWORD)
    assert not await passwords.verify("$argon2id$broken", PASSWORD)
    assert verifications() == before + 2


async def test_a_hash_made_with_other_parameters_needs_rehashing() -> None:
    old = await Passwords(settings()).hash(PASSWORD)
    current = Passwords(settings(password_hash_memory_kib=16384))
    assert current.needs_rehash(old)
    assert not current.needs_rehash(await current.hash(PASSWORD))
    assert await current.verify(old, PASSWORD), "an old hash still verifies with its own parameters"


@pytest.mark.parametrize(
    "password", ["short", " " * 20, "é" * 513], ids=["too-short", "only-spaces", "over-1024-bytes"]
)
def test_policy_refuses(password: str) -> None:
    with pytest.raises(WeakPassword):
        Passwords(settings()).check_policy(password)


def test_policy_accepts_a_long_passphrase_and_follows_the_minimum_setting() -> None:
    Passwords(settings()).check_policy("x" * 1024)
    Passwords(settings(password_min_length=4)).check_policy("abcd")
    with pytest.raises(WeakPassword):
        Passwords(settings(password_min_length=13)).check_policy("x" * 12)


def test_recovery_key_must_be_a_fernet_key() -> None:
    with pytest.raises(ValidationError, match="Fernet key"):
        settings(password_recovery_key="not-a-key")
    assert settings(password_recovery_key="").password_recovery_key.get_secret_value() == ""
