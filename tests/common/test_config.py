"""Settings: env layering, *_FILE secrets, TOML with ${VAR} expansion, redaction."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import Field, SecretStr

from assay_common.config import CommonSettings, expand_vars, redact_url
from assay_common.errors import ConfigError


class DemoSettings(CommonSettings):
    service_name: ClassVar[str] = "demo"
    signing_key: SecretStr = SecretStr("")
    tags: list[str] = Field(default_factory=list)


def test_service_variable_beats_platform_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_NATS_URL", "nats://platform:4222")
    monkeypatch.setenv("ASSAY_DEMO_NATS_URL", "nats://demo:4222")
    assert DemoSettings().nats_url == "nats://demo:4222"


def test_platform_variable_applies_when_service_variable_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_PORT", "9999")
    assert DemoSettings().port == 9999


def test_file_variant_reads_secret_from_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("s3cr3t\n")
    monkeypatch.setenv("ASSAY_DEMO_SIGNING_KEY_FILE", str(secret))
    assert DemoSettings().signing_key.get_secret_value() == "s3cr3t"


def test_plain_variable_beats_file_variant(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret = tmp_path / "key"
    secret.write_text("from-file")
    monkeypatch.setenv("ASSAY_SIGNING_KEY_FILE", str(secret))
    monkeypatch.setenv("ASSAY_SIGNING_KEY", "from-env")
    assert DemoSettings().signing_key.get_secret_value() == "from-env"


def test_missing_secret_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSAY_SIGNING_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigError, match="ASSAY_SIGNING_KEY_FILE"):
        DemoSettings()


def test_toml_section_beats_top_level_and_expands_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "assay.toml"
    config.write_text(
        'port = 7000\nlog_level = "${LEVEL:-DEBUG}"\n'
        '[demo]\nport = 7001\nnats_url = "nats://${NATS_HOST}:4222"\ntags = ["a", "${TAG}"]\n'
    )
    monkeypatch.setenv("ASSAY_CONFIG_FILE", str(config))
    monkeypatch.setenv("NATS_HOST", "bus")
    monkeypatch.setenv("TAG", "b")
    settings = DemoSettings()
    assert (settings.port, settings.log_level, settings.nats_url, settings.tags) == (
        7001,
        "DEBUG",
        "nats://bus:4222",
        ["a", "b"],
    )


def test_environment_beats_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "assay.toml"
    config.write_text("[demo]\nport = 7001\n")
    monkeypatch.setenv("ASSAY_CONFIG_FILE", str(config))
    monkeypatch.setenv("ASSAY_DEMO_PORT", "7002")
    assert DemoSettings().port == 7002


def test_toml_reference_to_unset_variable_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "assay.toml"
    config.write_text('[demo]\nnats_url = "${ASSAY_TEST_SURELY_UNSET}"\n')
    monkeypatch.setenv("ASSAY_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match="ASSAY_TEST_SURELY_UNSET"):
        DemoSettings()


def test_invalid_toml_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "assay.toml"
    config.write_text("port = = 1\n")
    monkeypatch.setenv("ASSAY_CONFIG_FILE", str(config))
    with pytest.raises(ConfigError, match="not valid TOML"):
        DemoSettings()


def test_expand_vars_default_applies_to_empty_value() -> None:
    assert expand_vars("${A:-x}-${B}", {"A": "", "B": "y"}) == "x-y"


def test_redacted_dump_hides_secrets_and_url_passwords() -> None:
    settings = DemoSettings(
        signing_key=SecretStr("very-secret"),
        database_url="postgresql://app:pw@db:5432/assay",
        tags=["public"],
    )
    dump = settings.redacted()
    assert dump["signing_key"] == "***"
    assert dump["database_url"] == "postgresql://app:***@db:5432/assay"
    assert dump["tags"] == ["public"]
    assert "very-secret" not in repr(dump) and ":pw@" not in repr(dump)


def test_redact_url_leaves_urls_without_password_alone() -> None:
    assert redact_url("nats://127.0.0.1:4222") == "nats://127.0.0.1:4222"
