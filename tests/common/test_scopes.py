"""Which permissions a credential's scopes cover (`assay_common.permission_checks`)."""

from __future__ import annotations

import pytest

from assay_common.internal_auth import Principal
from assay_common.permission_checks import (
    Need,
    limited_by_scopes,
    namespace,
    platform,
    platform_role_reaching,
    scope_covers,
    vault_mount,
)


@pytest.mark.parametrize(
    ("scope", "need", "covered"),
    [
        ("admin", platform("administer"), True),
        ("admin", namespace("a", "operate"), True),
        ("admin", vault_mount("kv", "read"), True),
        ("namespace:a#operate", namespace("a", "operate"), True),
        ("namespace:a#operate", namespace("a", "work"), True),
        ("namespace:a#operate", namespace("a", "view"), True),
        ("namespace:a#operate", namespace("a", "administer"), False),
        ("namespace:a#operate", namespace("b", "view"), False),
        ("namespace:a#work", namespace("a", "view"), True),
        ("namespace:a#view", namespace("a", "work"), False),
        ("namespace:*#view", namespace("b", "view"), True),
        ("platform:assay#operate", namespace("b", "operate"), True),
        ("platform:assay#operate", platform("view"), True),
        ("platform:assay#operate", platform("administer"), False),
        ("platform:assay#operate", vault_mount("kv", "read"), False),
        ("platform:assay#view", namespace("b", "view"), True),
        ("platform:assay#view", namespace("b", "work"), False),
        ("vault_mount:kv#write", vault_mount("kv", "read"), True),
        ("vault_mount:kv#read", vault_mount("kv", "write"), False),
        ("group:x#member", Need("group", "x", "member"), True),
        ("nonsense", platform("view"), False),
        ("*", platform("administer"), True),
        ("*", Need("group", "x", "member"), True),
    ],
)
def test_a_scope_covers_its_permission_and_weaker_ones(scope: str, need: Need, covered: bool) -> None:
    assert scope_covers(scope, need) is covered


def test_only_narrowed_users_and_keys_are_limited_by_scopes() -> None:
    assert not limited_by_scopes(Principal(id="u", kind="user"))
    assert not limited_by_scopes(Principal(id="u", kind="user", scopes=("admin",)))
    assert limited_by_scopes(Principal(id="u", kind="user", scopes=("namespace:a#view",)))
    assert limited_by_scopes(Principal(id="u", kind="api_key"))
    assert limited_by_scopes(Principal(id="u", kind="biscuit"))


@pytest.mark.parametrize(
    ("need", "role"),
    [
        (namespace("a", "view"), platform("view")),
        (namespace("a", "work"), platform("operate")),
        (namespace("a", "operate"), platform("operate")),
        (namespace("a", "administer"), platform("administer")),
        (vault_mount("kv", "read"), platform("administer")),
        (Need("api_key", "k", "manage"), platform("administer")),
        (platform("view"), None),
        (Need("group", "x", "member"), None),
    ],
)
def test_the_platform_role_reaching_an_object_is_the_weakest_one_whose_arrow_does(
    need: Need, role: Need | None
) -> None:
    assert platform_role_reaching(need) == role


def test_a_key_with_every_scope_is_held_only_to_its_owner() -> None:
    assert not limited_by_scopes(Principal(id="u", kind="user", scopes=("*",)))
