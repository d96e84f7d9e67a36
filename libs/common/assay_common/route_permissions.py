"""What each route of each service needs: the one route → permission table (docs/permissions.md).

Each row is `(method, path, needs)`; `path` is the route's template as its service declares it:
`{name}` is one path segment, `{name:path}` the rest of the path (`/v1/{mount}/data/{path:path}`),
which OpenAPI documents show as `{name}` (`openapi_path`). `method` may be Vault's `LIST`. `needs` is one of

- `public`: anyone, credentials or not (signing in, public keys, health);
- `signed_in`: any authenticated caller; the service decides what they see or change, always
  within their own things (their sessions, their keys) unless they administer the platform;
- `service`: Assay's own services only (internal routes, never routed by the gateway);
- a permission `<type>:<id>#<permission>` on the platform permission store, whose `<id>` may be a
  placeholder:
  - `{path.<name>}`: a parameter of the path;
  - `{query.<name>|<default>}` / `{body.<name>|<default>}`: a query parameter or a field of the
    JSON body, or the default when it is absent;
  - `{<what>.namespace}` (any other placeholder): the object is known only to the service, which
    looks it up (the namespace of a worker, of a task) and checks it itself;
  - followed by `+folders` (vault mounts only): or the same permission on a folder of the secret
    the path's `{path}` names, `vault_path:<mount>/<folder>` (`secret/team`, `secret/team/db`, …,
    the secret's own path), so that a grant can reach part of a mount (`folder_needs`).

The gateway enforces every row whose object it can name (fixed, path, query, body); the services
enforce the rows only they can resolve, and check again where the object a request touches is
theirs to know. A route missing from the table is refused, and a test walks every service's
OpenAPI to keep the table complete.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from assay_common.errors import Invalid
from assay_common.permission_checks import OBJECT_ID, Need

Access = Literal["public", "signed_in", "service", "permission"]
Source = Literal["fixed", "path", "query", "body", "service"]

#: The suffix of a row that folder grants may satisfy too, and the type of those folders.
FOLDERS_SUFFIX = "+folders"
FOLDER_TYPE = "vault_path"

_PLACEHOLDER = re.compile(
    r"^\{(?:(?P<source>path|query|body)\.)?(?P<name>[a-z_.]+)(?:\|(?P<default>[^}]*))?\}$"
)

# fmt: off
#: (method, path, needs): every route of every service. Read this table to know who may do what.
TABLE: tuple[tuple[str, str, str], ...] = (
    # ---- gateway ---------------------------------------------------------------------------------
    ("GET", "/api/v1/health", "public"),
    ("GET", "/api/v1/version", "public"),
    ("GET", "/api/v1/openapi.json", "public"),
    ("GET", "/api/v1/docs", "public"),
    ("GET", "/api/v1/docs/assets/{name}", "public"),
    ("GET", "/api/v1/modules", "signed_in"),
    ("GET", "/api/v1/events/stream", "platform:assay#view"),
    ("GET", "/api/v1/events/asyncapi.json", "public"),
    ("GET", "/api/v1/events/types", "public"),
    # ---- workflow: namespaces ----------------------------------------------------------------------
    ("POST", "/api/v1/namespaces", "platform:assay#operate"),
    ("GET", "/api/v1/namespaces", "signed_in"),  # lists only the namespaces the caller can view
    ("GET", "/api/v1/namespaces/{name}", "namespace:{path.name}#view"),
    ("PATCH", "/api/v1/namespaces/{name}", "namespace:{path.name}#administer"),
    ("DELETE", "/api/v1/namespaces/{name}", "namespace:{path.name}#administer"),
    # ---- workflow: runs ------------------------------------------------------------------------------
    ("POST", "/api/v1/workflows", "namespace:{body.namespace|main}#operate"),
    ("GET", "/api/v1/workflows", "namespace:{query.namespace|main}#view"),
    ("GET", "/api/v1/workflows/{workflow_id}", "namespace:{query.namespace|main}#view"),
    ("GET", "/api/v1/workflows/{workflow_id}/events", "namespace:{query.namespace|main}#view"),
    ("GET", "/api/v1/workflows/{workflow_id}/result", "namespace:{query.namespace|main}#view"),
    ("GET", "/api/v1/workflows/{workflow_id}/state", "namespace:{query.namespace|main}#view"),
    ("GET", "/api/v1/workflows/{workflow_id}/archive", "namespace:{query.namespace|main}#view"),
    ("POST", "/api/v1/workflows/{workflow_id}/signal/{name}", "namespace:{query.namespace|main}#operate"),
    ("POST", "/api/v1/workflows/{workflow_id}/cancel", "namespace:{query.namespace|main}#operate"),
    ("POST", "/api/v1/workflows/{workflow_id}/terminate", "namespace:{query.namespace|main}#operate"),
    ("POST", "/api/v1/workflows/{workflow_id}/continue-as-new", "namespace:{query.namespace|main}#operate"),
    ("POST", "/api/v1/workflows/{workflow_id}/retry", "namespace:{query.namespace|main}#operate"),
    ("GET", "/api/v1/queues", "namespace:{query.namespace|main}#view"),
    # ---- workflow: schedules ------------------------------------------------------------------------
    ("POST", "/api/v1/schedules", "namespace:{body.namespace|main}#operate"),
    ("GET", "/api/v1/schedules", "namespace:{query.namespace|main}#view"),
    ("GET", "/api/v1/schedules/{schedule_id}", "namespace:{query.namespace|main}#view"),
    ("PATCH", "/api/v1/schedules/{schedule_id}", "namespace:{query.namespace|main}#operate"),
    ("DELETE", "/api/v1/schedules/{schedule_id}", "namespace:{query.namespace|main}#operate"),
    ("POST", "/api/v1/schedules/{schedule_id}/pause", "namespace:{query.namespace|main}#operate"),
    ("POST", "/api/v1/schedules/{schedule_id}/resume", "namespace:{query.namespace|main}#operate"),
    ("POST", "/api/v1/schedules/{schedule_id}/trigger", "namespace:{query.namespace|main}#operate"),
    ("POST", "/api/v1/schedules/{schedule_id}/backfill", "namespace:{query.namespace|main}#operate"),
    # ---- workflow: workers and their tasks -----------------------------------------------------------
    ("POST", "/api/v1/workers", "namespace:{body.namespace|main}#work"),
    ("GET", "/api/v1/workers", "namespace:{query.namespace|main}#view"),
    ("POST", "/api/v1/workers/{worker_id}/heartbeat", "namespace:{worker.namespace}#work"),
    ("DELETE", "/api/v1/workers/{worker_id}", "namespace:{worker.namespace}#work"),
    ("POST", "/api/v1/workflow-tasks/poll", "namespace:{worker.namespace}#work"),
    ("POST", "/api/v1/workflow-tasks/complete", "namespace:{worker.namespace}#work"),
    ("POST", "/api/v1/workflow-tasks/fail", "namespace:{worker.namespace}#work"),
    ("POST", "/api/v1/activity-tasks/poll", "namespace:{worker.namespace}#work"),
    ("POST", "/api/v1/activity-tasks/complete", "namespace:{worker.namespace}#work"),
    ("POST", "/api/v1/activity-tasks/heartbeat", "namespace:{worker.namespace}#work"),
    # ---- auth: signing in and oneself ----------------------------------------------------------------
    ("POST", "/api/v1/auth/login", "public"),
    ("POST", "/api/v1/auth/logout", "public"),
    ("GET", "/api/v1/auth/setup", "public"),  # the first administrator, while there is no user
    ("POST", "/api/v1/auth/setup", "public"),
    ("POST", "/api/v1/auth/password/recovery", "public"),
    ("POST", "/api/v1/auth/password/reset", "public"),
    ("POST", "/api/v1/auth/passkeys/authentication/options", "public"),
    ("POST", "/api/v1/auth/passkeys/authentication", "public"),
    ("GET", "/api/v1/auth/whoami", "signed_in"),
    ("POST", "/api/v1/auth/password", "signed_in"),
    ("GET", "/api/v1/auth/sessions", "signed_in"),
    ("DELETE", "/api/v1/auth/sessions/{session_id}", "signed_in"),
    ("POST", "/api/v1/auth/passkeys/registration/options", "signed_in"),
    ("POST", "/api/v1/auth/passkeys/registration", "signed_in"),
    ("GET", "/api/v1/auth/passkeys", "signed_in"),
    ("PATCH", "/api/v1/auth/passkeys/{passkey_id}", "signed_in"),
    ("DELETE", "/api/v1/auth/passkeys/{passkey_id}", "signed_in"),
    ("POST", "/api/v1/auth/api-keys", "signed_in"),
    ("GET", "/api/v1/auth/api-keys", "signed_in"),
    ("DELETE", "/api/v1/auth/api-keys/self", "signed_in"),
    ("DELETE", "/api/v1/auth/api-keys/{key_id}", "signed_in"),
    ("POST", "/api/v1/auth/token", "signed_in"),
    # ---- auth: administering users -------------------------------------------------------------------
    ("POST", "/api/v1/auth/users", "platform:assay#administer"),
    ("GET", "/api/v1/auth/users", "platform:assay#administer"),
    ("GET", "/api/v1/auth/users/{user_id}", "platform:assay#administer"),
    ("PATCH", "/api/v1/auth/users/{user_id}", "platform:assay#administer"),
    ("DELETE", "/api/v1/auth/users/{user_id}", "platform:assay#administer"),
    ("POST", "/api/v1/auth/users/{user_id}/disable", "platform:assay#administer"),
    ("POST", "/api/v1/auth/users/{user_id}/enable", "platform:assay#administer"),
    ("POST", "/api/v1/auth/users/{user_id}/password", "platform:assay#administer"),
    ("GET", "/api/v1/auth/users/{user_id}/sessions", "platform:assay#administer"),
    ("DELETE", "/api/v1/auth/users/{user_id}/sessions", "platform:assay#administer"),
    ("DELETE", "/api/v1/auth/users/{user_id}/sessions/{session_id}", "platform:assay#administer"),
    ("GET", "/api/v1/auth/users/{user_id}/passkeys", "platform:assay#administer"),
    ("DELETE", "/api/v1/auth/users/{user_id}/passkeys/{passkey_id}", "platform:assay#administer"),
    ("POST", "/api/v1/auth/users/{user_id}/api-keys", "platform:assay#administer"),
    ("GET", "/api/v1/auth/users/{user_id}/api-keys", "platform:assay#administer"),
    ("DELETE", "/api/v1/auth/users/{user_id}/api-keys/{key_id}", "platform:assay#administer"),
    ("GET", "/api/v1/auth/audit", "platform:assay#administer"),
    # ---- auth: keys and tokens -----------------------------------------------------------------------
    ("GET", "/.well-known/jwks.json", "public"),
    ("GET", "/api/v1/auth/signing-keys", "platform:assay#administer"),
    ("POST", "/api/v1/auth/signing-keys/rotate", "platform:assay#administer"),
    ("GET", "/api/v1/auth/biscuit/root-keys", "public"),
    ("POST", "/api/v1/auth/biscuit/root-keys/rotate", "platform:assay#administer"),
    ("DELETE", "/api/v1/auth/biscuit/root-keys/{key_id}", "platform:assay#administer"),
    ("POST", "/api/v1/auth/biscuit/tokens", "platform:assay#administer"),
    ("POST", "/api/v1/auth/biscuit/verify", "platform:assay#administer"),
    ("POST", "/api/v1/auth/biscuit/attenuate", "public"),
    ("POST", "/api/v1/auth/biscuit/revocations", "public"),  # by token: holding it is the proof
    ("GET", "/api/v1/auth/biscuit/revocations", "public"),
    # ---- auth: permissions ---------------------------------------------------------------------------
    ("GET", "/api/v1/auth/permissions/schema", "platform:assay#administer"),
    ("PUT", "/api/v1/auth/permissions/schema", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/relationships", "platform:assay#administer"),
    ("GET", "/api/v1/auth/permissions/relationships", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/relationships/delete", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/check", "signed_in"),  # of others: platform:assay#view
    ("POST", "/api/v1/auth/permissions/check/bulk", "signed_in"),  # as for one check
    ("POST", "/api/v1/auth/permissions/expand", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/lookup/resources", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/lookup/subjects", "platform:assay#administer"),
    ("GET", "/api/v1/auth/permissions/stores/{store}/schema", "platform:assay#administer"),
    ("PUT", "/api/v1/auth/permissions/stores/{store}/schema", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/stores/{store}/relationships", "platform:assay#administer"),
    ("GET", "/api/v1/auth/permissions/stores/{store}/relationships", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/stores/{store}/relationships/delete", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/stores/{store}/check", "signed_in"),
    ("POST", "/api/v1/auth/permissions/stores/{store}/check/bulk", "signed_in"),
    ("POST", "/api/v1/auth/permissions/stores/{store}/expand", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/stores/{store}/lookup/resources", "platform:assay#administer"),
    ("POST", "/api/v1/auth/permissions/stores/{store}/lookup/subjects", "platform:assay#administer"),
    # ---- auth: internal ------------------------------------------------------------------------------
    ("POST", "/internal/v1/sessions/validate", "service"),
    ("POST", "/internal/v1/api-keys/validate", "service"),
    ("POST", "/internal/v1/bootstrap", "service"),
    # ---- vault: sys ----------------------------------------------------------------------------------
    # Health and seal status are public, as Vault's: monitors and unseal tooling read them. Any
    # signed-in caller may give a key share (holding one is the proof, as in Vault; signing in
    # keeps anonymous callers from resetting an unseal in progress). Init, seal and rotation
    # are for platform administrators.
    ("GET", "/api/v1/vault/sys/health", "public"),
    ("GET", "/api/v1/vault/sys/seal-status", "public"),
    ("POST", "/api/v1/vault/sys/init", "platform:assay#administer"),
    ("POST", "/api/v1/vault/sys/unseal", "signed_in"),
    ("POST", "/api/v1/vault/sys/seal", "platform:assay#administer"),
    ("POST", "/api/v1/vault/sys/rotate", "platform:assay#administer"),
    ("GET", "/api/v1/vault/sys/key-status", "platform:assay#administer"),
    ("GET", "/v1/sys/health", "public"),
    ("GET", "/v1/sys/seal-status", "public"),
    ("GET", "/v1/sys/init", "public"),
    ("PUT", "/v1/sys/init", "platform:assay#administer"),
    ("POST", "/v1/sys/init", "platform:assay#administer"),
    ("PUT", "/v1/sys/unseal", "signed_in"),
    ("POST", "/v1/sys/unseal", "signed_in"),
    ("PUT", "/v1/sys/seal", "platform:assay#administer"),
    ("POST", "/v1/sys/seal", "platform:assay#administer"),
    ("GET", "/v1/sys/key-status", "platform:assay#administer"),
    ("PUT", "/v1/sys/rotate", "platform:assay#administer"),
    ("POST", "/v1/sys/rotate", "platform:assay#administer"),
    ("GET", "/v1/auth/token/lookup-self", "signed_in"),
    # ---- vault: audit -------------------------------------------------------------------------------
    # Audit sinks receive every audit record of the platform: platform administrators only.
    ("GET", "/api/v1/vault/audit", "platform:assay#administer"),
    ("PUT", "/api/v1/vault/audit/{sink}", "platform:assay#administer"),
    ("DELETE", "/api/v1/vault/audit/{sink}", "platform:assay#administer"),
    ("GET", "/v1/sys/audit", "platform:assay#administer"),
    ("PUT", "/v1/sys/audit/{sink}", "platform:assay#administer"),
    ("POST", "/v1/sys/audit/{sink}", "platform:assay#administer"),
    ("DELETE", "/v1/sys/audit/{sink}", "platform:assay#administer"),
    # ---- vault: kv and mounts ------------------------------------------------------------------------
    # Platform administrators list and enable mounts; a mount's administrators tune, configure and
    # disable it; its writers write and delete secrets, its readers read and list them.
    ("GET", "/api/v1/vault/mounts", "platform:assay#administer"),
    ("POST", "/api/v1/vault/mounts", "platform:assay#administer"),
    ("GET", "/api/v1/vault/mounts/{mount}", "vault_mount:{path.mount}#read"),
    ("PATCH", "/api/v1/vault/mounts/{mount}", "vault_mount:{path.mount}#administer"),
    ("DELETE", "/api/v1/vault/mounts/{mount}", "vault_mount:{path.mount}#administer"),
    ("GET", "/api/v1/vault/kv/{mount}/config", "vault_mount:{path.mount}#read"),
    ("PUT", "/api/v1/vault/kv/{mount}/config", "vault_mount:{path.mount}#administer"),
    ("GET", "/api/v1/vault/kv/{mount}/keys", "vault_mount:{path.mount}#read"),
    ("GET", "/api/v1/vault/kv/{mount}/secrets/{path:path}", "vault_mount:{path.mount}#read+folders"),
    ("PUT", "/api/v1/vault/kv/{mount}/secrets/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("PATCH", "/api/v1/vault/kv/{mount}/secrets/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("DELETE", "/api/v1/vault/kv/{mount}/secrets/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("POST", "/api/v1/vault/kv/{mount}/delete/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("POST", "/api/v1/vault/kv/{mount}/undelete/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("POST", "/api/v1/vault/kv/{mount}/destroy/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("GET", "/api/v1/vault/kv/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#read+folders"),
    ("PUT", "/api/v1/vault/kv/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("PATCH", "/api/v1/vault/kv/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("DELETE", "/api/v1/vault/kv/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("GET", "/v1/sys/mounts", "platform:assay#administer"),
    ("GET", "/v1/sys/mounts/{mount}", "vault_mount:{path.mount}#read"),
    ("PUT", "/v1/sys/mounts/{mount}", "platform:assay#administer"),
    ("POST", "/v1/sys/mounts/{mount}", "platform:assay#administer"),
    ("DELETE", "/v1/sys/mounts/{mount}", "vault_mount:{path.mount}#administer"),
    ("GET", "/v1/sys/mounts/{mount}/tune", "vault_mount:{path.mount}#read"),
    ("PUT", "/v1/sys/mounts/{mount}/tune", "vault_mount:{path.mount}#administer"),
    ("POST", "/v1/sys/mounts/{mount}/tune", "vault_mount:{path.mount}#administer"),
    ("GET", "/v1/sys/internal/ui/mounts/{mount}", "vault_mount:{path.mount}#read"),
    ("GET", "/v1/sys/internal/ui/mounts/{mount}/{path:path}", "vault_mount:{path.mount}#read"),
    ("GET", "/v1/{mount}/config", "vault_mount:{path.mount}#read"),
    ("PUT", "/v1/{mount}/config", "vault_mount:{path.mount}#administer"),
    ("POST", "/v1/{mount}/config", "vault_mount:{path.mount}#administer"),
    ("GET", "/v1/{mount}/data/{path:path}", "vault_mount:{path.mount}#read+folders"),
    ("PUT", "/v1/{mount}/data/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("POST", "/v1/{mount}/data/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("PATCH", "/v1/{mount}/data/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("DELETE", "/v1/{mount}/data/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("PUT", "/v1/{mount}/delete/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("POST", "/v1/{mount}/delete/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("PUT", "/v1/{mount}/undelete/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("POST", "/v1/{mount}/undelete/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("PUT", "/v1/{mount}/destroy/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("POST", "/v1/{mount}/destroy/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("GET", "/v1/{mount}/metadata", "vault_mount:{path.mount}#read"),
    ("LIST", "/v1/{mount}/metadata", "vault_mount:{path.mount}#read"),
    ("GET", "/v1/{mount}/metadata/", "vault_mount:{path.mount}#read"),
    ("LIST", "/v1/{mount}/metadata/", "vault_mount:{path.mount}#read"),
    ("GET", "/v1/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#read+folders"),
    ("LIST", "/v1/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#read+folders"),
    ("PUT", "/v1/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("POST", "/v1/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("PATCH", "/v1/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#write+folders"),
    ("DELETE", "/v1/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#write+folders"),
    # ---- vault: transit (native) ---------------------------------------------------------------------
    ("GET", "/api/v1/vault/transit/{mount}/keys", "vault_mount:{path.mount}#read"),
    ("POST", "/api/v1/vault/transit/{mount}/keys/{name}", "vault_mount:{path.mount}#administer"),
    ("GET", "/api/v1/vault/transit/{mount}/keys/{name}", "vault_mount:{path.mount}#read"),
    ("DELETE", "/api/v1/vault/transit/{mount}/keys/{name}", "vault_mount:{path.mount}#administer"),
    ("PATCH", "/api/v1/vault/transit/{mount}/keys/{name}/config", "vault_mount:{path.mount}#administer"),
    ("POST", "/api/v1/vault/transit/{mount}/keys/{name}/rotate", "vault_mount:{path.mount}#administer"),
    ("POST", "/api/v1/vault/transit/{mount}/keys/{name}/trim", "vault_mount:{path.mount}#administer"),
    ("POST", "/api/v1/vault/transit/{mount}/keys/{name}/backup", "vault_mount:{path.mount}#administer"),
    ("POST", "/api/v1/vault/transit/{mount}/restore", "vault_mount:{path.mount}#administer"),
    ("POST", "/api/v1/vault/transit/{mount}/encrypt/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/api/v1/vault/transit/{mount}/decrypt/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/api/v1/vault/transit/{mount}/rewrap/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/api/v1/vault/transit/{mount}/datakey/{kind}/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/api/v1/vault/transit/{mount}/hmac/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/api/v1/vault/transit/{mount}/sign/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/api/v1/vault/transit/{mount}/verify/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/api/v1/vault/transit/{mount}/hash", "vault_mount:{path.mount}#write"),
    ("POST", "/api/v1/vault/transit/{mount}/random", "vault_mount:{path.mount}#write"),
    # ---- vault: transit (/v1 dialect) -----------------------------------------------------------------
    # As the native routes: readers list and read keys, writers use them, administrators manage them.
    ("GET", "/v1/{mount}/keys", "vault_mount:{path.mount}#read"),
    ("LIST", "/v1/{mount}/keys", "vault_mount:{path.mount}#read"),
    ("GET", "/v1/{mount}/keys/", "vault_mount:{path.mount}#read"),
    ("LIST", "/v1/{mount}/keys/", "vault_mount:{path.mount}#read"),
    ("GET", "/v1/{mount}/keys/{name}", "vault_mount:{path.mount}#read"),
    ("PUT", "/v1/{mount}/keys/{name}", "vault_mount:{path.mount}#administer"),
    ("POST", "/v1/{mount}/keys/{name}", "vault_mount:{path.mount}#administer"),
    ("DELETE", "/v1/{mount}/keys/{name}", "vault_mount:{path.mount}#administer"),
    ("PUT", "/v1/{mount}/keys/{name}/config", "vault_mount:{path.mount}#administer"),
    ("POST", "/v1/{mount}/keys/{name}/config", "vault_mount:{path.mount}#administer"),
    ("PUT", "/v1/{mount}/keys/{name}/rotate", "vault_mount:{path.mount}#administer"),
    ("POST", "/v1/{mount}/keys/{name}/rotate", "vault_mount:{path.mount}#administer"),
    ("PUT", "/v1/{mount}/keys/{name}/trim", "vault_mount:{path.mount}#administer"),
    ("POST", "/v1/{mount}/keys/{name}/trim", "vault_mount:{path.mount}#administer"),
    ("PUT", "/v1/{mount}/encrypt/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/encrypt/{name}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/decrypt/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/decrypt/{name}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/rewrap/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/rewrap/{name}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/datakey/{kind}/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/datakey/{kind}/{name}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/random", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/random", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/random/{part}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/random/{part}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/random/{source}/{count}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/random/{source}/{count}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/hash", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/hash", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/hash/{algorithm}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/hash/{algorithm}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/hmac/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/hmac/{name}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/hmac/{name}/{algorithm}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/hmac/{name}/{algorithm}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/sign/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/sign/{name}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/sign/{name}/{hash_algorithm}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/sign/{name}/{hash_algorithm}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/verify/{name}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/verify/{name}", "vault_mount:{path.mount}#write"),
    ("PUT", "/v1/{mount}/verify/{name}/{hash_algorithm}", "vault_mount:{path.mount}#write"),
    ("POST", "/v1/{mount}/verify/{name}/{hash_algorithm}", "vault_mount:{path.mount}#write"),
    ("GET", "/v1/{mount}/backup/{name}", "vault_mount:{path.mount}#administer"),
    ("PUT", "/v1/{mount}/restore", "vault_mount:{path.mount}#administer"),
    ("POST", "/v1/{mount}/restore", "vault_mount:{path.mount}#administer"),
    ("PUT", "/v1/{mount}/restore/{name}", "vault_mount:{path.mount}#administer"),
    ("POST", "/v1/{mount}/restore/{name}", "vault_mount:{path.mount}#administer"),
)
# fmt: on


@dataclass(frozen=True)
class Placeholder:
    source: Source
    name: str
    default: str | None = None


@dataclass(frozen=True)
class RoutePermission:
    """One row of the table, parsed."""

    method: str
    path: str
    access: Access
    resource_type: str = ""
    object_id: str | Placeholder = ""
    permission: str = ""
    #: Whether a grant on a folder of the secret the path names satisfies the row too.
    folders: bool = False

    @property
    def source(self) -> Source:
        return self.object_id.source if isinstance(self.object_id, Placeholder) else "fixed"

    def need(
        self,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, object] | None = None,
        resolved: str | None = None,
    ) -> Need:
        """The permission a request needs, its object taken from where the row says (`resolved` is
        the service's lookup). Where the request's value is not a usable string (absent, empty, a
        number), the row's default stands in: the route's own validation answers a malformed
        request with its 422. `UnnamedObject` (422) when there is no default either."""
        if self.access != "permission":
            raise ValueError(f"{self.method} {self.path} needs no permission ({self.access})")
        found = self.object_id
        if isinstance(found, Placeholder):
            values: Mapping[str, object] = {
                "path": path_params or {},
                "query": query or {},
                "body": body or {},
                "service": {found.name: resolved} if resolved is not None else {},
            }[found.source]
            value = values.get(found.name)
            if not isinstance(value, str) or not value:
                value = found.default
            if not value:
                raise UnnamedObject(f"the request must say which {self.resource_type} it acts on")
            found = value
        return Need(self.resource_type, found, self.permission)

    def needs(
        self,
        path_params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        body: Mapping[str, object] | None = None,
    ) -> list[Need]:
        """`need`, then the alternatives the row allows (`+folders`); any one of them will do."""
        need = self.need(path_params, query, body)
        if not self.folders:
            return [need]
        return [need, *folder_needs(need.resource_id, (path_params or {}).get("path", ""), self.permission)]


def folder_needs(mount: str, path: str, permission: str) -> list[Need]:
    """`permission` on each folder holding the secret at `path` in `mount`, outermost first, and on
    the secret's own path: `vault_path:secret/a#read`, `vault_path:secret/a/b#read` for `a/b`.
    A folder that cannot be an object id cannot have been granted, so it is left out."""
    parts = [part for part in path.split("/") if part]
    folders = (f"{mount}/{'/'.join(parts[:depth])}" for depth in range(1, len(parts) + 1))
    return [Need(FOLDER_TYPE, folder, permission) for folder in folders if OBJECT_ID.fullmatch(folder)]


class UnnamedObject(Invalid):
    code = "unnamed_object"
    title = "The request does not name what it acts on"


def parse_row(method: str, path: str, needs: str) -> RoutePermission:
    if needs in ("public", "signed_in", "service"):
        return RoutePermission(method, path, needs)  # type: ignore[arg-type]
    folders = needs.endswith(FOLDERS_SUFFIX)
    resource, _, permission = needs.removesuffix(FOLDERS_SUFFIX).partition("#")
    resource_type, _, object_text = resource.partition(":")
    if not (resource_type and object_text and permission):
        raise ValueError(f"{method} {path}: {needs!r} is not `<type>:<id>#<permission>`")
    object_id: str | Placeholder = object_text
    if object_text.startswith("{"):
        found = _PLACEHOLDER.match(object_text)
        if found is None:
            raise ValueError(f"{method} {path}: {object_text!r} is not a placeholder")
        source: Source = found["source"] or "service"  # type: ignore[assignment]
        object_id = Placeholder(source, found["name"], found["default"])
    if folders and (resource_type != "vault_mount" or "{path:path}" not in path):
        raise ValueError(f"{method} {path}: only vault mount rows of a secret's path take {FOLDERS_SUFFIX}")
    return RoutePermission(method, path, "permission", resource_type, object_id, permission, folders)


class RouteTable:
    """The table, for looking up a request's row by method and concrete path."""

    def __init__(self, rows: tuple[tuple[str, str, str], ...] = TABLE) -> None:
        self.rows = [parse_row(*row) for row in rows]
        self._by_template = {(row.method, row.path): row for row in self.rows}
        if len(self._by_template) != len(self.rows):
            raise ValueError("a route appears twice in the route permission table")
        self._exact = {(row.method, row.path): row for row in self.rows if "{" not in row.path}
        # By method, so a request is tried only against the templates it could match (every
        # proxied request is looked up here). Templates of the rest of a path (`{name:path}`)
        # come last: a template of single segments is more specific.
        templated: dict[str, list[RoutePermission]] = {}
        for row in sorted(self.rows, key=lambda row: ":path}" in row.path):
            if "{" in row.path:
                templated.setdefault(row.method, []).append(row)
        self._templated = {method: _Alternation(rows) for method, rows in templated.items()}

    def get(self, method: str, path: str) -> RoutePermission | None:
        """The row of a template (as the OpenAPI names it)."""
        return self._by_template.get((method, path))

    def row(self, method: str, template: str) -> RoutePermission:
        """The row of a service's route, by its method (HEAD is GET's) and path template;
        `LookupError` when there is none — a bug, not a bad request: a test walks every service's
        OpenAPI against the table."""
        found = self.get("GET" if method == "HEAD" else method, template)
        if found is None:
            raise LookupError(f"{method} {template} is missing from the route permission table")
        return found

    def match(self, method: str, path: str) -> tuple[RoutePermission, dict[str, str]] | None:
        """The row a request falls under and its path parameters; fixed paths win over templates
        (`/api-keys/self` over `/api-keys/{key_id}`), and templates of single segments over those
        of the rest of a path. HEAD is matched as GET."""
        method = "GET" if method == "HEAD" else method
        row = self._exact.get((method, path))
        if row is not None:
            return row, {}
        alternation = self._templated.get(method)
        return alternation.match(path) if alternation is not None else None


class _Alternation:
    """Templates as one regular expression, a branch each in their order: the first that matches
    the whole path wins, as it would tried one by one, but the engine tries them (in C), not a
    loop of ours. Branch `b<i>` is the `i`th template; its parameters are `b<i>_<name>`."""

    def __init__(self, rows: list[RoutePermission]) -> None:
        self.rows = rows
        self.parameters = [_parameters(row.path) for row in rows]
        branches = (f"(?P<b{index}>{_template(row.path, f'b{index}_')})" for index, row in enumerate(rows))
        self.pattern = re.compile("|".join(branches))

    def match(self, path: str) -> tuple[RoutePermission, dict[str, str]] | None:
        found = self.pattern.fullmatch(path)
        if found is None or found.lastgroup is None:
            return None
        # The branch's own group closes last, after the parameters inside it.
        index = int(found.lastgroup[1:])
        prefix = f"b{index}_"
        return self.rows[index], {name: found[prefix + name] for name in self.parameters[index]}


_PARAMETER = re.compile(r"(\{[a-z_]+(?::path)?\})")


def _parameters(path: str) -> list[str]:
    return [part[1:-1].partition(":")[0] for part in _PARAMETER.split(path) if part.startswith("{")]


def _template(path: str, prefix: str) -> str:
    """`{name}` matches one path segment; `{name:path}` the rest of the path, slashes included
    (as Starlette's `path` convertor: a KV secret's path); groups are named `<prefix><name>`."""
    return "".join(_pattern_of(part, prefix) for part in _PARAMETER.split(path))


def _pattern_of(part: str, prefix: str) -> str:
    if not part.startswith("{"):
        return re.escape(part)
    name, _, convertor = part[1:-1].partition(":")
    return f"(?P<{prefix}{name}>.+)" if convertor == "path" else f"(?P<{prefix}{name}>[^/]+)"


def openapi_path(path: str) -> str:
    """A row's path as OpenAPI documents name it: `{name:path}` is `{name}` there."""
    return path.replace(":path}", "}")


def markdown(rows: tuple[tuple[str, str, str], ...] = TABLE) -> str:
    """The table as Markdown, for docs/permissions.md (`python -m assay_common.route_permissions`)."""
    lines = ["| Method | Path | Needs |", "| --- | --- | --- |"]
    lines += [f"| {method} | `{path}` | `{needs}` |" for method, path, needs in rows]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
