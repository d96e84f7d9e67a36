"""The built-in schema of the platform's permission store, its installation, and the grants the
identity side makes in it (the first administrator, users made administrators).

The schema's first line is a marker, `// assay platform schema v<N> <digest>`, the digest being
that of the text after it. At start the service installs the schema when the store has none, and
upgrades it when the store holds an unchanged older built-in version (marker of a lower version,
digest matching). Anything else — a schema without the marker, one whose text no longer matches
its digest (edited by hand), or a newer built-in version (written by a newer release during a
rolling upgrade) — is kept as it is. Every decision is made on what was read and written only if
the store's schema version is still the one read, so replicas starting together write it once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from assay_auth.domain.context import Actor, AuthContext
from assay_auth.domain.permission_service import (
    PLATFORM_STORE,
    NoSchema,
    PermissionStores,
    Precondition,
    PreconditionFailed,
    SchemaNotFound,
    SchemaVersionConflict,
    SchemaWouldOrphan,
    Update,
)
from assay_auth.domain.permissions import (
    InvalidRelationship,
    ObjectRef,
    Relationship,
    Schema,
    SubjectRef,
    parse_schema,
)
from assay_auth.store import permissions as store
from assay_auth.store.permissions import RelationshipFilter
from assay_auth.store.tables import relationships
from assay_common.db import Transaction

log = logging.getLogger("assay.auth")

#: The one object of type `platform`: the installation itself.
PLATFORM = ObjectRef("platform", "assay")
#: The version of the built-in schema below; raise it with every change of the text.
SCHEMA_VERSION = 2
#: Who writes the schema at start, in the audit log.
INSTALLER = Actor(id="auth", kind="service")

_MARKER = re.compile(r"// assay platform schema v(?P<version>[0-9]+) (?P<digest>[0-9a-f]{16})")

#: Future versions must only add: an upgrade never deletes relationships (it is not forced), so
#: one that would orphan existing grants is refused and the older schema stays (an error is logged).
_BODY = """\
/** Someone who signs in; the id is the user's id. */
definition user {}

/** A set of users; groups nest (`group:ops#member@group:oncall#member`). */
definition group {
    relation member: user | group#member
}

/** The installation itself: one object, `platform:assay`. Its roles reach every namespace and
 *  vault mount linked to it (by their `platform` relation), and every API key. */
definition platform {
    relation admin: user | group#member
    relation operator: user | group#member
    relation viewer: user | user:* | group#member

    /** Everything, including granting roles and changing this schema. */
    permission administer = admin
    /** Running the platform: namespaces, workflows, workers; not secrets. */
    permission operate = administer + operator
    /** Reading state and history everywhere; changing nothing. */
    permission view = operate + viewer
}

/** A workflow namespace, `namespace:<name>`. */
definition namespace {
    relation platform: platform
    relation admin: user | group#member
    relation operator: user | group#member
    relation worker: user | group#member
    relation viewer: user | user:* | group#member

    /** Changing or deleting the namespace itself. */
    permission administer = admin + platform->administer
    /** Starting, signalling, cancelling, terminating and retrying workflows. */
    permission operate = administer + operator + platform->operate
    /** Polling and completing workflow and activity tasks, heartbeats. */
    permission work = operate + worker
    /** Reading workflows, their histories, workers and queues. */
    permission view = operate + viewer + worker + platform->view
}

/** A vault mount, `vault_mount:<path>`. Platform operators and viewers get nothing here:
 *  secrets are read only by those granted them (or by platform administrators). */
definition vault_mount {
    relation platform: platform
    relation admin: user | group#member
    relation writer: user | group#member
    relation reader: user | group#member

    /** Configuring and deleting the mount. */
    permission administer = admin + platform->administer
    /** Writing and deleting secrets. */
    permission write = administer + writer
    /** Reading secrets. */
    permission read = write + reader
}

/** A folder of secrets in a vault mount, `vault_path:<mount>/<folder>` (`vault_path:secret/team`):
 *  a grant here reaches every secret under the folder (and a secret's own path, one secret). */
definition vault_path {
    relation writer: user | group#member
    relation reader: user | group#member

    /** Writing and deleting the secrets under the folder. */
    permission write = writer
    /** Reading them. */
    permission read = write + reader
}

/** An API key, `api_key:<id>`. */
definition api_key {
    relation owner: user
    relation platform: platform

    /** Seeing, renaming and revoking the key. */
    permission manage = owner + platform->administer
}
"""


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def builtin_schema(version: int = SCHEMA_VERSION, body: str = _BODY) -> str:
    """The text of a built-in schema: its marker line, then `body`."""
    return f"// assay platform schema v{version} {_digest(body)}\n{body}"


#: The built-in schema the service installs.
PLATFORM_SCHEMA = builtin_schema()


@dataclass(frozen=True)
class Marker:
    """What a schema's first line says: the built-in version it was, and whether its text is
    still exactly that version's (not edited since)."""

    version: int
    unchanged: bool


def marker_of(text: str) -> Marker | None:
    """The built-in marker of `text`; None for a schema that never was a built-in one."""
    first, _, rest = text.partition("\n")
    found = _MARKER.fullmatch(first.strip())
    if found is None:
        return None
    return Marker(int(found["version"]), found["digest"] == _digest(rest))


Outcome = Literal["installed", "upgraded", "current", "kept"]


@dataclass(frozen=True)
class Installed:
    outcome: Outcome
    #: The schema version of the store afterwards.
    version: int


def _platform_admin(user_id: uuid.UUID) -> Relationship:
    return Relationship(PLATFORM, "admin", SubjectRef("user", str(user_id)))


_ANY_ADMIN = RelationshipFilter(resource_type=PLATFORM.type, resource_id=PLATFORM.id, relation="admin")


class PlatformRoles:
    """The platform store's built-in schema and the grants the identity side makes in it."""

    #: Attempts of an installation that keeps meeting other writers.
    ATTEMPTS = 5

    def __init__(self, ctx: AuthContext, permissions: PermissionStores) -> None:
        self.ctx = ctx
        self.permissions = permissions
        # Once the platform has had an administrator it always has had one: no more lookups.
        self._had_admin = False
        self._schemas: dict[int, Schema] = {}

    # ---- the schema --------------------------------------------------------------------------

    async def install(self, actor: Actor = INSTALLER) -> Installed:
        """Write the built-in schema when the store has none or an unchanged older built-in one."""
        for _ in range(self.ATTEMPTS):
            outcome: Outcome
            try:
                current = await self.permissions.read_schema(PLATFORM_STORE)
            except SchemaNotFound:
                expected, outcome = 0, "installed"
            else:
                marker = marker_of(current.text)
                if current.text == PLATFORM_SCHEMA:
                    return Installed("current", current.version)
                if marker is None or not marker.unchanged or marker.version >= SCHEMA_VERSION:
                    log.info(
                        "the platform permission schema (version %d) is not an unchanged older built-in "
                        "one; it is kept as it is",
                        current.version,
                    )
                    return Installed("kept", current.version)
                expected, outcome = current.version, "upgraded"
            try:
                written = await self.permissions.write_schema(
                    actor, PLATFORM_STORE, PLATFORM_SCHEMA, expected_version=expected
                )
            except SchemaVersionConflict:
                # Another replica (or an operator) wrote first: decide again on what is there now.
                continue
            except SchemaWouldOrphan as exc:
                log.error(
                    "the built-in platform permission schema v%d would orphan existing relationships; "
                    "the store keeps its schema: %s",
                    SCHEMA_VERSION,
                    exc.detail,
                )
                return Installed("kept", expected)
            return Installed(outcome, written.version)
        raise SchemaVersionConflict(
            f"the platform permission schema kept changing while it was installed ({self.ATTEMPTS} tries)"
        )

    # ---- grants ------------------------------------------------------------------------------

    async def grant_admin(self, tx: Transaction, actor: Actor, user_id: uuid.UUID) -> bool:
        """`platform:assay#admin@user:<id>` in `tx` (idempotent); False when the store's schema
        has no such relation (an operator's own schema), which is logged, not an error."""
        return await self._write(tx, actor, [Update("touch", _platform_admin(user_id))])

    async def revoke_admin(self, tx: Transaction, actor: Actor, user_id: uuid.UUID) -> None:
        """Remove the direct grant `platform:assay#admin@user:<id>` in `tx` (grants through a group
        stay)."""
        await self._write(tx, actor, [Update("delete", _platform_admin(user_id))])

    async def first_user(self, tx: Transaction, actor: Actor, user_id: uuid.UUID) -> bool:
        """Make `user_id` the platform's administrator if it never had one (and the setting is
        on); True when it did. Of concurrent first sign-ins one wins: the write's precondition
        (no administrator) is checked in order with every other write of the store."""
        if self._had_admin or not self.ctx.settings.first_user_becomes_admin:
            return False
        if await self._ever_had_admin(tx):
            self._had_admin = True
            return False
        no_admin = Precondition("must_not_match", _ANY_ADMIN)
        try:
            granted = await self._write(tx, actor, [Update("touch", _platform_admin(user_id))], [no_admin])
        except PreconditionFailed:
            # Another sign-in won the race; this one goes on without the role.
            self._had_admin = True
            return False
        if granted:
            log.info("user %s is the platform's first administrator (first_user_becomes_admin)", user_id)
        return granted

    async def _ever_had_admin(self, tx: Transaction) -> bool:
        """Whether `platform:assay` has or ever had an administrator: revoking them all must not
        hand the platform to whoever signs in next. Deleted relationships stay as rows (marked
        with their revision), so one query answers."""
        r = relationships.c
        query = (
            sa.select(sa.literal(1))
            .where(
                r.store == PLATFORM_STORE,
                r.resource_type == PLATFORM.type,
                r.resource_id == PLATFORM.id,
                r.relation == "admin",
            )
            .limit(1)
        )
        return (await tx.conn.scalar(query)) is not None

    async def _write(
        self,
        tx: Transaction,
        actor: Actor,
        updates: list[Update],
        preconditions: list[Precondition] | None = None,
    ) -> bool:
        try:
            # Checked first so that a schema without these relations costs no revision of the store.
            await self._check_allowed(tx, updates)
            await self.permissions.write(actor, PLATFORM_STORE, updates, preconditions or [], within=tx)
        except (NoSchema, InvalidRelationship) as exc:
            # Raised before any relationship is written, so the caller's transaction goes on unharmed.
            log.warning("the platform permission store cannot record %s: %s", updates[0].relationship, exc)
            return False
        return True

    async def _check_allowed(self, tx: Transaction, updates: list[Update]) -> None:
        row = await store.schema_at(tx.conn, PLATFORM_STORE)
        if row is None:
            raise NoSchema("the platform store has no schema")
        schema = self._schemas.get(row.version)
        if schema is None:
            schema = self._schemas[row.version] = parse_schema(row.text)
        for update in updates:
            if update.operation != "delete":
                schema.check_relationship(update.relationship)
