"""Namespaces: isolated spaces of workflows. `main` always exists and cannot be deleted."""

from __future__ import annotations

import re

from assay_common.db import Database, utcnow
from assay_common.errors import Conflict, Invalid, NotFound
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.workflow import NamespaceCreated, NamespaceDeleted
from assay_workflow.store import namespaces as store
from assay_workflow.store.namespaces import NamespaceRow

DEFAULT_NAMESPACE = "main"
#: A namespace name is also a NATS subject token and a URL segment.
NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")


class NamespaceNotFound(NotFound):
    code = "namespace_not_found"
    title = "No such namespace"


class NamespaceExists(Conflict):
    code = "namespace_exists"
    title = "The namespace exists already"


class NamespaceProtected(Conflict):
    code = "namespace_protected"
    title = "The namespace cannot be deleted"


class InvalidNamespaceName(Invalid):
    code = "invalid_namespace_name"
    title = "Invalid namespace name"


class Namespaces:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def create(self, name: str, description: str) -> NamespaceRow:
        if not NAME_PATTERN.match(name):
            raise InvalidNamespaceName(
                f"{name!r}: use 1-63 lower-case letters, digits, '-' or '_', starting and ending "
                "with a letter or digit"
            )
        row = NamespaceRow(name=name, description=description, created_at=utcnow())
        async with self.db.transaction() as tx:
            if not await store.insert(tx.conn, row):
                raise NamespaceExists(f"namespace {name!r} exists already")
            await self.outbox.add(
                tx,
                NamespaceCreated(namespace=name, description=description, created_at=row.created_at),
                namespace=name,
                subject=f"namespaces/{name}",
            )
        return row

    async def get(self, name: str) -> NamespaceRow:
        async with self.db.read() as conn:
            row = await store.get(conn, name)
        if row is None:
            raise NamespaceNotFound(f"namespace {name!r} does not exist")
        return row

    async def list(self, *, after: str | None, limit: int) -> list[NamespaceRow]:
        async with self.db.read() as conn:
            return await store.list_page(conn, after=after, limit=limit)

    async def delete(self, name: str) -> None:
        if name == DEFAULT_NAMESPACE:
            raise NamespaceProtected(f"the {DEFAULT_NAMESPACE!r} namespace always exists")
        async with self.db.transaction() as tx:
            if not await store.delete(tx.conn, name):
                raise NamespaceNotFound(f"namespace {name!r} does not exist")
            await self.outbox.add(
                tx, NamespaceDeleted(namespace=name), namespace=name, subject=f"namespaces/{name}"
            )
