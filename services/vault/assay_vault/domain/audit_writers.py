"""How each type of audit sink writes records: a file of JSON lines, a webhook, syslog.

A writer takes a batch of records in stream order and delivers them in that order; when it cannot
deliver one, it raises `DeliveryFailed` saying how many of the batch went out before it, and the
delivery (`audit_delivery`) retries the rest later. Records are the CloudEvents exactly as
published on the audit stream.

- **file**: one JSON line per record, appended, with one `fsync` per batch; before a line would
  take the file beyond `rotate_bytes`, `<file>.1` … are shifted up (`rotate_keep` kept) and the file
  starts again. The file is opened for each batch, so an outside rotation (logrotate) needs no
  signal. `stdout` writes to the process's standard output, `discard` nowhere.
- **webhook**: one `POST` per record, the CloudEvent as body (`application/cloudevents+json`),
  with `Assay-Event-Id`, `Assay-Timestamp` (Unix seconds) and, when the sink has an HMAC key,
  `Assay-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`. A 2xx answer delivers it;
  anything else, or no answer within the timeout, fails it.
- **syslog**: one RFC 5424 message per record (severity informational, MSGID the record type
  without `assay.`, the CloudEvent as MSG after a UTF-8 BOM), a datagram each over UDP or
  octet-counted (RFC 6587) over TCP.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import aiohttp

from assay_common.errors import Sealed
from assay_vault.domain.audit_sinks import (
    DISCARD,
    STDOUT,
    FileOptions,
    SinkOptions,
    SyslogOptions,
    WebhookOptions,
)

#: RFC 5424's severity of every record: informational.
SEVERITY_INFO = 6
#: RFC 5424: a MSG in UTF-8 starts with the byte order mark.
BOM = b"\xef\xbb\xbf"
#: RFC 5424's MSGID: at most 32 printable characters.
MAX_MSGID = 32


@dataclass(frozen=True)
class Record:
    """One record of the audit stream, as published."""

    id: str
    type: str
    time: datetime
    #: The CloudEvent, structured JSON, byte for byte as published.
    body: bytes


class DeliveryFailed(Exception):
    """A batch went out only up to `delivered` records (the first ones); `reason` says why (never
    a record's content)."""

    def __init__(self, delivered: int, reason: str) -> None:
        super().__init__(reason)
        self.delivered = delivered
        self.reason = reason


class SinkWriter(Protocol):
    async def deliver(self, records: Sequence[Record]) -> None:
        """Deliver `records` in order, or raise `DeliveryFailed`."""

    async def close(self) -> None:
        """Let go of connections and files."""


class FileWriter:
    def __init__(self, options: FileOptions) -> None:
        self.options = options

    async def deliver(self, records: Sequence[Record]) -> None:
        lines = [record.body + b"\n" for record in records]
        target = self.options.file_path
        if target == DISCARD or not lines:
            return
        try:
            if target == STDOUT:
                await asyncio.to_thread(_write_stdout, b"".join(lines))
            else:
                await asyncio.to_thread(self._append, lines)
        except OSError as exc:
            raise DeliveryFailed(0, f"cannot write the file: {exc.strerror or type(exc).__name__}") from None

    def _append(self, lines: Sequence[bytes]) -> None:
        path = Path(self.options.file_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        limit = self.options.rotate_bytes
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        fd: int | None = None
        try:
            for line in lines:
                if limit and size and size + len(line) > limit:
                    if fd is not None:
                        os.fsync(fd)
                        os.close(fd)
                        fd = None
                    self._rotate(path)
                    size = 0
                if fd is None:
                    fd = self._open(path)
                view = memoryview(line)
                while view:
                    view = view[os.write(fd, view) :]
                size += len(line)
            if fd is not None:
                os.fsync(fd)
        finally:
            if fd is not None:
                os.close(fd)

    def _open(self, path: Path) -> int:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, self.options.mode)
        # The mode applies to files the sink makes; the umask must not loosen or tighten it.
        if os.fstat(fd).st_mode & 0o777 != self.options.mode:
            os.fchmod(fd, self.options.mode)
        return fd

    def _rotate(self, path: Path) -> None:
        """`<file>.1` … `<file>.<rotate_keep - 1>` one up (the last one drops), the file to `.1`."""
        for index in range(self.options.rotate_keep - 1, 0, -1):
            older = path.with_name(f"{path.name}.{index}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{index + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))

    async def close(self) -> None:
        return None


def _write_stdout(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


class WebhookWriter:
    def __init__(self, options: WebhookOptions, hmac_key: Callable[[], bytes | None]) -> None:
        self.options = options
        #: Opens the sink's key (sealed at rest) when a batch goes out; `Sealed` while sealed.
        self.hmac_key = hmac_key
        self._session: aiohttp.ClientSession | None = None

    async def deliver(self, records: Sequence[Record]) -> None:
        try:
            key = self.hmac_key()
        except Sealed:
            raise DeliveryFailed(
                0, "the vault is sealed on this replica: the HMAC key cannot be opened"
            ) from None
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.options.timeout_seconds)
            )
        for index, record in enumerate(records):
            timestamp = str(int(time.time()))
            headers = {
                "content-type": "application/cloudevents+json",
                "assay-event-id": record.id,
                "assay-timestamp": timestamp,
            }
            if key is not None:
                headers["assay-signature"] = "v1=" + signature(key, timestamp, record.body)
            try:
                async with self._session.post(self.options.url, data=record.body, headers=headers) as answer:
                    if not 200 <= answer.status < 300:
                        raise DeliveryFailed(index, f"the webhook answered {answer.status}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise DeliveryFailed(index, f"the webhook did not answer ({type(exc).__name__})") from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def signature(key: bytes, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<body>` under `key` (`Assay-Signature: v1=…`)."""
    return hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def rfc5424(record: Record, options: SyslogOptions, hostname: str, pid: int) -> bytes:
    """`record` as one RFC 5424 syslog message."""
    priority = options.facility * 8 + SEVERITY_INFO
    moment = record.time.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    message_id = record.type.removeprefix("assay.")[:MAX_MSGID]
    header = f"<{priority}>1 {moment} {hostname} {options.tag} {pid} {message_id} -"
    return header.encode("ascii", "replace") + b" " + BOM + record.body


class SyslogWriter:
    def __init__(self, options: SyslogOptions) -> None:
        self.options = options
        # RFC 5424's HOSTNAME: printable ASCII, at most 255 characters.
        self.hostname = "".join(c for c in socket.gethostname() if "!" <= c <= "~")[:255] or "-"
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.StreamWriter | None = None

    async def deliver(self, records: Sequence[Record]) -> None:
        pid = os.getpid()
        for index, record in enumerate(records):
            message = rfc5424(record, self.options, self.hostname, pid)
            try:
                if self.options.protocol == "udp":
                    await self._send_datagram(message)
                else:
                    await self._send_framed(message)
            except OSError as exc:
                await self.close()
                raise DeliveryFailed(index, f"syslog refused the message ({type(exc).__name__})") from None

    async def _send_datagram(self, message: bytes) -> None:
        if self._udp is None:
            self._udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
                asyncio.DatagramProtocol, remote_addr=(self.options.host, self.options.port)
            )
        # Fire and forget, as syslog over UDP is: a lost datagram is not known here.
        self._udp.sendto(message)

    async def _send_framed(self, message: bytes) -> None:
        if self._tcp is None:
            _, self._tcp = await asyncio.open_connection(self.options.host, self.options.port)
        self._tcp.write(f"{len(message)} ".encode() + message)
        await self._tcp.drain()

    async def close(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None


def writer_for(options: SinkOptions, hmac_key: Callable[[], bytes | None]) -> SinkWriter:
    """The writer of a sink with `options`."""
    if isinstance(options, FileOptions):
        return FileWriter(options)
    if isinstance(options, WebhookOptions):
        return WebhookWriter(options, hmac_key)
    return SyslogWriter(options)
