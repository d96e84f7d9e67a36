"""Subject names on NATS. Each test run or deployment may choose its own prefixes and streams."""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Token standing for "no namespace" in subjects of platform-wide events.
GLOBAL_NAMESPACE_TOKEN = "_"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")


def check_token(value: str, what: str) -> str:
    if not _TOKEN.match(value):
        raise ValueError(f"{what} {value!r} cannot be a NATS subject token")
    return value


@dataclass(frozen=True)
class Subjects:
    """`<prefix>.<service>.<namespace>.<name>` for domain events, `<audit>.<service>.<name>` for audit."""

    events_prefix: str = "assay"
    audit_prefix: str = "audit"
    events_stream: str = "ASSAY_EVENTS"
    audit_stream: str = "ASSAY_AUDIT"

    def event(self, service: str, namespace: str | None, name: str) -> str:
        ns = check_token(namespace, "namespace") if namespace else GLOBAL_NAMESPACE_TOKEN
        return f"{self.events_prefix}.{service}.{ns}.{name}"

    def audit(self, service: str, name: str) -> str:
        return f"{self.audit_prefix}.{service}.{name}"

    def events_filter(
        self, service: str | None = None, namespace: str | None = None, name: str | None = None
    ) -> str:
        return ".".join((self.events_prefix, service or "*", namespace or "*", name or "*"))

    @property
    def all_events(self) -> str:
        return f"{self.events_prefix}.>"

    @property
    def all_audit(self) -> str:
        return f"{self.audit_prefix}.>"

    def wakeup(self, service: str, topic: str) -> str:
        return f"{self.events_prefix}-wakeup.{service}.{topic}"

    def rpc(self, service: str, topic: str) -> str:
        """Core NATS request/reply subject on which `service` answers `topic`."""
        return f"{self.events_prefix}-rpc.{service}.{topic}"
