"""One trace from the caller through the gateway and the service to the event on NATS and the logs."""

from __future__ import annotations

import json
import secrets

from tests.conftest import Stack
from tests.support import eventually, subject_messages


async def test_callers_trace_reaches_the_event_and_the_service_log(stack: Stack, unique: str) -> None:
    trace_id = secrets.token_hex(16)
    traceparent = f"00-{trace_id}-{secrets.token_hex(8)}-01"
    response = await stack.client.post(
        "/api/v1/namespaces", json={"name": unique}, headers={"traceparent": traceparent}
    )
    assert response.status_code == 201

    [message] = await subject_messages(
        stack.nats.url,
        stack.subjects.events_stream,
        stack.subjects.event("workflow", unique, "namespace_created"),
    )
    assert message.headers is not None and message.headers["traceparent"].split("-")[1] == trace_id
    assert json.loads(message.data or b"{}")["traceparent"].split("-")[1] == trace_id

    log_file = stack.platform.processes["workflow"].log_path

    async def logged() -> bool:
        for line in log_file.read_text().splitlines():
            if line.startswith("{") and (record := json.loads(line)).get("trace_id") == trace_id:
                return bool(record["logger"] == "assay.access" and record["status"] == 201)
        return False

    await eventually(logged, what="access log line carrying the caller's trace id")
