"""`/v1/auth/token/lookup-self` in Vault's dialect: what the presented credential is, so that Vault
clients that look up their token before working (hvac's `auth.token.lookup_self`, Vault Agent,
Terraform's provider) work with an Assay API key, session token or JWT as `X-Vault-Token`.

Assay has no Vault tokens, so the document describes the Assay principal instead:

- `id` is empty: the answer never repeats a credential;
- `accessor` is the API key's id (or the session's), which names the credential without being it;
- `display_name` is `<kind>:<principal id>`; `meta` holds the kind and the id;
- `policies` are the credential's scopes (`default` when it has none), for information: what the
  caller may do is decided by the platform's permissions (docs/permissions.md), not by policies;
- `ttl` 0 and `expire_time` null: a credential's lifetime is the auth service's to enforce (a
  revoked or expired one never reaches this route), and it is not renewable here.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from assay_common.route_access import Access, access
from assay_vault.api.vault_dialect import envelope

router = APIRouter(prefix="/v1/auth/token", tags=["vault: Vault-compatible token"])


@router.get("/lookup-self", summary="The presented credential, as a Vault token document")
async def lookup_self(caller: Access = Depends(access)) -> dict[str, Any]:
    principal = caller.principal
    return envelope(
        {
            "id": "",
            "accessor": principal.api_key_id or principal.session_id or "",
            "display_name": f"{principal.kind}:{principal.id}",
            "meta": {"principal_kind": principal.kind, "principal_id": principal.id},
            "policies": list(principal.scopes) or ["default"],
            "path": "auth/assay",
            "type": "service",
            "orphan": True,
            "renewable": False,
            "ttl": 0,
            "creation_ttl": 0,
            "explicit_max_ttl": 0,
            "expire_time": None,
            "num_uses": 0,
            "entity_id": "",
        }
    )
