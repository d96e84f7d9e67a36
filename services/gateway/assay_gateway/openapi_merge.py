"""One OpenAPI 3.1 document for the whole public surface, merged from every service's own.

A service's path is kept only when the routing table sends that path to that service, so the
document describes exactly what a client can reach through the gateway. Components with equal
definitions are shared; a name two services define differently is prefixed with the service's
name, and every `$ref` of that service is rewritten to match.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assay_gateway.routing import SERVICES, InvalidPath, service_for
from assay_gateway.upstreams import Upstreams

log = logging.getLogger("assay.gateway.openapi")

Document = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
#: Every service's own operational endpoints; the gateway answers these paths itself.
STANDARD_PATHS = frozenset({"/healthz", "/readyz", "/version", "/metrics"})
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})
_REF_PREFIX = "#/components/"


@dataclass
class _Fetched:
    document: Document
    fetched_at: float


class OpenApiCatalog:
    """Fetches and caches each service's document; merges them with the gateway's own on demand."""

    def __init__(
        self,
        upstreams: Upstreams,
        gateway_document: Callable[[], Document],
        *,
        title: str,
        version: str,
        cache_seconds: float,
        fetch_timeout: float,
    ) -> None:
        self.upstreams = upstreams
        self.gateway_document = gateway_document
        self.title = title
        self.version = version
        self.cache_seconds = cache_seconds
        self.fetch_timeout = fetch_timeout
        self._cache: dict[str, _Fetched] = {}
        self._locks = {name: asyncio.Lock() for name in SERVICES}

    async def document(self) -> Document:
        fetched = await asyncio.gather(*(self._service_document(name) for name in SERVICES))
        documents = {name: doc for name, doc in zip(SERVICES, fetched, strict=True) if doc is not None}
        merged = merge(self.gateway_document(), documents, title=self.title, version=self.version)
        missing = [name for name in SERVICES if name not in documents]
        if missing:
            merged["x-assay-missing-services"] = missing
        return merged

    async def _service_document(self, name: str) -> Document | None:
        """The cached document while fresh; otherwise fetched again, falling back to the stale copy."""
        async with self._locks[name]:
            cached = self._cache.get(name)
            if cached is not None and time.monotonic() - cached.fetched_at < self.cache_seconds:
                return cached.document
            probe = await self.upstreams.probe(name, "/openapi.json", self.fetch_timeout)
            if probe.status_code == 200 and isinstance(probe.body, dict) and "paths" in probe.body:
                self._cache[name] = _Fetched(probe.body, time.monotonic())
                return probe.body
            log.warning(
                "cannot fetch the OpenAPI document of %s: %s",
                name,
                probe.error or f"status {probe.status_code}",
            )
            return cached.document if cached is not None else None


def merge(gateway: Document, services: dict[str, Document], *, title: str, version: str) -> Document:
    """The gateway's document plus every service's, as one valid OpenAPI 3.1 document."""
    merged: Document = {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": "Every public route of Assay, served through the gateway.",
        },
        "paths": {},
        "components": {},
    }
    tags: dict[str, Any] = {}
    operation_ids: set[str] = set()
    _add(merged, gateway, "gateway", lambda path: path not in STANDARD_PATHS, tags, operation_ids)
    for name, document in services.items():

        def routed_here(path: str, service: str = name) -> bool:
            try:
                return path not in STANDARD_PATHS and service_for(path) == service
            except InvalidPath:
                return False

        _add(merged, document, name, routed_here, tags, operation_ids)
    if tags:
        merged["tags"] = list(tags.values())
    _drop_unreferenced(merged)
    return merged


def _add(
    merged: Document,
    document: Document,
    owner: str,
    keep: Callable[[str], bool],
    tags: dict[str, Any],
    operation_ids: set[str],
) -> None:
    renames = _component_renames(merged["components"], document.get("components", {}), owner)
    components = _rewrite_refs(document.get("components", {}), renames)
    for section, entries in components.items():
        target = merged["components"].setdefault(section, {})
        for name, definition in entries.items():
            target[renames.get((section, name), name)] = definition
    for path, item in _rewrite_refs(document.get("paths", {}), renames).items():
        if not keep(path):
            continue
        if path in merged["paths"]:
            log.warning("%s also serves %s; keeping the first definition", owner, path)
            continue
        for method, operation in item.items():
            if method in _HTTP_METHODS and isinstance(operation, dict):
                _claim_operation_id(operation, owner, operation_ids)
        merged["paths"][path] = item
    for tag in document.get("tags", []):
        tags.setdefault(tag["name"], tag)


def _component_renames(
    existing: dict[str, dict[str, Any]], incoming: dict[str, dict[str, Any]], owner: str
) -> dict[tuple[str, str], str]:
    """New names for incoming components that clash with a different definition already merged.

    Renaming one component changes the `$ref`s inside others, which can turn an equal definition
    into a clashing one, so this repeats until nothing changes.
    """
    renames: dict[tuple[str, str], str] = {}
    changed = True
    while changed:
        changed = False
        for section, entries in incoming.items():
            taken = existing.get(section, {})
            for name, definition in entries.items():
                if (section, name) in renames or name not in taken:
                    continue
                if taken[name] != _rewrite_refs(definition, renames):
                    renames[(section, name)] = _free_name(f"{owner}_{name}", taken, entries)
                    changed = True
    return renames


def _free_name(candidate: str, taken: dict[str, Any], incoming: dict[str, Any]) -> str:
    name, counter = candidate, 2
    while name in taken or name in incoming:
        name, counter = f"{candidate}{counter}", counter + 1
    return name


def _rewrite_refs(node: Any, renames: dict[tuple[str, str], str]) -> Any:
    """A deep copy of `node` with `$ref`s to renamed components pointing at their new names."""
    if not renames:
        return copy.deepcopy(node)
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            target = _ref_target(key, value)
            if target is None:
                out[key] = _rewrite_refs(value, renames)
            else:
                new_name = renames.get(target)
                out[key] = f"{_REF_PREFIX}{target[0]}/{new_name}" if new_name else value
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _drop_unreferenced(document: Document) -> None:
    """Remove components no kept path needs (those of the services' own operational endpoints)."""
    used: set[tuple[str, str]] = set()
    pending = [document["paths"]]
    while pending:
        for section, name in _refs(pending.pop()):
            if (section, name) not in used:
                used.add((section, name))
                pending.append(document["components"].get(section, {}).get(name, {}))
    for section, entries in list(document["components"].items()):
        kept = {name: value for name, value in entries.items() if (section, name) in used}
        if kept:
            document["components"][section] = kept
        else:
            del document["components"][section]


def _ref_target(key: str, value: Any) -> tuple[str, str] | None:
    """(section, name) when `key: value` is a reference to a component, e.g. `schemas`, `Problem`."""
    if key != "$ref" or not isinstance(value, str) or not value.startswith(_REF_PREFIX):
        return None
    section, _, name = value.removeprefix(_REF_PREFIX).partition("/")
    return section, name


def _refs(node: Any) -> list[tuple[str, str]]:
    """Every component `node` refers to directly."""
    if isinstance(node, dict):
        found = []
        for key, value in node.items():
            target = _ref_target(key, value)
            found += [target] if target is not None else _refs(value)
        return found
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def _claim_operation_id(operation: dict[str, Any], owner: str, taken: set[str]) -> None:
    """Operation ids must be unique across the document (OpenAPI 3.1 §4.8.10.1)."""
    operation_id = operation.get("operationId")
    if not isinstance(operation_id, str):
        return
    if operation_id in taken:
        operation_id = f"{owner}_{operation_id}"
        operation["operationId"] = operation_id
    taken.add(operation_id)
