"""Settings for every service: environment variables, `*_FILE` secrets and an optional TOML file.

Lookup order for a field `foo` of the service `workflow` (first hit wins):

1. keyword arguments given in code (tests, `assay up`);
2. `ASSAY_WORKFLOW_FOO`, then the platform-wide `ASSAY_FOO`;
3. `ASSAY_WORKFLOW_FOO_FILE`, then `ASSAY_FOO_FILE`: the file's content, stripped (Docker/K8s secrets);
4. the TOML file named by `ASSAY_CONFIG_FILE`: key `foo` in table `[workflow]`, then top-level `foo`;
5. the field's default.

TOML string values expand `${VAR}` (an error when VAR is unset) and `${VAR:-default}`.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from assay_common.errors import ConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_NAME = re.compile(r"(password|secret|token|private|signing_key|api_key)", re.IGNORECASE)


def expand_vars(text: str, environ: dict[str, str] | None = None) -> str:
    """Expand `${VAR}` and `${VAR:-default}` in `text`; an unset VAR without default is an error."""
    env = os.environ if environ is None else environ

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = env.get(name)
        if value is None or (value == "" and default is not None):
            if default is None:
                raise ConfigError(f"configuration refers to ${{{name}}}, which is not set")
            return default
        return value

    return _VAR.sub(replace, text)


def _expand_tree(value: Any) -> Any:
    if isinstance(value, str):
        return expand_vars(value)
    if isinstance(value, dict):
        return {k: _expand_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_tree(v) for v in value]
    return value


def _decode(field: FieldInfo, raw: str) -> Any:
    """Complex fields (lists, dicts) take JSON; scalars are left to pydantic's coercion."""
    stripped = raw.strip()
    if stripped[:1] in ("[", "{") and field.annotation not in (str, SecretStr):
        return json.loads(stripped)
    return raw


class _LayeredEnvSource(PydanticBaseSettingsSource):
    """Service-specific env, then platform-wide env; `*_FILE` variants read secrets from files."""

    def __init__(self, settings_cls: type[BaseSettings], *, from_files: bool) -> None:
        super().__init__(settings_cls)
        self.from_files = from_files

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Required by the base class; __call__ below does the work.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        service = getattr(self.settings_cls, "service_name", "")
        prefixes = [f"ASSAY_{service.upper()}_", "ASSAY_"] if service else ["ASSAY_"]
        found: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            for prefix in prefixes:
                key = f"{prefix}{name.upper()}"
                if self.from_files:
                    path = os.environ.get(f"{key}_FILE")
                    if path:
                        try:
                            found[name] = _decode(field, Path(path).read_text().strip())
                        except OSError as exc:
                            raise ConfigError(f"cannot read {key}_FILE: {exc.strerror}") from None
                        break
                elif key in os.environ:
                    found[name] = _decode(field, os.environ[key])
                    break
        return found


class _TomlSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("ASSAY_CONFIG_FILE")
        if not path:
            return {}
        try:
            document = tomllib.loads(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read ASSAY_CONFIG_FILE {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"ASSAY_CONFIG_FILE {path} is not valid TOML: {exc}") from None
        service = getattr(self.settings_cls, "service_name", "")
        section = document.get(service, {}) if service else {}
        fields = self.settings_cls.model_fields
        merged = {k: v for k, v in document.items() if k in fields and not isinstance(v, dict)}
        merged.update({k: v for k, v in section.items() if k in fields})
        return {k: _expand_tree(v) for k, v in merged.items()}


class AssaySettings(BaseSettings):
    """Base of every settings model; subclasses set `service_name` and add their fields."""

    service_name: ClassVar[str] = ""
    model_config = SettingsConfigDict(extra="ignore", validate_default=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _LayeredEnvSource(settings_cls, from_files=False),
            _LayeredEnvSource(settings_cls, from_files=True),
            _TomlSource(settings_cls),
        )

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict fit for logs and diagnostics: secrets masked, URL passwords hidden."""
        out: dict[str, Any] = {}
        for name, value in self.model_dump().items():
            if isinstance(getattr(self, name), SecretStr) or (_SECRET_NAME.search(name) and value):
                out[name] = "***"
            elif isinstance(value, str) and "://" in value:
                out[name] = redact_url(value)
            else:
                out[name] = value
        return out


def redact_url(url: str) -> str:
    """Hide the password of a URL such as `postgresql://user:pw@host/db`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    netloc = f"{parts.username}:***@{host}" if parts.username else f"***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


class CommonSettings(AssaySettings):
    """What every service reads: where its data, the bus and its peers are."""

    data_dir: Path = Field(default=Path(".assay"), description="Directory of SQLite files and local state")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; postgresql://… or sqlite:///…; default: a SQLite file in data_dir",
    )
    db_schema: str | None = Field(default=None, description="Postgres schema; default: the service name")
    nats_url: str = "nats://127.0.0.1:4222"
    build: str = Field(
        default="",
        description="What the service was built from (e.g. the source commit); the image sets it from "
        "its ASSAY_BUILD build argument; shown by /version and the console",
    )
    events_stream: str = "ASSAY_EVENTS"
    audit_stream: str = "ASSAY_AUDIT"
    subject_prefix: str = Field(default="assay", description="First token of event subjects")
    audit_subject_prefix: str = "audit"
    events_max_age_seconds: float = 3 * 24 * 3600
    audit_max_age_seconds: float = 365 * 24 * 3600
    outbox_relay_enabled: bool = True
    outbox_sweep_seconds: float = 1.0
    permission_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How long a permission answer is reused (newer writes end it sooner, by event or zookie)",
    )
    internal_verify_keys: str = Field(
        default="",
        description="Comma-separated Ed25519 public keys (PEM or base64) that sign internal tokens",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    otlp_endpoint: str | None = None
    proxy_headers: bool = Field(
        default=True,
        description="Trust X-Forwarded-* from forwarded_allow_ips (services are behind the gateway)",
    )
    forwarded_allow_ips: str = "127.0.0.1"
    http_idle_timeout_seconds: int = Field(
        default=75,
        ge=5,
        description="How long an idle keep-alive connection from a client is kept open",
    )
    public_url: str = "http://127.0.0.1:8080"

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"
