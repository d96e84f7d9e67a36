"""Vault's dialect of the API, on `/v1/...`: what hvac, the `vault`/`bao` CLIs and Vault SDKs expect.

- Errors are `{"errors": ["<message>"]}` with Vault's status codes, not problem+json: the app
  installs `install_vault_errors` once, so every error raised on a `/v1` path (an `AssayError`
  from the domain, FastAPI's validation, an unknown route) takes that form by itself; routes
  just raise. 409 and 422 become 400, `Sealed` reads "Vault is sealed"
  (`assay_common.vault_errors`, shared with the gateway, whose refusals on `/v1` look alike).
- Successful answers with data are wrapped in Vault's envelope (`envelope`).
- Vault lists with the method `LIST`. OpenAPI has no such operation, so the app's document shows
  a `LIST` route as the extension `x-list` of its path (`document_list_operations`); the route
  table names it `LIST`.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import FastAPI

from assay_common.vault_errors import (
    SEALED_MESSAGE,
    VAULT_PREFIX,
    errors_response,
    install_vault_errors,
    is_vault_path,
)

__all__ = [
    "LIST_OPERATION",
    "SEALED_MESSAGE",
    "VAULT_PREFIX",
    "document_list_operations",
    "envelope",
    "errors_response",
    "install_vault_errors",
    "is_vault_path",
]

#: How the OpenAPI document names a `LIST` operation (a specification extension of the path).
LIST_OPERATION = "x-list"


def envelope(data: Any, *, warnings: list[str] | None = None) -> dict[str, Any]:
    """Vault's response envelope around `data` (no lease, no wrapping, no auth)."""
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": 0,
        "data": data,
        "wrap_info": None,
        "warnings": warnings,
        "auth": None,
    }


def document_list_operations(app: FastAPI) -> None:
    """Show `LIST` routes in `app`'s OpenAPI document as `x-list`, which OpenAPI allows (FastAPI
    would write `list`, which it does not); call once the app's other document changes are in."""
    make_document = app.openapi

    def document() -> dict[str, Any]:
        schema = make_document()
        for item in schema.get("paths", {}).values():
            if "list" in item:
                item[LIST_OPERATION] = item.pop("list")
        return schema

    app.openapi = document  # type: ignore[method-assign]
