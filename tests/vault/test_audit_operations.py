"""The table of operations names every route of the vault that is audited, and only routes."""

from __future__ import annotations

from assay_common.route_permissions import openapi_path
from assay_vault.api.operations import OPERATIONS, UNAUDITED, UNNAMED, operation_of
from assay_vault.api.vault_dialect import LIST_OPERATION
from assay_vault.app import create_app

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def test_every_audited_route_has_an_operation_and_every_operation_a_route() -> None:
    document = create_app().openapi()
    routes = {
        ("LIST" if method == LIST_OPERATION else method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS | {LIST_OPERATION} and path not in UNAUDITED
    }
    named = {(method, openapi_path(template)) for method, template in OPERATIONS}

    assert sorted(routes - named) == [], "routes without an operation in assay_vault.api.operations"
    assert sorted(named - routes) == [], "operations of no route"


def test_vaults_list_query_is_the_listing_and_head_is_get() -> None:
    metadata = "/v1/{mount}/metadata/{path:path}"

    assert operation_of("GET", metadata, {}) == "kv.metadata.read"
    assert operation_of("GET", metadata, {"list": "true"}) == "kv.list"
    assert operation_of("GET", metadata, {"list": "false"}) == "kv.metadata.read"
    assert operation_of("HEAD", "/v1/sys/init", {}) == "sys.init_status"
    assert operation_of("GET", "/v1/sys/unknown", {}) == UNNAMED
