"""Workflow namespaces in the platform permission store: `namespace:<name>#platform@platform:assay`
while the namespace exists, so platform roles reach it (`platform->operate` and the like).

A durable consumer, shared by all replicas, follows the workflow service's namespace events:

- `namespace_created` touches the link (a second creation changes nothing);
- `namespace_deleted` deletes every relationship whose resource is `namespace:<name>` — the link
  and every grant on the namespace — so a namespace created again later under the same name
  starts with no grants instead of inheriting those of its predecessor.

Each change is written inside the consumer's transaction, which also records the event as
handled: the write and that record commit together, so a redelivered event changes nothing.
"""

from __future__ import annotations

import logging

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.permission_service import MAX_BATCH, PLATFORM_STORE, PermissionStores, Update
from assay_auth.domain.permissions import (
    InvalidRelationship,
    ObjectRef,
    Relationship,
    SubjectRef,
    parse_schema,
)
from assay_auth.domain.permissions.relationships import validate_object_id
from assay_auth.domain.platform_schema import PLATFORM
from assay_auth.store import permissions as store
from assay_auth.store.permissions import RelationshipFilter
from assay_auth.store.tables import processed_events
from assay_common.db import Transaction
from assay_common.events.bus import EventBus
from assay_common.events.consumer import EventConsumer
from assay_common.events.envelope import CloudEvent
from assay_common.events.schemas.workflow import NamespaceCreated, NamespaceDeleted

log = logging.getLogger("assay.auth.namespace_links")

#: The durable consumer every replica of the auth service shares.
CONSUMER_NAME = "auth-namespace-links"
#: Who writes the links, in the audit log.
LINKER = Actor(id="auth", kind="service")
#: The object type of a workflow namespace in the platform schema.
NAMESPACE_TYPE = "namespace"


def platform_link(name: str) -> Relationship:
    return Relationship(ObjectRef(NAMESPACE_TYPE, name), "platform", SubjectRef(PLATFORM.type, PLATFORM.id))


class NamespaceLinks:
    """Keeps `namespace:<name>#platform@platform:assay` in step with the workflow namespaces."""

    def __init__(self, ctx: AuthContext, permissions: PermissionStores) -> None:
        self.ctx = ctx
        self.permissions = permissions

    def consumer(self, bus: EventBus) -> EventConsumer:
        # One consumer for both kinds keeps a deletion after its creation (two consumers could
        # handle them in either order). A subject filter names one event name only, so this one
        # receives every workflow event and passes over the others without a transaction.
        return EventConsumer(
            bus,
            self.ctx.db,
            processed_events,
            durable=CONSUMER_NAME,
            filter_subject=bus.subjects.events_filter("workflow"),
            stream=bus.subjects.events_stream,
            handler=self.handle,
            types={NamespaceCreated.type_name(), NamespaceDeleted.type_name()},
        )

    async def handle(self, tx: Transaction, event: CloudEvent) -> None:
        if event.type == NamespaceCreated.type_name():
            created = NamespaceCreated.model_validate(event.data)
            await self.link(tx, created.namespace)
        elif event.type == NamespaceDeleted.type_name():
            deleted = NamespaceDeleted.model_validate(event.data)
            await self.unlink(tx, deleted.namespace)

    async def link(self, tx: Transaction, name: str) -> bool:
        """Touch the namespace's platform link in `tx`; False (logged) when it cannot be stored."""
        if not _valid_name(name):
            return False
        relationship = platform_link(name)
        schema_row = await store.schema_at(tx.conn, PLATFORM_STORE)
        if schema_row is None:
            log.warning("namespace %r is not linked to the platform: the platform store has no schema", name)
            return False
        try:
            # Checked before writing: a refused write would leave a revision with nothing in it.
            parse_schema(schema_row.text).check_relationship(relationship)
        except InvalidRelationship as exc:
            # An operator's own schema without `namespace#platform`: platform roles do not reach
            # namespaces there, which is that schema's choice.
            log.warning("namespace %r is not linked to the platform: %s", name, exc)
            return False
        await self.permissions.write(LINKER, PLATFORM_STORE, [Update("touch", relationship)], within=tx)
        return True

    async def unlink(self, tx: Transaction, name: str) -> int:
        """Delete, in `tx`, every relationship on `namespace:<name>`; how many there were."""
        if not _valid_name(name):
            return 0
        where = RelationshipFilter(resource_type=NAMESPACE_TYPE, resource_id=name)
        deleted = 0
        while True:
            # Each write makes a new revision in `tx`; reading at it shows what is still there.
            revision = await store.head_revision(tx.conn, PLATFORM_STORE)
            page = await store.read(tx.conn, PLATFORM_STORE, where, revision, after=None, limit=MAX_BATCH)
            if not page:
                return deleted
            updates = [Update("delete", relationship) for relationship in page]
            written = await self.permissions.write(LINKER, PLATFORM_STORE, updates, within=tx)
            if written.deleted == 0:
                # Whatever was read was live and is gone now; never loop on a store that disagrees.
                return deleted
            deleted += written.deleted


def _valid_name(name: str) -> bool:
    try:
        validate_object_id(name)
    except InvalidRelationship:
        # Workflow namespace names are a subset of valid object ids today; should that ever
        # change, such a namespace gets no platform link rather than stopping the consumer.
        log.warning(
            "namespace %r cannot be an object id of the permission store; its events are skipped", name
        )
        return False
    return True
