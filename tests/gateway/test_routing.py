"""The routing table: every public path goes to the service ARCHITECTURE §5 names, or nowhere."""

from __future__ import annotations

import re

import httpx
import pytest

from assay_common.permission_checks import CONSISTENCY_TOKEN_HEADER as CONSISTENCY_HEADER
from assay_common.permission_checks import Need
from assay_common.problems import PROBLEM_MEDIA_TYPE
from assay_common.route_permissions import RouteTable, openapi_path
from assay_gateway.authorization import needs_of
from assay_gateway.routing import InvalidPath, NoSuchRoute, route_for, service_for
from tests.conftest import Stack


@pytest.mark.parametrize(
    ("path", "service"),
    [
        ("/api/v1/workflows", "workflow"),
        ("/api/v1/workflows/wf-1/signal/approve", "workflow"),
        ("/api/v1/workflow-tasks/poll", "workflow"),
        ("/api/v1/activities/act-1", "workflow"),
        ("/api/v1/tasks", "workflow"),
        ("/api/v1/workers", "workflow"),
        ("/api/v1/schedules/nightly", "workflow"),
        ("/api/v1/namespaces/main", "workflow"),
        ("/api/v1/queues/default", "workflow"),
        ("/api/v1/auth/whoami", "auth"),
        ("/.well-known/openid-configuration", "auth"),
        ("/.well-known/jwks.json", "auth"),
        ("/oauth2/token", "auth"),
        ("/api/v1/vault/sys/status", "vault"),
        ("/v1/secret/data/app", "vault"),
        ("/", "dashboard"),
        ("/login", "dashboard"),
        ("/static/dashboard.css", "dashboard"),
        ("/.well-known/security.txt", "dashboard"),
    ],
)
def test_each_public_path_goes_to_its_service(path: str, service: str) -> None:
    assert service_for(path) == service


@pytest.mark.parametrize("path", ["/api", "/api/v2/workflows", "/api/v1/workflowsX", "/api/v1/vaults"])
def test_unknown_api_paths_go_nowhere(path: str) -> None:
    assert service_for(path) is None


def test_dot_segments_are_refused() -> None:
    with pytest.raises(InvalidPath):
        service_for("/api/v1/namespaces/../../v1/secret")


async def test_unknown_api_route_is_a_problem_404(stack: Stack) -> None:
    response = await stack.client.get("/api/v1/no-such-thing", params={"q": "1"})

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    problem = response.json()
    assert problem["code"] == "no_such_route"
    assert problem["instance"] == "/api/v1/no-such-thing"


async def test_encoded_dot_segments_are_a_problem_400(stack: Stack) -> None:
    response = await stack.client.get("/api/v1/namespaces/%2e%2e/%2e%2e/v1/sys/health")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_path"


async def test_requests_reach_the_routed_service(stack: Stack, unique: str) -> None:
    created = await stack.client.post("/api/v1/namespaces", json={"name": unique, "description": "routing"})
    # The creator's permission on the new namespace shows at once with the revision that grants it.
    consistency = {CONSISTENCY_HEADER: created.headers.get(CONSISTENCY_HEADER, "")}
    fetched = await stack.client.get(f"/api/v1/namespaces/{unique}", headers=consistency)
    page = await stack.client.get("/")

    assert created.status_code == 201
    assert fetched.json()["description"] == "routing"
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("workflow", "/api/v1/namespaces"),
        ("dashboard", "/"),
        ("dashboard", "/static/status.js"),
    ],
)
async def test_a_service_called_without_the_internal_token_answers_401(
    stack: Stack, service: str, path: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.platform.service_url(service)) as direct:
        response = await direct.get(path)

    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("method", "path", "row"),
    [
        ("DELETE", "/api/v1/auth/api-keys/self", "/api/v1/auth/api-keys/self"),  # fixed wins
        ("DELETE", "/api/v1/auth/api-keys/k1", "/api/v1/auth/api-keys/{key_id}"),
        ("HEAD", "/api/v1/workflows/wf-1", "/api/v1/workflows/{workflow_id}"),  # HEAD is GET
        ("POST", "/internal/v1/bootstrap", "/internal/v1/bootstrap"),
    ],
)
def test_a_request_falls_under_its_row(method: str, path: str, row: str) -> None:
    found = route_for(method, path)

    assert found is not None and found[0].path == row


def test_pages_have_no_row_and_what_else_has_none_is_no_route() -> None:
    assert route_for("GET", "/account/password") is None
    assert route_for("POST", "/anything/at/all") is None  # the dashboard answers for its paths
    for method, path in [
        ("PUT", "/api/v1/workflows"),
        ("GET", "/api/v1/nothing"),
        ("GET", "/v1/sys/nothing"),
    ]:
        with pytest.raises(NoSuchRoute):
            route_for(method, path)


@pytest.mark.parametrize(
    ("body", "namespace"),
    [
        (b'{"namespace": "payments"}', "payments"),
        (b"{}", "main"),
        (b"", "main"),
        (b"not json", "main"),
        (b'["payments"]', "main"),
        (b'{"namespace": 5}', "main"),
        (b'{"namespace": ""}', "main"),
        (b"[" * 100_000, "main"),
        ('{"namespace": "payments"}'.encode("utf-16"), "payments"),  # as the services read it
    ],
)
def test_a_body_row_names_the_namespace_of_the_body_or_its_default(body: bytes, namespace: str) -> None:
    found = route_for("POST", "/api/v1/workflows")
    assert found is not None

    assert needs_of(found[0], found[1], {}, body) == [Need("namespace", namespace, "operate")]


def test_an_empty_query_value_is_checked_on_the_default() -> None:
    found = route_for("GET", "/api/v1/workflows")
    assert found is not None

    assert needs_of(found[0], found[1], {"namespace": ""}, None) == [Need("namespace", "main", "view")]


REST_OF_PATH = RouteTable(
    (
        ("GET", "/v1/{mount}/data/{path:path}", "vault_mount:{path.mount}#read"),
        ("LIST", "/v1/{mount}/metadata/{path:path}", "vault_mount:{path.mount}#read"),
        ("GET", "/v1/{mount}/{rest:path}", "signed_in"),
        ("GET", "/v1/{mount}/config", "public"),
    )
)


@pytest.mark.parametrize(
    ("method", "path", "template", "params"),
    [
        ("GET", "/v1/kv/data/app", "/v1/{mount}/data/{path:path}", {"mount": "kv", "path": "app"}),
        ("GET", "/v1/kv/data/a/b/c", "/v1/{mount}/data/{path:path}", {"mount": "kv", "path": "a/b/c"}),
        ("GET", "/v1/kv/data/a/", "/v1/{mount}/data/{path:path}", {"mount": "kv", "path": "a/"}),
        ("HEAD", "/v1/kv/data/a/b", "/v1/{mount}/data/{path:path}", {"mount": "kv", "path": "a/b"}),
        ("LIST", "/v1/kv/metadata/a/b", "/v1/{mount}/metadata/{path:path}", {"mount": "kv", "path": "a/b"}),
        # a template of single segments is more specific than one of the rest of the path
        ("GET", "/v1/kv/config", "/v1/{mount}/config", {"mount": "kv"}),
        ("GET", "/v1/kv/anything/else", "/v1/{mount}/{rest:path}", {"mount": "kv", "rest": "anything/else"}),
    ],
)
def test_a_path_parameter_matches_the_rest_of_the_path(
    method: str, path: str, template: str, params: dict[str, str]
) -> None:
    found = REST_OF_PATH.match(method, path)

    assert found is not None
    assert (found[0].path, found[1]) == (template, params)


def test_a_path_parameter_needs_at_least_one_character_and_other_parameters_stay_one_segment() -> None:
    assert REST_OF_PATH.match("GET", "/v1/kv/data/") == (
        REST_OF_PATH.rows[2],
        {"mount": "kv", "rest": "data/"},
    )
    assert REST_OF_PATH.match("LIST", "/v1/kv/metadata/") is None
    assert REST_OF_PATH.match("LIST", "/v1/a/b/metadata/c") is None  # `{mount}` is one segment
    assert openapi_path("/v1/{mount}/data/{path:path}") == "/v1/{mount}/data/{path}"


def _tried_one_by_one(table: RouteTable, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    """The row the table's rules give, each template tried on its own in their order of precedence."""
    rows = [row for row in table.rows if row.method == method and "{" in row.path]
    for row in sorted(rows, key=lambda row: ":path}" in row.path):
        pattern = ""
        for part in re.split(r"(\{\w+(?::path)?\})", row.path):
            name, _, convertor = part.strip("{}").partition(":")
            literal = not part.startswith("{")
            pattern += re.escape(part) if literal else f"(?P<{name}>{'.+' if convertor else '[^/]+'})"
        if found := re.fullmatch(pattern, path):
            return row.path, found.groupdict()
    return None


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "LIST"])
def test_every_templated_row_is_found_as_if_each_template_were_tried_in_turn(method: str) -> None:
    table = RouteTable()
    paths = [
        re.sub(r"\{(\w+):path\}", r"\1/a/b", re.sub(r"\{(\w+)\}", r"x-\1", row.path))
        for row in table.rows
        if "{" in row.path
    ]
    fixed = {row.path for row in table.rows if row.method == method}
    for path in paths + [path + "/more" for path in paths]:
        if path in fixed:
            continue  # fixed rows win, as another test shows
        found = table.match(method, path)
        expected = _tried_one_by_one(table, method, path)
        assert (None if found is None else (found[0].path, found[1])) == expected, path
