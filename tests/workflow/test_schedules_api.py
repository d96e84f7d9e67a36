"""Schedules over HTTP through the gateway, in real time: a schedule fires on its own and its
workflow completes with a real worker; validation answers 422 with the reason; the API's
operations and the events they publish."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.conftest import Stack
from tests.support import eventually, subject_messages
from tests.workflow.worker import RawWorker, create_namespace, describe

PATH = "/api/v1/schedules"


def body(namespace: str, schedule_id: str, expression: str, **more: object) -> dict[str, object]:
    return {
        "schedule_id": schedule_id,
        "namespace": namespace,
        "workflow_type": "greet",
        "expression": expression,
        "input": {"name": "ada"},
        **more,
    }


async def test_a_schedule_fires_on_its_own_and_its_workflow_completes(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    worker = await RawWorker(stack.client, ns, ["greet"]).register()
    made = await stack.client.post(PATH, json=body(ns, "every-second", "@every 1s"))
    assert made.status_code == 201, made.text
    task = await worker.task(wait=20)
    assert task["history"][0]["attributes"]["input"] == {"name": "ada"}
    await worker.complete(task["task_token"], [{"type": "complete_workflow", "result": "hi ada"}])
    paused = await stack.client.post(
        f"{PATH}/every-second/pause", params={"namespace": ns}, json={"note": "done"}
    )
    assert (paused.status_code, paused.json()["paused"]) == (200, True)

    described = (await stack.client.get(f"{PATH}/every-second", params={"namespace": ns})).json()
    started = [fire for fire in described["recent_fires"] if fire["outcome"] == "started"]
    assert task["workflow_id"] in [fire["workflow_id"] for fire in started]
    run = await describe(stack.client, ns, task["workflow_id"])
    assert (run["status"], run["result"]) == ("COMPLETED", "hi ada")
    assert run["search_attributes"]["AssayScheduleId"] == "every-second"
    assert (described["note"], described["upcoming"], described["next_run_at"]) == ("done", [], None)

    subject = stack.subjects.event("workflow", ns, "schedule_fired")

    async def published() -> bool:
        return bool(await subject_messages(stack.nats.url, stack.subjects.events_stream, subject))

    await eventually(published, what="schedule_fired on the stream")
    first = (await subject_messages(stack.nats.url, stack.subjects.events_stream, subject))[0]
    assert first.data is not None
    data = json.loads(first.data)["data"]
    assert (data["schedule_id"], data["trigger"], data["outcome"]) == ("every-second", "scheduled", "started")

    assert (await stack.client.delete(f"{PATH}/every-second", params={"namespace": ns})).status_code == 204
    gone = await stack.client.get(f"{PATH}/every-second", params={"namespace": ns})
    assert (gone.status_code, gone.json()["code"]) == (404, "schedule_not_found")


async def test_bad_schedules_are_refused_with_the_reason_and_change_nothing(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    for expression, reason in (("0 25 * * *", "hour"), ("* * *", "field"), ("@every 0s", "every")):
        refused = await stack.client.post(PATH, json=body(ns, "bad", expression))
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert reason in refused.json()["detail"], refused.json()
    zone = await stack.client.post(PATH, json=body(ns, "bad", "@daily", timezone="Mars/Olympus"))
    assert (zone.status_code, zone.json()["code"]) == (422, "invalid_schedule")
    policy = await stack.client.post(PATH, json=body(ns, "bad", "@daily", overlap_policy="sometimes"))
    assert policy.status_code == 422
    missing = await stack.client.post(PATH, json=body(f"{ns}-nowhere", "bad", "@daily"))
    assert missing.status_code == 404
    listed = await stack.client.get(PATH, params={"namespace": ns})
    assert listed.json() == {"items": [], "next_cursor": None}

    assert (await stack.client.post(PATH, json=body(ns, "good", "@daily"))).status_code == 201
    again = await stack.client.post(PATH, json=body(ns, "good", "@hourly"))
    assert (again.status_code, again.json()["code"]) == (409, "schedule_exists")
    bad_patch = await stack.client.patch(
        f"{PATH}/good", params={"namespace": ns}, json={"expression": "61 * * * *"}
    )
    assert bad_patch.status_code == 422
    kept = await stack.client.get(f"{PATH}/good", params={"namespace": ns})
    assert kept.json()["expression"] == "@daily"


async def test_patch_resume_trigger_and_backfill(stack: Stack, unique: str) -> None:
    ns = await create_namespace(stack.client, unique)
    created = await stack.client.post(
        PATH, json=body(ns, "nightly", "0 2 * * *", timezone="Europe/Berlin", overlap_policy="allow_all")
    )
    assert created.status_code == 201, created.text
    next_run = datetime.fromisoformat(created.json()["next_run_at"])
    assert next_run.astimezone(UTC).hour in (0, 1), "02:00 in Berlin is 00:00 or 01:00 UTC"

    patched = await stack.client.patch(
        f"{PATH}/nightly", params={"namespace": ns}, json={"expression": "30 3 * * *", "note": "later"}
    )
    assert (patched.status_code, patched.json()["note"]) == (200, "later")
    assert datetime.fromisoformat(patched.json()["next_run_at"]).minute == 30

    trigger = await stack.client.post(f"{PATH}/nightly/trigger", params={"namespace": ns})
    assert (trigger.status_code, trigger.json()["trigger"], trigger.json()["outcome"]) == (
        200,
        "trigger",
        "started",
    )
    run = await describe(stack.client, ns, trigger.json()["workflow_id"])
    assert run["status"] == "RUNNING"

    end = datetime.now(UTC).replace(microsecond=0)
    backfill = await stack.client.post(
        f"{PATH}/nightly/backfill",
        params={"namespace": ns},
        json={"start_at": (end - timedelta(days=3)).isoformat(), "end_at": end.isoformat()},
    )
    assert backfill.status_code == 200, backfill.text
    fires = backfill.json()["fires"]
    assert len(fires) == 3 and {fire["outcome"] for fire in fires} == {"started"}
    naive = await stack.client.post(
        f"{PATH}/nightly/backfill",
        params={"namespace": ns},
        json={"start_at": "2027-01-01T00:00:00", "end_at": "2027-01-02T00:00:00"},
    )
    assert naive.status_code == 422, "times without a zone are refused"

    await stack.client.post(f"{PATH}/nightly/pause", params={"namespace": ns})
    resumed = await stack.client.post(
        f"{PATH}/nightly/resume", params={"namespace": ns}, json={"note": "back"}
    )
    assert (resumed.json()["paused"], resumed.json()["note"]) == (False, "back")
    assert resumed.json()["next_run_at"] is not None
    page = (await stack.client.get(PATH, params={"namespace": ns, "limit": 1})).json()
    assert [item["schedule_id"] for item in page["items"]] == ["nightly"] and page["next_cursor"] is None


async def test_times_come_back_in_utc_and_a_pause_without_a_note_keeps_the_note(
    stack: Stack, unique: str
) -> None:
    ns = await create_namespace(stack.client, unique)
    made = await stack.client.post(
        PATH, json=body(ns, "noted", "@hourly", note="owned by finance", end_at="2030-02-01T00:00:00+01:00")
    )
    assert made.status_code == 201, made.text
    described = (await stack.client.get(f"{PATH}/noted", params={"namespace": ns})).json()
    assert made.json()["end_at"] == described["end_at"]
    assert datetime.fromisoformat(described["end_at"]) == datetime(2030, 1, 31, 23, tzinfo=UTC)
    assert datetime.fromisoformat(described["end_at"]).utcoffset() == timedelta(0)
    paused = await stack.client.post(f"{PATH}/noted/pause", params={"namespace": ns})
    assert (paused.json()["paused"], paused.json()["note"]) == (True, "owned by finance")
    resumed = await stack.client.post(f"{PATH}/noted/resume", params={"namespace": ns}, json={"note": "back"})
    assert resumed.json()["note"] == "back"
