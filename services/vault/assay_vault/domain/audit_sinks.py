"""Audit sinks: where the vault delivers the audit records of the platform (Vault's audit devices).

A sink has a path (its name), a type — `file`, `webhook` or `syslog` — and the type's options, and a
filter: shell-style globs on the record type (`assay.vault.*`; `*`, the default, takes every record
of the audit stream). Enabling one stores it with the event `audit_sink_enabled`; every replica then
delivers to it (`audit_delivery`) every record that reaches the audit stream from its creation on.

Options are strings, as Vault's (the native API also takes numbers and booleans). A webhook's
`hmac_key` is the one secret: it is sealed by the keyring (bound to the sink's path) and never
stored in the clear nor answered. Vault's options that make no sense for Assay's records (they
never carry a secret to hash) are accepted and kept; any other unknown option is refused, so a
typo does not go unnoticed.

Every operation needs an unsealed vault (`Sealed`, 503), as every `sys` operation in Vault.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

from assay_common.db import Database, utcnow
from assay_common.errors import BadRequest, Conflict, NotFound
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.vault_audit import AuditSinkDisabled, AuditSinkEnabled
from assay_vault.domain.ciphers import place
from assay_vault.domain.kv_mounts import Keys, require_unsealed
from assay_vault.store import audit_sinks as store
from assay_vault.store.audit_sinks import SinkRow

#: One segment that is also a NATS consumer name (`vault-audit-<path>-…`).
PATH_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
SINK_TYPES = ("file", "webhook", "syslog")
#: Every record type: the default filter.
ALL_RECORDS = ("*",)
MAX_GLOBS = 32
MAX_GLOB_LENGTH = 200
#: Vault's options that have no effect here: Assay's records never hold a value to hash or elide.
VAULT_ONLY_OPTIONS = frozenset({"hmac_accessor", "log_raw", "elide_list_responses", "format"})
#: Where a `file` sink may write besides a file: the process's standard output, or nowhere.
STDOUT, DISCARD = "stdout", "discard"
#: The shortest webhook HMAC key taken (bytes): a signature is only as strong as its key.
MIN_HMAC_KEY_BYTES = 16
MAX_WEBHOOK_TIMEOUT_SECONDS = 300.0
#: RFC 5424's facility numbers.
FACILITIES = {
    name: number
    for number, name in enumerate(
        ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp")
    )
} | {f"local{n}": 16 + n for n in range(8)}
#: RFC 5424's APP-NAME: 1 to 48 printable US-ASCII characters.
TAG_PATTERN = re.compile(r"^[!-~]{1,48}$")


class InvalidAuditSink(BadRequest):
    code = "invalid_audit_sink"
    title = "Invalid audit sink"


class AuditSinkExists(Conflict):
    code = "audit_sink_exists"
    title = "An audit sink is enabled at that path already"


class AuditSinkNotFound(NotFound):
    code = "audit_sink_not_found"
    title = "No audit sink is enabled at that path"


@dataclass(frozen=True)
class FileOptions:
    #: An absolute path, `stdout` or `discard`.
    file_path: str
    #: The permission bits of a file the sink creates.
    mode: int
    #: Rotate before the file would grow beyond this many bytes; 0: never.
    rotate_bytes: int
    #: Rotated files kept (`<file_path>.1` newest … `<file_path>.<rotate_keep>`).
    rotate_keep: int


@dataclass(frozen=True)
class WebhookOptions:
    url: str
    timeout_seconds: float


@dataclass(frozen=True)
class SyslogOptions:
    host: str
    port: int
    protocol: Literal["udp", "tcp"]
    facility: int
    tag: str


SinkOptions = FileOptions | WebhookOptions | SyslogOptions


@dataclass(frozen=True)
class ParsedOptions:
    options: SinkOptions
    #: The options kept: those given, without the secret.
    stored: dict[str, str]
    #: The webhook's HMAC key, when one was given.
    secret: bytes | None


def normalize_path(path: str) -> str:
    """`path` without its one trailing slash, if it can name a sink."""
    name = path.removesuffix("/")
    if not PATH_PATTERN.match(name):
        raise InvalidAuditSink(
            f"{path!r}: an audit sink's path is one segment of 1-63 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return name


def check_filter(globs: Sequence[str]) -> list[str]:
    """The filter as given, once each glob is a usable one."""
    if not globs:
        raise InvalidAuditSink("a filter needs at least one glob; '*' takes every record")
    if len(globs) > MAX_GLOBS:
        raise InvalidAuditSink(f"a filter has at most {MAX_GLOBS} globs")
    for glob in globs:
        if not glob or len(glob) > MAX_GLOB_LENGTH or not glob.isprintable():
            raise InvalidAuditSink(f"a glob is 1-{MAX_GLOB_LENGTH} printable characters")
    return list(globs)


def _text(raw: Mapping[str, str], name: str, default: str | None = None) -> str:
    value = raw.get(name, default)
    if value is None or not value.strip():
        raise InvalidAuditSink(f"{name} is required")
    return value.strip()


def _number(raw: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = raw.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidAuditSink(f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise InvalidAuditSink(f"{name} must be between {low} and {high}")
    return value


def _file(raw: Mapping[str, str]) -> FileOptions:
    file_path = _text(raw, "file_path")
    if file_path not in (STDOUT, DISCARD) and not os.path.isabs(file_path):
        raise InvalidAuditSink("file_path must be an absolute path, 'stdout' or 'discard'")
    mode_text = raw.get("mode")
    if mode_text is not None and not re.fullmatch(r"0?[0-7]{3}", mode_text.strip()):
        raise InvalidAuditSink("mode must be octal permission bits, e.g. '0600'")
    mode = int(mode_text, 8) if mode_text is not None else 0o600
    return FileOptions(
        file_path=file_path,
        mode=mode,
        rotate_bytes=_number(raw, "rotate_bytes", 0, 0, 2**40),
        rotate_keep=_number(raw, "rotate_keep", 5, 1, 1000),
    )


def _webhook(raw: Mapping[str, str]) -> WebhookOptions:
    url = _text(raw, "url")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidAuditSink("url must be an http:// or https:// URL with a host")
    text = raw.get("timeout_seconds")
    try:
        timeout = float(text) if text is not None else 10.0
    except ValueError:
        raise InvalidAuditSink("timeout_seconds must be a number") from None
    if not 0 < timeout <= MAX_WEBHOOK_TIMEOUT_SECONDS:
        raise InvalidAuditSink(f"timeout_seconds must be above 0 and at most {MAX_WEBHOOK_TIMEOUT_SECONDS:g}")
    return WebhookOptions(url=url, timeout_seconds=timeout)


def _address(text: str) -> tuple[str, int]:
    written, _, port_text = text.rpartition(":")
    if not written or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InvalidAuditSink("address must be host:port (e.g. '127.0.0.1:514', '[::1]:514')")
    host = written.removeprefix("[").removesuffix("]")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            host = ""
        if not host or written == host:
            raise InvalidAuditSink("an IPv6 address is written in brackets: '[::1]:514'")
    return host, int(port_text)


def _syslog(raw: Mapping[str, str]) -> SyslogOptions:
    host, port = _address(_text(raw, "address", "127.0.0.1:514"))
    protocol = _text(raw, "protocol", "udp").lower()
    if protocol not in ("udp", "tcp"):
        raise InvalidAuditSink("protocol must be 'udp' or 'tcp'")
    facility = _text(raw, "facility", "auth").lower()
    if facility not in FACILITIES:
        raise InvalidAuditSink(f"facility must be one of {', '.join(FACILITIES)}")
    tag = _text(raw, "tag", "assay-vault")
    if not TAG_PATTERN.match(tag):
        raise InvalidAuditSink("tag must be 1-48 printable ASCII characters without spaces")
    return SyslogOptions(
        host=host,
        port=port,
        protocol="tcp" if protocol == "tcp" else "udp",
        facility=FACILITIES[facility],
        tag=tag,
    )


#: Each type's options (beside Vault's common ones), and how they are read.
_TYPES: dict[str, tuple[frozenset[str], Callable[[Mapping[str, str]], SinkOptions]]] = {
    "file": (frozenset({"file_path", "mode", "rotate_bytes", "rotate_keep"}), _file),
    "webhook": (frozenset({"url", "timeout_seconds", "hmac_key"}), _webhook),
    "syslog": (frozenset({"address", "protocol", "facility", "tag"}), _syslog),
}


def parse_options(sink_type: str, raw: Mapping[str, str]) -> ParsedOptions:
    """A sink's options, checked: `InvalidAuditSink` (400) with the reason otherwise."""
    if sink_type not in _TYPES:
        raise InvalidAuditSink(f'unknown backend type: "{sink_type}"')
    known, read = _TYPES[sink_type]
    unknown = sorted(set(raw) - known - VAULT_ONLY_OPTIONS)
    if unknown:
        takes = ", ".join(sorted(known))
        raise InvalidAuditSink(
            f"unknown option(s) {', '.join(unknown)} for a {sink_type} sink; it takes {takes}"
        )
    if raw.get("format", "json") != "json":
        raise InvalidAuditSink("format must be 'json': records are CloudEvents in JSON")
    secret: bytes | None = None
    if "hmac_key" in raw:
        secret = raw["hmac_key"].encode()
        if len(secret) < MIN_HMAC_KEY_BYTES:
            raise InvalidAuditSink(f"hmac_key must be at least {MIN_HMAC_KEY_BYTES} bytes")
    stored = {name: value for name, value in raw.items() if name != "hmac_key"}
    return ParsedOptions(read(raw), stored, secret)


def options_of(row: SinkRow) -> SinkOptions:
    """The options of a stored sink, as its writer uses them."""
    return parse_options(row.type, row.options).options


def secret_place(path: str) -> bytes:
    """Associated data binding a sink's sealed secret to its path."""
    return place("audit-sink", path)


class SinkChanges(Protocol):
    """What follows the sinks (the delivery of this replica)."""

    def wake(self) -> None:
        """Look at the sinks again now (one was enabled)."""

    async def disabled(self, row: SinkRow) -> None:
        """Stop delivering to `row` and delete what it consumed with."""


class AuditSinks:
    def __init__(self, db: Database, outbox: Outbox, keys: Keys, changes: SinkChanges | None = None) -> None:
        self.db = db
        self.outbox = outbox
        self.keys = keys
        self.changes = changes

    async def enable(
        self,
        path: str,
        sink_type: str,
        options: Mapping[str, str],
        *,
        actor: str,
        description: str = "",
        filter: Sequence[str] = ALL_RECORDS,
        local: bool = False,
    ) -> SinkRow:
        require_unsealed(self.keys)
        name = normalize_path(path)
        parsed = parse_options(sink_type, options)
        globs = check_filter(filter)
        secret = self.keys.seal(parsed.secret, secret_place(name)) if parsed.secret is not None else None
        row = SinkRow(
            path=name,
            type=sink_type,
            description=description,
            options=parsed.stored,
            secret=secret,
            filter=globs,
            local=local,
            created_at=utcnow(),
        )
        async with self.db.transaction() as tx:
            if not await store.insert(tx.conn, row):
                raise AuditSinkExists("path already in use")
            await self.outbox.add(
                tx,
                AuditSinkEnabled(
                    path=name, type=sink_type, description=description, filter=globs, enabled_by=actor
                ),
                subject=f"audit/{name}",
            )
        if self.changes is not None:
            self.changes.wake()
        return row

    async def list(self) -> list[SinkRow]:
        require_unsealed(self.keys)
        async with self.db.read() as conn:
            return await store.list_all(conn)

    async def disable(self, path: str, *, actor: str) -> bool:
        """Disable the sink at `path`; False when there was none."""
        require_unsealed(self.keys)
        name = path.removesuffix("/")
        if not PATH_PATTERN.match(name):
            return False
        async with self.db.transaction() as tx:
            row = await store.delete(tx.conn, name)
            if row is None:
                return False
            await self.outbox.add(
                tx, AuditSinkDisabled(path=name, disabled_by=actor), subject=f"audit/{name}"
            )
        if self.changes is not None:
            await self.changes.disabled(row)
        return True
