"""Namespaces: isolated spaces of workflows. `main` always exists and cannot be deleted."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence

from assay_common.db import Database, Transaction, utcnow
from assay_common.errors import Conflict, Invalid, NotFound
from assay_common.events.outbox import Outbox
from assay_common.events.schemas.workflow import NamespaceCreated, NamespaceDeleted, NamespaceUpdated
from assay_workflow.store import namespaces as store
from assay_workflow.store import schedules as schedule_store
from assay_workflow.store.namespaces import NamespaceRow, NamespaceUsage

DEFAULT_NAMESPACE = "main"
#: A namespace name is also a NATS subject token and a URL segment.
NAME_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9_-]{0,61}[a-z0-9])?$")
#: The most namespaces a filtered listing reads (and has judged) at a time: one permission check
#: request holds 1000 questions.
SCAN_BATCH = 1000
#: The retention a namespace may set, in days. A run closed less than a day ago is never purged,
#: which spares every fresh run the question (domain/retention.py).
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 36_500

#: Which of some namespaces to show, in their order (e.g. those the caller may view).
Visible = Callable[[Sequence[NamespaceRow]], Awaitable[list[bool]]]


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


class Keep:
    """The value of a field that a change leaves as it is."""


KEEP = Keep()


class Namespaces:
    def __init__(self, db: Database, outbox: Outbox) -> None:
        self.db = db
        self.outbox = outbox

    async def create(self, name: str, description: str, retention_days: int | None = None) -> NamespaceRow:
        """Create namespace `name`, keeping its closed runs `retention_days` (None: the service's
        default, whatever it is at each pass of the retention keeper)."""
        if not NAME_PATTERN.match(name):
            raise InvalidNamespaceName(
                f"{name!r}: use 1-63 lower-case letters, digits, '-' or '_', starting and ending "
                "with a letter or digit"
            )
        row = NamespaceRow(
            name=name, description=description, created_at=utcnow(), retention_days=retention_days
        )
        async with self.db.transaction() as tx:
            if not await store.insert(tx.conn, row):
                raise NamespaceExists(f"namespace {name!r} exists already")
            await self._created(tx, row)
        return row

    async def _created(self, tx: Transaction, row: NamespaceRow) -> None:
        await self.outbox.add(
            tx,
            NamespaceCreated(namespace=row.name, description=row.description, created_at=row.created_at),
            namespace=row.name,
            subject=f"namespaces/{row.name}",
        )

    async def describe(self, name: str) -> tuple[NamespaceRow, NamespaceUsage]:
        """The namespace and what it holds, read together."""
        async with self.db.read() as conn:
            row = await store.get(conn, name)
            if row is None:
                raise NamespaceNotFound(f"namespace {name!r} does not exist")
            return row, await store.usage(conn, name)

    async def list(self, *, after: str | None, limit: int) -> list[NamespaceRow]:
        async with self.db.read() as conn:
            return await store.list_page(conn, after=after, limit=limit)

    async def list_visible(
        self, visible: Visible, *, after: str | None, limit: int
    ) -> tuple[Sequence[NamespaceRow], bool]:
        """The first `limit` namespaces after `after` (by name) that `visible` shows, and whether
        another shown one follows them: reads on past the hidden ones, so a page is only short
        at the end of the list."""
        shown: list[NamespaceRow] = []
        # Enough for a full page when all are shown; more each time when many are hidden.
        size = min(limit + 1, SCAN_BATCH)
        while True:
            batch = await self.list(after=after, limit=size)
            if not batch:
                return shown, False
            for row, show in zip(batch, await visible(batch), strict=True):
                if not show:
                    continue
                if len(shown) == limit:
                    return shown, True
                shown.append(row)
            if len(batch) < size:
                return shown, False
            after = batch[-1].name
            size = min(size * 2, SCAN_BATCH)

    async def announce(self, name: str) -> bool:
        """Publish `namespace_created` for a namespace that was made without it (`main`, by the
        first migration), once across all replicas and restarts; True when this call did."""
        async with self.db.transaction() as tx:
            if not await store.mark_announced(tx.conn, name):
                return False
            row = await store.get(tx.conn, name)
            assert row is not None
            await self._created(tx, row)
        return True

    async def update(
        self, name: str, *, description: str | Keep = KEEP, retention_days: int | Keep | None = KEEP
    ) -> NamespaceRow:
        """Change what is given of namespace `name`: its description, its retention (None: back
        to the service's default). A shorter retention applies from the keeper's next pass."""
        values = {
            key: value
            for key, value in (("description", description), ("retention_days", retention_days))
            if not isinstance(value, Keep)
        }
        async with self.db.transaction() as tx:
            row = await store.update(tx.conn, name, **values) if values else await store.get(tx.conn, name)
            if row is None:
                raise NamespaceNotFound(f"namespace {name!r} does not exist")
            if values:
                await self.outbox.add(
                    tx,
                    NamespaceUpdated(
                        namespace=name, description=row.description, retention_days=row.retention_days
                    ),
                    namespace=name,
                    subject=f"namespaces/{name}",
                )
        return row

    async def delete(self, name: str) -> None:
        if name == DEFAULT_NAMESPACE:
            raise NamespaceProtected(f"the {DEFAULT_NAMESPACE!r} namespace always exists")
        async with self.db.transaction() as tx:
            if not await store.delete(tx.conn, name):
                raise NamespaceNotFound(f"namespace {name!r} does not exist")
            # Its schedules go with it (the runs they started stay, as every run does).
            await schedule_store.delete_all(tx.conn, name)
            await self.outbox.add(
                tx, NamespaceDeleted(namespace=name), namespace=name, subject=f"namespaces/{name}"
            )
