"""SpiceDB's validation files (`shared/conformance/spicedb`) and our own cases
(`tests/auth/permissions/cases`), loaded through the public HTTP API of the stack's auth service:
PUT the schema, POST the relationships, then ask every assertion over HTTP. Each file gets a
permission store of its own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from assay_auth.domain.permissions import ExpandNode, LookedUpSubject
from tests.auth.permissions.validation_files import (
    CASES,
    ValidationFile,
    load,
    looked_up_subject_text,
    without_spaces,
)
from tests.auth_api import AuthApi

SPICEDB = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "spicedb"
SPICEDB_FILES = sorted(SPICEDB.glob("*.yaml"))
CASE_FILES = sorted(CASES.glob("*.yaml"))


def store_for(unique: str, path: Path) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", f"{unique}-{path.stem.lower()}")[:63]


async def load_through_http(api: AuthApi, store: str, case: ValidationFile) -> str:
    """Load a file into its store; returns the zookie of the last write."""
    base = f"/api/v1/auth/permissions/stores/{store}"
    response = await api.call(
        "PUT", f"{base}/schema", content=case.schema, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 200, response.text
    zookie: str = response.json()["written_at"]
    texts = [str(r) for r in case.relationships]
    for start in range(0, len(texts), 1000):
        updates = [{"operation": "touch", "relationship": t} for t in texts[start : start + 1000]]
        response = await api.call("POST", f"{base}/relationships", json={"updates": updates})
        assert response.status_code == 200, response.text
        zookie = response.json()["written_at"]
    return zookie


async def ask(api: AuthApi, store: str, path: str, body: dict[str, Any], zookie: str) -> Any:
    body = {**body, "consistency": {"mode": "at_least_as_fresh", "zookie": zookie}}
    return await api.call("POST", f"/api/v1/auth/permissions/stores/{store}{path}", json=body)


async def assert_checks(api: AuthApi, store: str, case: ValidationFile, zookie: str) -> int:
    asked = 0
    for expected, assertions in ((True, case.assert_true), (False, case.assert_false)):
        for a in assertions:
            body = {"resource": str(a.resource), "permission": a.relation, "subject": str(a.subject)}
            response = await ask(api, store, "/check", body, zookie)
            assert response.status_code == 200, f"{a}: {response.text}"
            assert response.json()["allowed"] is expected, (
                f"{a} should be {'granted' if expected else 'denied'}"
            )
            asked += 1
    return asked


def test_the_conformance_files_are_there() -> None:
    assert len(SPICEDB_FILES) >= 20, SPICEDB
    assert CASE_FILES, CASES


@pytest.mark.parametrize("path", SPICEDB_FILES, ids=[p.name for p in SPICEDB_FILES])
async def test_spicedb_validation_file(auth_api: AuthApi, unique: str, path: Path) -> None:
    case = load(path)
    store = store_for(unique, path)
    zookie = await load_through_http(auth_api, store, case)
    assert await assert_checks(auth_api, store, case, zookie) == len(case.assert_true) + len(
        case.assert_false
    )
    # The same answers in one bulk check.
    items = [
        {"resource": str(a.resource), "permission": a.relation, "subject": str(a.subject)}
        for a in [*case.assert_true, *case.assert_false]
    ]
    if items:
        response = await ask(auth_api, store, "/check/bulk", {"items": items}, zookie)
        assert response.status_code == 200, response.text
        answers = [r["allowed"] for r in response.json()["results"]]
        assert answers == [True] * len(case.assert_true) + [False] * len(case.assert_false)


@pytest.mark.parametrize("path", CASE_FILES, ids=[p.name for p in CASE_FILES])
async def test_own_case_file(auth_api: AuthApi, unique: str, path: Path) -> None:
    case = load(path)
    store = store_for(unique, path)
    zookie = await load_through_http(auth_api, store, case)
    await assert_checks(auth_api, store, case, zookie)
    for a in case.depth_exceeded:
        body = {"resource": str(a.resource), "permission": a.relation, "subject": str(a.subject)}
        response = await ask(auth_api, store, "/check", body, zookie)
        assert response.status_code == 422, f"{a}: {response.text}"
        assert response.json()["code"] == "depth_exceeded"
    for (resource, permission), tree in case.expand.items():
        response = await ask(
            auth_api, store, "/expand", {"resource": str(resource), "permission": permission}, zookie
        )
        assert response.status_code == 200, response.text
        node = ExpandNode.from_dict(response.json()["tree"])
        assert without_spaces(node.compact()) == without_spaces(tree), f"expand {resource}#{permission}"
    for lookup in case.lookup_resources:
        body = {
            "resource_type": lookup.resource_type,
            "permission": lookup.permission,
            "subject": str(lookup.subject),
        }
        response = await ask(auth_api, store, "/lookup/resources", body, zookie)
        assert response.status_code == 200, response.text
        assert response.json()["resource_ids"] == lookup.expected, f"lookup resources {body}"
    for looked in case.lookup_subjects:
        subjects_body: dict[str, Any] = {
            "resource": str(looked.resource),
            "permission": looked.permission,
            "subject_type": looked.subject_type,
            "subject_relation": looked.subject_relation,
        }
        response = await ask(auth_api, store, "/lookup/subjects", subjects_body, zookie)
        assert response.status_code == 200, response.text
        found = [
            looked_up_subject_text(LookedUpSubject(s["id"], tuple(s["excluded_ids"])))
            for s in response.json()["subjects"]
        ]
        assert found == [without_spaces(e) for e in looked.expected], f"lookup subjects {subjects_body}"
