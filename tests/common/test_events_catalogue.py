"""The events catalogue: a valid AsyncAPI 3.0 document, and docs/events.md generated from it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic_asyncapi.v3 import AsyncAPI

from assay_common.db import utcnow
from assay_common.events.asyncapi import build_document, render_markdown
from assay_common.events.envelope import CATALOGUE, CloudEvent
from assay_common.events.schemas.workflow import NamespaceCreated

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def test_document_is_valid_asyncapi_3() -> None:
    document = build_document("1.2.3")
    parsed = AsyncAPI.model_validate(document)
    assert parsed.asyncapi == "3.0.0"
    assert parsed.info.version == "1.2.3"


def test_every_reference_in_the_document_resolves() -> None:
    document = build_document("0.1.0")
    references = refs(document)
    assert references
    for ref in references:
        assert resolve(document, ref) is not None, ref


def test_every_registered_event_type_has_a_channel_and_a_receive_operation() -> None:
    document = build_document("0.1.0")
    addresses = {channel["address"] for channel in document["channels"].values()}
    for type_name, model in CATALOGUE.items():
        if model.event_audit:
            assert f"audit.{model.event_service}.{model.event_name}" in addresses, type_name
        else:
            assert f"assay.{model.event_service}.{{namespace}}.{model.event_name}" in addresses, type_name
    assert {op["action"] for op in document["operations"].values()} == {"receive"}
    assert len(document["operations"]) == len(CATALOGUE)


def test_namespace_events_are_in_the_catalogue() -> None:
    messages = {m["name"] for m in build_document("0.1.0")["components"]["messages"].values()}
    assert {"assay.workflow.namespace_created", "assay.workflow.namespace_deleted"} <= messages


def test_docs_page_is_generated_from_the_code() -> None:
    assert DOCS.read_text() == render_markdown(build_document("0.1.0")), (
        "docs/events.md is stale: run `python -m assay_common.events.asyncapi --markdown > docs/events.md`"
    )


def test_cloud_event_round_trips_through_json() -> None:
    payload = NamespaceCreated(namespace="n", description="d", created_at=utcnow())
    event = CloudEvent(
        id="1",
        source="/assay/workflow",
        type=NamespaceCreated.type_name(),
        time=payload.created_at,
        data=payload.model_dump(mode="json"),
        namespace="n",
    )
    again = CloudEvent.from_json(event.to_json())
    assert again == event
    assert (again.service, again.short_type) == ("workflow", "namespace_created")
