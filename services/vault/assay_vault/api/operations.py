"""What each route of the vault does, by name: the `operation` of its audit record
(`request_audit`), e.g. `kv.read`, `kv.write`, `sys.unseal`, `audit.enable`.

One table for both dialects: a native route and its Vault twin share their name. Vault's
`GET …?list=true` is the listing of the path, so it takes the name of the path's `LIST` row.
A test walks the app's routes to keep the table complete.
"""

from __future__ import annotations

from collections.abc import Mapping

#: Routes answered without an audit record: liveness, readiness and the seal's state, which
#: monitors and load balancers ask all the time and which show nothing secret.
UNAUDITED = frozenset(
    {
        "/healthz",
        "/readyz",
        "/version",
        "/metrics",
        "/openapi.json",
        "/api/v1/vault/sys/health",
        "/api/v1/vault/sys/seal-status",
        "/v1/sys/health",
        "/v1/sys/seal-status",
    }
)

# fmt: off
#: (methods, route template, operation).
_ROWS: tuple[tuple[str, str, str], ...] = (
    # ---- sys: the seal and the keys ------------------------------------------------------------
    ("POST", "/api/v1/vault/sys/init", "sys.init"),
    ("POST", "/api/v1/vault/sys/unseal", "sys.unseal"),
    ("POST", "/api/v1/vault/sys/seal", "sys.seal"),
    ("POST", "/api/v1/vault/sys/rotate", "sys.rotate"),
    ("GET", "/api/v1/vault/sys/key-status", "sys.key_status"),
    ("GET", "/v1/sys/init", "sys.init_status"),
    ("PUT POST", "/v1/sys/init", "sys.init"),
    ("PUT POST", "/v1/sys/unseal", "sys.unseal"),
    ("PUT POST", "/v1/sys/seal", "sys.seal"),
    ("PUT POST", "/v1/sys/rotate", "sys.rotate"),
    ("GET", "/v1/sys/key-status", "sys.key_status"),
    ("GET", "/v1/auth/token/lookup-self", "token.lookup_self"),
    # ---- mounts ----------------------------------------------------------------------------------
    ("GET", "/api/v1/vault/mounts", "mounts.list"),
    ("POST", "/api/v1/vault/mounts", "mounts.enable"),
    ("GET", "/api/v1/vault/mounts/{mount}", "mounts.read"),
    ("PATCH", "/api/v1/vault/mounts/{mount}", "mounts.tune"),
    ("DELETE", "/api/v1/vault/mounts/{mount}", "mounts.disable"),
    ("GET", "/v1/sys/mounts", "mounts.list"),
    ("GET", "/v1/sys/mounts/{mount}", "mounts.read"),
    ("PUT POST", "/v1/sys/mounts/{mount}", "mounts.enable"),
    ("DELETE", "/v1/sys/mounts/{mount}", "mounts.disable"),
    ("GET", "/v1/sys/mounts/{mount}/tune", "mounts.read"),
    ("PUT POST", "/v1/sys/mounts/{mount}/tune", "mounts.tune"),
    ("GET", "/v1/sys/internal/ui/mounts/{mount}", "mounts.read"),
    ("GET", "/v1/sys/internal/ui/mounts/{mount}/{path:path}", "mounts.read"),
    # ---- KV v2 -----------------------------------------------------------------------------------
    ("GET", "/api/v1/vault/kv/{mount}/config", "kv.config.read"),
    ("PUT", "/api/v1/vault/kv/{mount}/config", "kv.config.write"),
    ("GET", "/api/v1/vault/kv/{mount}/keys", "kv.list"),
    ("GET", "/api/v1/vault/kv/{mount}/secrets/{path:path}", "kv.read"),
    ("PUT", "/api/v1/vault/kv/{mount}/secrets/{path:path}", "kv.write"),
    ("PATCH", "/api/v1/vault/kv/{mount}/secrets/{path:path}", "kv.patch"),
    ("DELETE", "/api/v1/vault/kv/{mount}/secrets/{path:path}", "kv.delete"),
    ("POST", "/api/v1/vault/kv/{mount}/delete/{path:path}", "kv.delete"),
    ("POST", "/api/v1/vault/kv/{mount}/undelete/{path:path}", "kv.undelete"),
    ("POST", "/api/v1/vault/kv/{mount}/destroy/{path:path}", "kv.destroy"),
    ("GET", "/api/v1/vault/kv/{mount}/metadata/{path:path}", "kv.metadata.read"),
    ("PUT", "/api/v1/vault/kv/{mount}/metadata/{path:path}", "kv.metadata.write"),
    ("PATCH", "/api/v1/vault/kv/{mount}/metadata/{path:path}", "kv.metadata.patch"),
    ("DELETE", "/api/v1/vault/kv/{mount}/metadata/{path:path}", "kv.metadata.delete"),
    ("GET", "/v1/{mount}/config", "kv.config.read"),
    ("PUT POST", "/v1/{mount}/config", "kv.config.write"),
    ("GET", "/v1/{mount}/data/{path:path}", "kv.read"),
    ("PUT POST", "/v1/{mount}/data/{path:path}", "kv.write"),
    ("PATCH", "/v1/{mount}/data/{path:path}", "kv.patch"),
    ("DELETE", "/v1/{mount}/data/{path:path}", "kv.delete"),
    ("PUT POST", "/v1/{mount}/delete/{path:path}", "kv.delete"),
    ("PUT POST", "/v1/{mount}/undelete/{path:path}", "kv.undelete"),
    ("PUT POST", "/v1/{mount}/destroy/{path:path}", "kv.destroy"),
    ("GET", "/v1/{mount}/metadata", "kv.metadata.read"),
    ("GET", "/v1/{mount}/metadata/", "kv.metadata.read"),
    ("GET", "/v1/{mount}/metadata/{path:path}", "kv.metadata.read"),
    ("LIST", "/v1/{mount}/metadata", "kv.list"),
    ("LIST", "/v1/{mount}/metadata/", "kv.list"),
    ("LIST", "/v1/{mount}/metadata/{path:path}", "kv.list"),
    ("PUT POST", "/v1/{mount}/metadata/{path:path}", "kv.metadata.write"),
    ("PATCH", "/v1/{mount}/metadata/{path:path}", "kv.metadata.patch"),
    ("DELETE", "/v1/{mount}/metadata/{path:path}", "kv.metadata.delete"),
    # ---- transit ---------------------------------------------------------------------------------
    ("GET", "/api/v1/vault/transit/{mount}/keys", "transit.keys.list"),
    ("POST", "/api/v1/vault/transit/{mount}/keys/{name}", "transit.keys.create"),
    ("GET", "/api/v1/vault/transit/{mount}/keys/{name}", "transit.keys.read"),
    ("DELETE", "/api/v1/vault/transit/{mount}/keys/{name}", "transit.keys.delete"),
    ("PATCH", "/api/v1/vault/transit/{mount}/keys/{name}/config", "transit.keys.config"),
    ("POST", "/api/v1/vault/transit/{mount}/keys/{name}/rotate", "transit.keys.rotate"),
    ("POST", "/api/v1/vault/transit/{mount}/keys/{name}/trim", "transit.keys.trim"),
    ("POST", "/api/v1/vault/transit/{mount}/keys/{name}/backup", "transit.backup"),
    ("POST", "/api/v1/vault/transit/{mount}/restore", "transit.restore"),
    ("POST", "/api/v1/vault/transit/{mount}/encrypt/{name}", "transit.encrypt"),
    ("POST", "/api/v1/vault/transit/{mount}/decrypt/{name}", "transit.decrypt"),
    ("POST", "/api/v1/vault/transit/{mount}/rewrap/{name}", "transit.rewrap"),
    ("POST", "/api/v1/vault/transit/{mount}/datakey/{kind}/{name}", "transit.datakey"),
    ("POST", "/api/v1/vault/transit/{mount}/hmac/{name}", "transit.hmac"),
    ("POST", "/api/v1/vault/transit/{mount}/sign/{name}", "transit.sign"),
    ("POST", "/api/v1/vault/transit/{mount}/verify/{name}", "transit.verify"),
    ("POST", "/api/v1/vault/transit/{mount}/hash", "transit.hash"),
    ("POST", "/api/v1/vault/transit/{mount}/random", "transit.random"),
    ("GET LIST", "/v1/{mount}/keys", "transit.keys.list"),
    ("GET LIST", "/v1/{mount}/keys/", "transit.keys.list"),
    ("GET", "/v1/{mount}/keys/{name}", "transit.keys.read"),
    ("PUT POST", "/v1/{mount}/keys/{name}", "transit.keys.create"),
    ("DELETE", "/v1/{mount}/keys/{name}", "transit.keys.delete"),
    ("PUT POST", "/v1/{mount}/keys/{name}/config", "transit.keys.config"),
    ("PUT POST", "/v1/{mount}/keys/{name}/rotate", "transit.keys.rotate"),
    ("PUT POST", "/v1/{mount}/keys/{name}/trim", "transit.keys.trim"),
    ("GET", "/v1/{mount}/backup/{name}", "transit.backup"),
    ("PUT POST", "/v1/{mount}/restore", "transit.restore"),
    ("PUT POST", "/v1/{mount}/restore/{name}", "transit.restore"),
    ("PUT POST", "/v1/{mount}/encrypt/{name}", "transit.encrypt"),
    ("PUT POST", "/v1/{mount}/decrypt/{name}", "transit.decrypt"),
    ("PUT POST", "/v1/{mount}/rewrap/{name}", "transit.rewrap"),
    ("PUT POST", "/v1/{mount}/datakey/{kind}/{name}", "transit.datakey"),
    ("PUT POST", "/v1/{mount}/hmac/{name}", "transit.hmac"),
    ("PUT POST", "/v1/{mount}/hmac/{name}/{algorithm}", "transit.hmac"),
    ("PUT POST", "/v1/{mount}/sign/{name}", "transit.sign"),
    ("PUT POST", "/v1/{mount}/sign/{name}/{hash_algorithm}", "transit.sign"),
    ("PUT POST", "/v1/{mount}/verify/{name}", "transit.verify"),
    ("PUT POST", "/v1/{mount}/verify/{name}/{hash_algorithm}", "transit.verify"),
    ("PUT POST", "/v1/{mount}/hash", "transit.hash"),
    ("PUT POST", "/v1/{mount}/hash/{algorithm}", "transit.hash"),
    ("PUT POST", "/v1/{mount}/random", "transit.random"),
    ("PUT POST", "/v1/{mount}/random/{part}", "transit.random"),
    ("PUT POST", "/v1/{mount}/random/{source}/{count}", "transit.random"),
    # ---- audit sinks -----------------------------------------------------------------------------
    ("GET", "/api/v1/vault/audit", "audit.list"),
    ("PUT", "/api/v1/vault/audit/{sink}", "audit.enable"),
    ("DELETE", "/api/v1/vault/audit/{sink}", "audit.disable"),
    ("GET", "/v1/sys/audit", "audit.list"),
    ("PUT POST", "/v1/sys/audit/{sink}", "audit.enable"),
    ("DELETE", "/v1/sys/audit/{sink}", "audit.disable"),
)
# fmt: on

#: The operation of each (method, route template).
OPERATIONS: dict[tuple[str, str], str] = {
    (method, template): operation for methods, template, operation in _ROWS for method in methods.split()
}
#: What a route missing from the table is recorded as (a test keeps the table complete).
UNNAMED = "unnamed"
#: Go's spellings of true, which Vault takes in `?list=`.
_TRUE = frozenset({"1", "t", "true"})


def operation_of(method: str, template: str, query: Mapping[str, str]) -> str:
    """The operation of a request to the route `template` (HEAD is GET's)."""
    method = "GET" if method == "HEAD" else method
    if method == "GET" and query.get("list", "").lower() in _TRUE and ("LIST", template) in OPERATIONS:
        method = "LIST"
    return OPERATIONS.get((method, template), UNNAMED)
