"""Fixtures of the workflow tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from assay_common.internal_auth import InternalTokenMinter, load_private_key
from tests.auth_api import AuthApi
from tests.conftest import Stack


@pytest.fixture(scope="session")
async def workflow_api(stack: Stack) -> AsyncIterator[AuthApi]:
    """The workflow service of the stack, called directly (as the gateway does) with an internal
    token for whichever principal a test chooses (by default another Assay service, which passes
    every permission check)."""
    key = load_private_key((stack.platform.data_dir / "internal.key").read_bytes())
    api = AuthApi(stack.platform.service_url("workflow"), InternalTokenMinter(key), audience="workflow")
    yield api
    await api.client.aclose()
