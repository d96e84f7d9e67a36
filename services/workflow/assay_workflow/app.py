"""`create_app(settings)`: the workflow service as an ASGI application."""

import os
import socket
import uuid
from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI

from assay_common.leadership import Leadership
from assay_common.problems import problems
from assay_common.service import Runtime, ServiceDefinition, create_service_app
from assay_workflow.api import (
    activity_tasks,
    namespaces,
    queues,
    schedules,
    workers,
    workflow_tasks,
    workflows,
)
from assay_workflow.api.access import access
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.namespaces import DEFAULT_NAMESPACE, Namespaces
from assay_workflow.domain.retention import RetentionKeeper
from assay_workflow.domain.scheduler import LEASE_NAME, Scheduler
from assay_workflow.domain.timekeeper import Timekeeper
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import tables

MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def api_router() -> APIRouter:
    """Every route of the API, each checked against its row of the route permission table."""
    router = APIRouter(dependencies=[Depends(access)], responses=problems(401, 403))
    for module in (namespaces, workflows, schedules, workers, workflow_tasks, activity_tasks, queues):
        router.include_router(module.router)
    return router


def create_app(settings: WorkflowSettings | None = None) -> FastAPI:
    settings = settings or WorkflowSettings()

    async def start(rt: Runtime, app: FastAPI) -> None:
        assert rt.wakeups is not None
        engine = Engine(rt.store, rt.events, rt.wakeups, settings)
        app.state.engine = engine
        rt.start_background("timekeeper", Timekeeper(engine).run())
        rt.start_background("retention", RetentionKeeper(engine).run())
        # Unique per process: two replicas of one name would both lead.
        holder = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        leadership = Leadership(
            rt.store, tables.leader_leases, LEASE_NAME, holder, ttl_seconds=settings.scheduler_lease_seconds
        )
        rt.start_background("scheduler", Scheduler(engine, leadership).run())
        # `main` was made by the first migration, without the event that links it to the platform
        # in the permission store (for lookups and the store's own answers).
        await Namespaces(rt.store, rt.events).announce(DEFAULT_NAMESPACE)

    return create_service_app(
        ServiceDefinition(
            name="workflow",
            description="Durable workflows: namespaces, workflows, workers and the worker protocol.",
            settings=settings,
            routers=[api_router()],
            migrations=MIGRATIONS,
            outbox_table=tables.outbox,
            on_start=start,
        )
    )
