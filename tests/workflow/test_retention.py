"""Retention of closed runs, on SQLite and on Postgres, against a real S3-compatible server (moto's,
on loopback): runs past their namespace's retention are archived, then purged, in bounded
batches and exactly once however many replicas sweep; a failed upload purges nothing and is
tried again after its pause; without archival runs are purged directly. Through the running
stack: a purged run still answers GET with its archive's URI, its history answers 410, and the
archive route and `assay workflow describe --archived` read the archive back."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from assay_common.db import Database, utcnow
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.errors import WorkflowNotRetryable
from assay_workflow.domain.namespaces import Namespaces
from assay_workflow.domain.operator import Operator
from assay_workflow.domain.retention import Retention, RetentionKeeper, WorkflowHistoryPurged
from assay_workflow.domain.workflows import StartRequest, Workflows
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import retention as retention_store
from assay_workflow.store import runs as run_store
from assay_workflow.store import tables
from assay_workflow.store.retention import PurgeMark
from assay_workflow.store.rows import Json, RunRow
from tests.conftest import NatsServer, Stack
from tests.sdk.conftest import Cli
from tests.support import eventually
from tests.workflow.engines import engine_on
from tests.workflow.s3_server import AWS_ENV, BUCKET, S3Server, running_s3_server
from tests.workflow.test_store_inventory import Flow, schedule, signal

RETRY_SECONDS = 60.0


@pytest.fixture
async def s3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[S3Server]:
    async with running_s3_server(tmp_path, monkeypatch) as server:
        yield server


def archiving(s3: S3Server, **overrides: Any) -> WorkflowSettings:
    return WorkflowSettings(
        archive_s3_bucket=BUCKET,
        archive_s3_endpoint_url=s3.url,
        archive_retry_seconds=RETRY_SECONDS,
        **overrides,
    )


@pytest.fixture
async def engine(
    database_url: str, unique: str, nats_server: NatsServer, s3: S3Server
) -> AsyncIterator[Engine]:
    """An engine that archives to the S3 server, claiming two runs at a time."""
    async with engine_on(
        database_url, unique, nats_server.url, archiving(s3, retention_batch_size=2)
    ) as engine:
        yield engine


@dataclass
class Clock:
    """The retention keeper's time, moved by the test."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


async def backdate(engine: Engine, run_id: uuid.UUID, days: float) -> None:
    """Make the run look closed `days` ago."""
    async with engine.db.transaction() as tx:
        await run_store.update(tx.conn, run_id, closed_at=utcnow() - timedelta(days=days))


async def closed_run(engine: Engine, workflow_id: str, days_ago: float, namespace: str = "main") -> RunRow:
    """A run that started, received a signal and was terminated `days_ago`."""
    workflows = Workflows(engine)
    request = StartRequest(namespace, workflow_id, "greet", "main", {"n": 1}, {}, "allow_duplicate", None)
    run = await workflows.start(request)
    await workflows.signal(namespace, workflow_id, None, "go", {"fast": True})
    await workflows.terminate(namespace, workflow_id, None, "done with it")
    await backdate(engine, run.run_id, days_ago)
    return await engine.read_run(namespace, workflow_id, run.run_id)


async def completed_order(engine: Engine, days_ago: float) -> RunRow:
    """A run with all a run can have: an activity, a timer, a signal, query state, a result."""
    flow = await Flow.register(engine, activity_names=("charge",))
    run = await flow.start("order", input={"sku": 7})
    scheduled = await flow.next(
        schedule(1, "charge", input={"amount": 12}, start_to_close_timeout=30),
        {"type": "start_timer", "timer_seq": 1, "seconds": 3600},
        {"type": "record_query_state", "state": {"stage": "charging"}},
    )
    # The activity comes back with the completion (eager dispatch).
    (activity,) = scheduled.activity_tasks
    await signal(engine, "order", payload={"rush": True})
    assert await flow.finish(activity, {"charged": 12}) == "ok"
    await flow.next({"type": "complete_workflow", "result": "shipped"})
    await backdate(engine, run.run_id, days_ago)
    return await engine.read_run("main", "order", run.run_id)


async def stored_rows(engine: Engine, run_id: uuid.UUID) -> dict[str, int]:
    """How many rows of each table besides `runs` the run has."""
    async with engine.db.read() as conn:
        return {
            table.name: (
                await conn.execute(sa.select(sa.func.count()).where(table.c.run_id == run_id))
            ).scalar_one()
            for table in retention_store.RUN_DATA
        }


async def marks(engine: Engine, *runs: RunRow) -> dict[uuid.UUID, PurgeMark]:
    async with engine.db.read() as conn:
        return await retention_store.purge_marks(conn, [run.run_id for run in runs])


async def claims(engine: Engine, *runs: RunRow) -> dict[uuid.UUID, tuple[bool, datetime | None, int]]:
    """Per run: whether a claim token is on it, until when it is held, its failed uploads."""
    query = sa.select(
        tables.runs.c.run_id,
        tables.runs.c.retention_claim_token,
        tables.runs.c.retention_claim_expires_at,
        tables.runs.c.archive_failures,
    ).where(tables.runs.c.run_id.in_([run.run_id for run in runs]))
    async with engine.db.read() as conn:
        rows = (await conn.execute(query)).all()
    return {row[0]: (row[1] is not None, row[2], row[3]) for row in rows}


async def purge_events(engine: Engine) -> dict[str, Json]:
    """The `workflow_purged` events in the outbox, by workflow id."""
    async with engine.db.read() as conn:
        bodies = (await conn.execute(sa.select(tables.outbox.c.body))).scalars().all()
    events = [json.loads(body) for body in bodies]
    return {e["data"]["workflow_id"]: e["data"] for e in events if e["type"].endswith(".workflow_purged")}


def key_of(run: RunRow) -> str:
    return f"assay/{run.namespace}/{run.workflow_id}/{run.run_id}.json"


async def test_runs_past_their_namespace_retention_are_archived_then_purged(
    engine: Engine, s3: S3Server
) -> None:
    await s3.create_bucket()
    await Namespaces(engine.db, engine.outbox).create("short", "", retention_days=7)
    order = await completed_order(engine, days_ago=40)
    old = [await closed_run(engine, f"old-{days}", days) for days in (31, 35)]
    short = await closed_run(engine, "short-lived", 10, namespace="short")
    recent = await closed_run(engine, "recent", 10)
    open_run = await Workflows(engine).start(
        StartRequest("main", "open", "greet", "main", None, {}, "allow_duplicate", None)
    )
    async with engine.db.read() as conn:
        history = await run_store.events(conn, order.run_id)

    # Two at a time: the three due runs of `main` take two batches, `short`'s a third.
    assert await RetentionKeeper(engine).sweep() == 4

    archived = await s3.object(key_of(order))
    assert archived["format_version"] == 1
    assert archived["run"]["run_id"] == str(order.run_id)
    assert (archived["run"]["status"], archived["run"]["input"], archived["run"]["result"]) == (
        "COMPLETED",
        {"sku": 7},
        "shipped",
    )
    assert [(e["seq"], e["type"], e["attributes"]) for e in archived["history"]] == [
        (e.seq, e.type, e.attributes) for e in history
    ]
    assert "SignalReceived" in [e["type"] for e in archived["history"]]
    (activity,) = archived["activities"]
    assert (activity["name"], activity["input"], activity["status"], activity["result"]) == (
        "charge",
        {"amount": 12},
        "COMPLETED",
        {"charged": 12},
    )
    assert [(t["timer_seq"], t["status"]) for t in archived["timers"]] == [(1, "CANCELLED")]
    assert archived["query_state"]["state"] == {"stage": "charging"}
    assert [e["type"] for e in (await s3.object(key_of(short)))["history"]] == [
        "WorkflowStarted",
        "SignalReceived",
        "WorkflowTerminated",
    ]

    purged = await marks(engine, order, *old, short, recent, open_run)
    assert set(purged) == {order.run_id, *(r.run_id for r in old), short.run_id}
    for run in (order, *old, short):
        assert purged[run.run_id].archive_uri == f"s3://{BUCKET}/{key_of(run)}"
        assert await stored_rows(engine, run.run_id) == {
            "history": 0,
            "activities": 0,
            "timers": 0,
            "query_state": 0,
        }
        # The stub still describes the run.
        assert (await engine.read_run(run.namespace, run.workflow_id, run.run_id)).status == run.status
    assert (await stored_rows(engine, recent.run_id))["history"] == 3
    assert (await stored_rows(engine, open_run.run_id))["history"] == 1
    events = await purge_events(engine)
    assert set(events) == {"order", "old-31", "old-35", "short-lived"}
    assert events["order"]["archive_uri"] == purged[order.run_id].archive_uri
    assert await RetentionKeeper(engine).sweep() == 0


async def test_a_failed_upload_purges_nothing_and_is_tried_again_after_its_pause(
    engine: Engine, s3: S3Server
) -> None:
    runs = [await closed_run(engine, f"due-{days}", days) for days in (33, 32, 31)]
    clock = Clock(utcnow())
    keeper = RetentionKeeper(engine, clock=clock)

    # The server is down: the oldest run's upload fails and the pass ends there; the other run
    # of its batch is given back at once, and the third was never claimed.
    await s3.stop()
    assert await keeper.sweep() == 0
    assert await marks(engine, *runs) == {}
    assert [(await stored_rows(engine, run.run_id))["history"] for run in runs] == [3, 3, 3]
    assert await claims(engine, *runs) == {
        runs[0].run_id: (False, clock.now + timedelta(seconds=RETRY_SECONDS), 1),
        runs[1].run_id: (False, None, 0),
        runs[2].run_id: (False, None, 0),
    }

    # Back, but the bucket is missing: the next run's upload fails in turn.
    await s3.start()
    assert await keeper.sweep() == 0
    assert (await claims(engine, runs[1]))[runs[1].run_id][2] == 1
    assert await marks(engine, *runs) == {}

    await s3.create_bucket()
    # Only the run never tried is taken; the others wait out their pause.
    assert await keeper.sweep() == 1
    assert set(await marks(engine, *runs)) == {runs[2].run_id}
    clock.advance(RETRY_SECONDS)
    assert await keeper.sweep() == 2
    assert set(await marks(engine, *runs)) == {run.run_id for run in runs}
    for run in runs:
        assert (await s3.object(key_of(run)))["run"]["workflow_id"] == run.workflow_id


async def test_the_pause_after_failed_uploads_doubles(engine: Engine, s3: S3Server) -> None:
    run = await closed_run(engine, "unlucky", 40)
    clock = Clock(utcnow())
    keeper = RetentionKeeper(engine, clock=clock)

    for failures, pause in ((1, RETRY_SECONDS), (2, 2 * RETRY_SECONDS), (3, 4 * RETRY_SECONDS)):
        assert await keeper.sweep() == 0  # no bucket
        assert (await claims(engine, run))[run.run_id] == (
            False,
            clock.now + timedelta(seconds=pause),
            failures,
        )
        clock.advance(pause)

    await s3.create_bucket()
    assert await keeper.sweep() == 1


async def test_two_replicas_archive_and_purge_each_run_exactly_once(
    engine: Engine, database_url: str, unique: str, nats_server: NatsServer, s3: S3Server
) -> None:
    await s3.create_bucket(versioned=True)
    runs = [await closed_run(engine, f"run-{i}", 31 + i) for i in range(8)]

    async with engine_on(
        database_url, unique, nats_server.url, archiving(s3, retention_batch_size=2)
    ) as other:
        purged = await asyncio.gather(RetentionKeeper(engine).sweep(), RetentionKeeper(other).sweep())

    assert sum(purged) == 8
    assert await s3.versions() == {key_of(run): 1 for run in runs}
    assert len(await purge_events(engine)) == 8


async def test_a_replica_whose_claim_was_taken_over_purges_nothing(engine: Engine, s3: S3Server) -> None:
    await s3.create_bucket()
    run = await closed_run(engine, "stalled", 40)
    now = utcnow()
    stalled_token = uuid.uuid4()
    # A replica claims the run for a minute, then stalls (its upload hangs).
    async with engine.db.transaction() as tx:
        (claimed,) = await retention_store.claim_due(
            tx.conn,
            namespace="main",
            closed_before=now,
            now=now,
            token=stalled_token,
            claim_expires_at=now + timedelta(minutes=1),
            limit=10,
        )
    assert claimed.run.run_id == run.run_id

    # While its claim holds, no other replica touches the run; once it has expired one does.
    assert await RetentionKeeper(engine, clock=lambda: now).sweep() == 0
    assert await RetentionKeeper(engine, clock=lambda: now + timedelta(minutes=2)).sweep() == 1

    async with engine.db.transaction() as tx:
        late = await retention_store.purge(
            tx.conn, run.run_id, token=stalled_token, now=utcnow(), archive_uri="s3://elsewhere/x.json"
        )
    assert late is None
    assert (await marks(engine, run))[run.run_id].archive_uri == f"s3://{BUCKET}/{key_of(run)}"


async def test_without_archival_closed_runs_are_purged_directly(
    database_url: str, unique: str, nats_server: NatsServer
) -> None:
    async with engine_on(database_url, unique, nats_server.url, WorkflowSettings()) as engine:
        run = await closed_run(engine, "forgotten", 31)
        kept = await closed_run(engine, "kept", 29)

        assert await RetentionKeeper(engine).sweep() == 1

        (mark,) = (await marks(engine, run, kept)).values()
        assert (mark.run_id, mark.archive_uri) == (run.run_id, None)
        assert (await stored_rows(engine, run.run_id))["history"] == 0
        assert (await purge_events(engine))["forgotten"]["archive_uri"] is None
        retention = Retention(engine)
        with pytest.raises(WorkflowHistoryPurged) as purged:
            await retention.refuse_if_purged(run, "history")
        assert purged.value.extensions["archive_uri"] is None
        with pytest.raises(WorkflowHistoryPurged):
            await retention.archive("main", "forgotten", None)
        await retention.refuse_if_purged(kept, "history")


async def test_the_runs_of_a_deleted_namespace_are_purged_after_the_default_retention(
    database_url: str, unique: str, nats_server: NatsServer
) -> None:
    async with engine_on(database_url, unique, nats_server.url, WorkflowSettings()) as engine:
        namespaces = Namespaces(engine.db, engine.outbox)
        await namespaces.create("doomed", "", retention_days=365)
        old = await closed_run(engine, "old", 31, namespace="doomed")
        recent = await closed_run(engine, "recent", 29, namespace="doomed")
        await namespaces.delete("doomed")

        assert await RetentionKeeper(engine).sweep() == 1

        assert list(await marks(engine, old, recent)) == [old.run_id]


async def test_a_purged_failed_run_cannot_be_retried_and_says_why(
    database_url: str, unique: str, nats_server: NatsServer
) -> None:
    async with engine_on(database_url, unique, nats_server.url, WorkflowSettings()) as engine:
        run = await closed_run(engine, "failed-long-ago", 31)
        async with engine.db.transaction() as tx:
            await run_store.update(tx.conn, run.run_id, status="FAILED")
        assert await RetentionKeeper(engine).sweep() == 1
        with pytest.raises(WorkflowNotRetryable, match="purged"):
            await Operator(engine).retry("main", "failed-long-ago", None, "ada", "again")


async def test_a_stopping_keeper_hands_its_claims_back_at_once(
    database_url: str, unique: str, nats_server: NatsServer, s3: S3Server
) -> None:
    # An "S3 server" that takes connections and never answers: the upload hangs.
    held: list[asyncio.StreamWriter] = []

    async def hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    silent = await asyncio.start_server(hold, "127.0.0.1", 0)
    endpoint = f"http://127.0.0.1:{silent.sockets[0].getsockname()[1]}"
    settings = WorkflowSettings(
        archive_s3_bucket=BUCKET, archive_s3_endpoint_url=endpoint, retention_batch_size=2
    )
    try:
        async with engine_on(database_url, unique, nats_server.url, settings) as engine:
            runs = [await closed_run(engine, f"old-{n}", 31) for n in range(2)]
            sweeping = asyncio.create_task(RetentionKeeper(engine).sweep())

            async def uploading() -> bool:
                return bool(held)

            await eventually(uploading, what="an upload waiting for its answer")
            sweeping.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sweeping
            assert [claimed for claimed, _, _ in (await claims(engine, *runs)).values()] == [False, False]
            assert await marks(engine, *runs) == {}
    finally:
        for writer in held:
            writer.close()
        silent.close()
        await silent.wait_closed()


async def test_the_keeper_loop_sweeps_and_stops_when_cancelled(engine: Engine, s3: S3Server) -> None:
    await s3.create_bucket()
    run = await closed_run(engine, "swept", 40)
    keeper = asyncio.create_task(RetentionKeeper(engine).run())

    async def purged() -> bool:
        return bool(await marks(engine, run))

    try:
        await eventually(purged, what="the loop's first pass")
    finally:
        keeper.cancel()
    # It is sleeping between passes now (300 s by default), and ends at once.
    with pytest.raises(asyncio.CancelledError):
        await keeper


# ---- through the running stack ------------------------------------------------------------------


def stack_workflow_db(stack: Stack) -> Database:
    """The database of the stack's workflow service."""
    if stack.database_url:
        return Database(stack.database_url, schema="workflow")
    return Database(f"sqlite:///{stack.platform.data_dir / 'workflow.db'}")


@pytest.fixture
async def archiving_stack(stack: Stack, s3: S3Server) -> AsyncIterator[Stack]:
    """The stack, its workflow service archiving to the S3 server and sweeping often; restarted
    as it was afterwards."""
    await s3.create_bucket()
    settings = {
        "ASSAY_WORKFLOW_ARCHIVE_S3_BUCKET": BUCKET,
        "ASSAY_WORKFLOW_ARCHIVE_S3_ENDPOINT_URL": s3.url,
        "ASSAY_WORKFLOW_RETENTION_SWEEP_SECONDS": "0.1",
    }
    await stack.platform.stop_service("workflow")
    try:
        await stack.platform.start_service("workflow", {**AWS_ENV, **settings})
        yield stack
    finally:
        await stack.platform.stop_service("workflow")
        await stack.platform.start_service("workflow")


async def test_a_purged_run_answers_with_its_archive_through_the_api_and_the_cli(
    archiving_stack: Stack, unique: str, tmp_path: Path
) -> None:
    stack = archiving_stack
    cli = Cli(tmp_path / "config", api_key=stack.admin_key)
    created = await cli.run("--api-url", stack.url, "namespace", "create", unique, "--retention-days", "2")
    assert created.code == 0, created.stderr
    assert (created.json()["retention_days"], created.json()["retention_is_default"]) == (2, False)
    ids: dict[str, str] = {}
    for workflow_id in ("archived", "kept"):
        body = {"workflow_type": "greet", "workflow_id": workflow_id, "namespace": unique}
        ids[workflow_id] = (await stack.client.post("/api/v1/workflows", json=body)).json()["run_id"]
        params = {"namespace": unique}
        await stack.client.post(f"/api/v1/workflows/{workflow_id}/signal/go", params=params, json={})
        await stack.client.post(f"/api/v1/workflows/{workflow_id}/terminate", params=params, json={})
    db = stack_workflow_db(stack)
    try:
        async with db.transaction() as tx:
            await run_store.update(
                tx.conn, uuid.UUID(ids["archived"]), closed_at=utcnow() - timedelta(days=3)
            )
    finally:
        await db.dispose()
    uri = f"s3://{BUCKET}/assay/{unique}/archived/{ids['archived']}.json"

    async def described(workflow_id: str) -> Any:
        response = await stack.client.get(f"/api/v1/workflows/{workflow_id}", params={"namespace": unique})
        assert response.status_code == 200, response.text
        return response.json()

    async def archived() -> bool:
        return bool((await described("archived"))["archive_uri"])

    await eventually(archived, within=30, what="the run archived and purged")
    run = await described("archived")
    assert (run["status"], run["archive_uri"], run["purged_at"] is not None) == ("TERMINATED", uri, True)
    assert (await described("kept"))["archive_uri"] is None

    history = await stack.client.get("/api/v1/workflows/archived/events", params={"namespace": unique})
    assert history.status_code == 410
    assert history.headers["content-type"] == "application/problem+json"
    assert (history.json()["code"], history.json()["archive_uri"]) == ("workflow_history_purged", uri)
    state = await stack.client.get("/api/v1/workflows/archived/state", params={"namespace": unique})
    assert (state.status_code, state.json()["code"]) == (410, "workflow_history_purged")

    archive = await stack.client.get("/api/v1/workflows/archived/archive", params={"namespace": unique})
    assert archive.status_code == 200, archive.text
    assert (archive.json()["archive_uri"], archive.json()["run"]["run_id"]) == (uri, ids["archived"])
    assert [e["type"] for e in archive.json()["history"]] == [
        "WorkflowStarted",
        "SignalReceived",
        "WorkflowTerminated",
    ]
    not_archived = await stack.client.get("/api/v1/workflows/kept/archive", params={"namespace": unique})
    assert (not_archived.status_code, not_archived.json()["code"]) == (404, "workflow_not_archived")

    as_json = await cli.run(
        "--api-url", stack.url, "-n", unique, "workflow", "describe", "archived", "--archived"
    )
    assert as_json.code == 0, as_json.stderr
    read_back = as_json.json()
    assert (read_back["archive_uri"], read_back["run"]["status"]) == (uri, "TERMINATED")
    assert read_back["history"] == archive.json()["history"]
    as_table = await cli.run(
        "--api-url", stack.url, "-n", unique, "-o", "table", "workflow", "describe", "archived", "--archived"
    )
    assert as_table.code == 0, as_table.stderr
    assert uri in as_table.stdout
    assert "SignalReceived" in as_table.stdout
    events = await cli.run("--api-url", stack.url, "-n", unique, "workflow", "events", "archived")
    assert events.code == 1
    assert "410 workflow_history_purged" in events.stderr


async def test_a_namespace_retention_is_set_changed_and_reset(
    stack: Stack, unique: str, tmp_path: Path
) -> None:
    created = await stack.client.post("/api/v1/namespaces", json={"name": unique})
    default = WorkflowSettings().default_retention_days
    assert (created.json()["retention_days"], created.json()["retention_is_default"]) == (default, True)
    cli = Cli(tmp_path / "config", api_key=stack.admin_key)

    updated = await cli.run("--api-url", stack.url, "namespace", "update", unique, "--retention-days", "7")
    assert updated.code == 0, updated.stderr
    assert (updated.json()["retention_days"], updated.json()["retention_is_default"]) == (7, False)
    described = (await stack.client.get(f"/api/v1/namespaces/{unique}")).json()
    assert (described["retention_days"], described["description"]) == (7, "")

    renamed = await stack.client.patch(f"/api/v1/namespaces/{unique}", json={"description": "team a"})
    assert (renamed.json()["description"], renamed.json()["retention_days"]) == ("team a", 7)
    reset = await cli.run(
        "--api-url", stack.url, "namespace", "update", unique, "--retention-days", "default"
    )
    assert reset.code == 0, reset.stderr
    assert (reset.json()["retention_days"], reset.json()["retention_is_default"]) == (default, True)

    too_short = await stack.client.patch(f"/api/v1/namespaces/{unique}", json={"retention_days": 0})
    assert too_short.status_code == 422
    unknown = await stack.client.patch(f"/api/v1/namespaces/{unique}-none", json={"retention_days": 3})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "namespace_not_found")
    bad_flag = await cli.run(
        "--api-url", stack.url, "namespace", "update", unique, "--retention-days", "soon"
    )
    assert bad_flag.code == 64
    assert (await stack.client.get(f"/api/v1/namespaces/{unique}")).json()["retention_is_default"] is True
