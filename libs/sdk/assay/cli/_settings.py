"""What the CLI talks to and how it prints. Each setting comes from the first of: the command's
flag, the flag given before the command, the environment, the config file, the default."""

from __future__ import annotations

import os
import sys
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from assay.cli._credentials import CredentialsUnreadable, stored_login
from assay.client import API_KEY_ENV, API_KEY_FILE_ENV, DEFAULT_API_URL, AssayClient

#: Exit codes: success, any error, a wait that timed out, a command line that makes no sense
#: (EX_USAGE from sysexits.h).
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_TIMEOUT = 2
EXIT_USAGE = 64

CONFIG_ENV = "ASSAY_CLI_CONFIG"
API_URL_ENV = "ASSAY_API_URL"
OUTPUT_ENV = "ASSAY_OUTPUT"
NAMESPACE_ENV = "ASSAY_NAMESPACE"
CONFIG_KEYS = ("api_url", "api_key", "api_key_file", "output", "namespace")
#: The namespace commands act in when none is given.
DEFAULT_NAMESPACE = "main"


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    yaml = "yaml"


class ConfigError(Exception):
    """The environment or the config file holds something the CLI cannot use."""


def _check_api_url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise typer.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


ApiUrlOption = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        metavar="URL",
        callback=_check_api_url,
        show_default=False,
        help=f"The Assay API (the gateway). Else ${API_URL_ENV}, the config file, {DEFAULT_API_URL}.",
    ),
]
OutputOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--output",
        "-o",
        case_sensitive=False,
        show_default=False,
        help=f"How to print results. Else ${OUTPUT_ENV}, the config file, "
        "then table on a terminal and json otherwise.",
    ),
]
CursorOption = Annotated[
    str | None,
    typer.Option(metavar="CURSOR", show_default=False, help="The next page: the cursor the last one gave."),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option(
        "--namespace",
        "-n",
        metavar="NS",
        show_default=False,
        help=f"The namespace to act in. Else ${NAMESPACE_ENV}, the config file, {DEFAULT_NAMESPACE}.",
    ),
]


ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        metavar="KEY",
        show_default=False,
        help=f"An API key (assay_…) to authenticate with. Else --api-key-file, ${API_KEY_ENV}, "
        f"${API_KEY_FILE_ENV}, the config file's api_key or api_key_file, the key of `assay login`.",
    ),
]
ApiKeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--api-key-file",
        metavar="FILE",
        show_default=False,
        help="A file holding the API key (keeps it out of the process list and shell history).",
    ),
]


@dataclass(frozen=True)
class GlobalOptions:
    """The flags given before the command."""

    api_url: str | None = None
    output: OutputFormat | None = None
    namespace: str | None = None
    api_key: str | None = None
    api_key_file: Path | None = None


@dataclass(frozen=True)
class CliSettings:
    api_url: str
    output: OutputFormat
    namespace: str = DEFAULT_NAMESPACE
    api_key: str | None = field(default=None, repr=False)

    def client(self) -> AssayClient:
        """A client of the API these settings name, authenticated when they hold a key."""
        return AssayClient(self.api_url, api_key=self.api_key)


def resolve(
    ctx: typer.Context,
    api_url: str | None = None,
    output: OutputFormat | None = None,
    namespace: str | None = None,
) -> CliSettings:
    """The settings for this command: its flags, then the global flags, env, config file, defaults."""
    given = ctx.find_object(GlobalOptions) or GlobalOptions()
    config = load_config()
    url = api_url or given.api_url or os.environ.get(API_URL_ENV) or config.get("api_url") or DEFAULT_API_URL
    if not url.startswith(("http://", "https://")):
        raise ConfigError(
            f"the API URL {url!r} (from ${API_URL_ENV} or the config file) is not an http:// or https:// URL"
        )
    chosen = output or given.output
    if chosen is None and (name := os.environ.get(OUTPUT_ENV) or config.get("output")):
        chosen = _output_format(name)
    if chosen is None:
        chosen = OutputFormat.table if sys.stdout.isatty() else OutputFormat.json
    space = (
        namespace
        or given.namespace
        or os.environ.get(NAMESPACE_ENV)
        or config.get("namespace")
        or DEFAULT_NAMESPACE
    )
    return CliSettings(url.rstrip("/"), chosen, space, _api_key(given, config, url))


def _api_key(given: GlobalOptions, config: dict[str, str], api_url: str) -> str | None:
    """The first of: --api-key, --api-key-file, $ASSAY_API_KEY, $ASSAY_API_KEY_FILE, the config
    file's api_key, its api_key_file, the key `assay login` stored for this API URL."""
    if given.api_key:
        return given.api_key
    if given.api_key_file is not None:
        return _read_key(given.api_key_file, "--api-key-file")
    if key := os.environ.get(API_KEY_ENV):
        return key
    if path := os.environ.get(API_KEY_FILE_ENV):
        return _read_key(Path(path), f"${API_KEY_FILE_ENV}")
    if key := config.get("api_key"):
        return key
    if path := config.get("api_key_file"):
        return _read_key(Path(path).expanduser(), "the config file's api_key_file")
    try:
        stored = stored_login(api_url)
    except CredentialsUnreadable as exc:
        raise ConfigError(str(exc)) from None
    return stored.api_key if stored else None


def _read_key(path: Path, source: str) -> str:
    try:
        key = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the API key file {path} ({source}): {exc}") from None
    if not key:
        raise ConfigError(f"the API key file {path} ({source}) is empty")
    return key


def config_path() -> Path | None:
    """`$ASSAY_CLI_CONFIG` (which must exist), else `$XDG_CONFIG_HOME/assay/config.toml`
    (`~/.config/assay/config.toml`) when it exists."""
    explicit = os.environ.get(CONFIG_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"${CONFIG_ENV} names {path}, which is not a file")
        return path
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    path = Path(base) / "assay" / "config.toml"
    return path if path.is_file() else None


def load_config() -> dict[str, str]:
    path = config_path()
    if path is None:
        return {}
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    unknown = sorted(set(document) - set(CONFIG_KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(CONFIG_KEYS)}"
        )
    for key, value in document.items():
        if not isinstance(value, str):
            raise ConfigError(f"{path}: {key} must be a string")
    return dict(document)


def _output_format(name: str) -> OutputFormat:
    try:
        return OutputFormat(name.lower())
    except ValueError:
        choices = ", ".join(f.value for f in OutputFormat)
        raise ConfigError(
            f"output {name!r} (from ${OUTPUT_ENV} or the config file) is not one of {choices}"
        ) from None
