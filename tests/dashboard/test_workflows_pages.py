"""The workflow console's pages through the gateway: each answers an administrator with its
landmarks (the elements its script fills) and sends a visitor without a session to sign in."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import Stack

#: Each page (with a query that names its namespace) and what its HTML must hold.
LANDMARKS = {
    "/workflows?namespace=main&status=RUNNING&q=order": (
        'id="filters"',
        'id="start-form"',
        '<datalist id="queue-options">',
        'id="search_attributes"',
        'id="next-page"',
        'value="order"',
        "pages/workflows.js",
    ),
    "/workflows/order-7?namespace=main&tab=events": (
        'data-workflow-id="order-7"',
        'data-tab="events"',
        'id="run-actions"',
        "pages/workflows/detail.js",
    ),
    "/schedules?namespace=main": (
        'id="new-schedule"',
        'id="schedule-detail"',
        "pages/workflows/schedules.js",
    ),
    "/workers?namespace=main": ('id="namespace"', "pages/workflows/workers.js"),
    "/queues?namespace=main": ('id="backlog"', "pages/workflows/queues.js"),
    "/namespaces": ('id="new-namespace"', "pages/workflows/namespaces.js"),
    "/settings": ('id="platform-version"', 'href="/api/v1/events/asyncapi.json"', "pages/settings.js"),
}


@pytest.mark.parametrize("address", LANDMARKS)
async def test_an_administrator_opens_the_page_with_its_landmarks(stack: Stack, address: str) -> None:
    response = await stack.client.get(address)

    assert response.status_code == 200, response.text
    assert '<main id="main"' in response.text and 'id="page-root"' in response.text
    for landmark in LANDMARKS[address]:
        assert landmark in response.text, landmark


@pytest.mark.parametrize("address", LANDMARKS)
async def test_a_visitor_without_a_session_is_sent_to_sign_in(
    anonymous: httpx.AsyncClient, address: str
) -> None:
    response = await anonymous.get(address)

    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["return_to"] == [address]


async def test_the_detail_page_escapes_the_workflow_id(stack: Stack) -> None:
    response = await stack.client.get("/workflows/%22%3E%3Cimg%3E", params={"namespace": "main"})

    assert response.status_code == 200
    assert "<img>" not in response.text
    assert 'data-workflow-id="&#34;&gt;&lt;img&gt;"' in response.text
