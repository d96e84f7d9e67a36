"""Objects of other services in the platform permission store: `<type>:<name>#platform@platform:assay`
while the object exists, so platform roles reach it (`platform->operate` and the like), and no grant
on it once it is gone.

Two lifecycles are followed, each by a durable consumer shared by all replicas:

- workflow namespaces: `namespace_created` / `namespace_deleted` → `namespace:<name>`;
- vault mounts: `mount_enabled` / `mount_disabled` → `vault_mount:<path>`; a disabled mount's
  folders (`vault_path:<path>/…`) lose their grants too.

Creation touches the link (a second creation changes nothing); deletion deletes every relationship
whose resource is the object — the link and every grant on it — so an object created again later
under the same name starts with no grants instead of inheriting those of its predecessor (a
re-enabled mount must not hand its secrets to whoever could read the old one).

Each change is written inside the consumer's transaction, which also records the event as
handled: the write and that record commit together, so a redelivered event changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

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
from assay_common.events.envelope import CloudEvent, EventData
from assay_common.events.schemas.vault import MountDisabled, MountEnabled
from assay_common.events.schemas.workflow import NamespaceCreated, NamespaceDeleted

log = logging.getLogger("assay.auth.platform_links")

#: Who writes the links, in the audit log.
LINKER = Actor(id="auth", kind="service")


@dataclass(frozen=True)
class Lifecycle:
    """The events that make and end objects of one type of another service."""

    #: The service that publishes the events.
    service: str
    #: The object type in the platform schema.
    resource_type: str
    created: type[EventData]
    deleted: type[EventData]
    #: The payload field that names the object.
    name_field: str
    #: The durable consumer every replica of the auth service shares.
    durable: str
    #: The type of objects inside one (`<type>:<name>/…`), whose grants end with it; "" if none.
    inner_type: str = ""


NAMESPACES = Lifecycle(
    "workflow", "namespace", NamespaceCreated, NamespaceDeleted, "namespace", "auth-namespace-links"
)
VAULT_MOUNTS = Lifecycle(
    "vault", "vault_mount", MountEnabled, MountDisabled, "mount", "auth-vault-mount-links", "vault_path"
)
LIFECYCLES = (NAMESPACES, VAULT_MOUNTS)


def platform_link(resource_type: str, name: str) -> Relationship:
    return Relationship(ObjectRef(resource_type, name), "platform", SubjectRef(PLATFORM.type, PLATFORM.id))


class PlatformLinks:
    """Keeps `<type>:<name>#platform@platform:assay` in step with one lifecycle's objects."""

    def __init__(self, ctx: AuthContext, permissions: PermissionStores, lifecycle: Lifecycle) -> None:
        self.ctx = ctx
        self.permissions = permissions
        self.lifecycle = lifecycle

    def consumer(self, bus: EventBus) -> EventConsumer:
        # One consumer for both kinds keeps a deletion after its creation (two consumers could
        # handle them in either order). A server that filters on several subjects sends it only
        # these two; an older one sends every event of the service, and the others are passed
        # over without a transaction.
        lifecycle = self.lifecycle
        wanted = (lifecycle.created, lifecycle.deleted)
        subjects = [bus.subjects.events_filter(lifecycle.service, None, kind.event_name) for kind in wanted]
        return EventConsumer(
            bus,
            self.ctx.db,
            processed_events,
            durable=lifecycle.durable,
            filter_subject=bus.subjects.events_filter(lifecycle.service),
            filter_subjects=subjects,
            stream=bus.subjects.events_stream,
            handler=self.handle,
            types={kind.type_name() for kind in wanted},
        )

    async def handle(self, tx: Transaction, event: CloudEvent) -> None:
        lifecycle = self.lifecycle
        name = event.data.get(lifecycle.name_field)
        if not isinstance(name, str):
            log.warning("ignored %s without a %r", event.type, lifecycle.name_field)
        elif event.type == lifecycle.created.type_name():
            await self.link(tx, name)
        elif event.type == lifecycle.deleted.type_name():
            await self.unlink(tx, name)

    async def link(self, tx: Transaction, name: str) -> bool:
        """Touch the object's platform link in `tx`; False (logged) when it cannot be stored."""
        what = f"{self.lifecycle.resource_type}:{name}"
        if not _valid_name(what, name):
            return False
        relationship = platform_link(self.lifecycle.resource_type, name)
        schema_row = await store.schema_at(tx.conn, PLATFORM_STORE)
        if schema_row is None:
            log.warning("%s is not linked to the platform: the platform store has no schema", what)
            return False
        try:
            # Checked before writing: a refused write would leave a revision with nothing in it.
            parse_schema(schema_row.text).check_relationship(relationship)
        except InvalidRelationship as exc:
            # An operator's own schema without `<type>#platform`: platform roles do not reach
            # such objects there, which is that schema's choice.
            log.warning("%s is not linked to the platform: %s", what, exc)
            return False
        await self.permissions.write(LINKER, PLATFORM_STORE, [Update("touch", relationship)], within=tx)
        return True

    async def unlink(self, tx: Transaction, name: str) -> int:
        """Delete, in `tx`, every relationship on the object and on the objects inside it (the
        folders of a vault mount); how many there were."""
        if not _valid_name(f"{self.lifecycle.resource_type}:{name}", name):
            return 0
        deleted = await self._delete_all(
            tx, RelationshipFilter(resource_type=self.lifecycle.resource_type, resource_id=name)
        )
        if self.lifecycle.inner_type:
            inside = RelationshipFilter(
                resource_type=self.lifecycle.inner_type, resource_id_prefix=f"{name}/"
            )
            deleted += await self._delete_all(tx, inside)
        return deleted

    async def _delete_all(self, tx: Transaction, where: RelationshipFilter) -> int:
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


def _valid_name(what: str, name: str) -> bool:
    try:
        validate_object_id(name)
    except InvalidRelationship:
        # Namespace and mount names are a subset of valid object ids today; should that ever
        # change, such an object gets no platform link rather than stopping the consumer.
        log.warning("%s cannot be an object of the permission store; its events are skipped", what)
        return False
    return True
