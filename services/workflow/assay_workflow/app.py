"""`create_app(settings)`: the workflow service as an ASGI application."""

from pathlib import Path

from fastapi import FastAPI

from assay_common.service import Runtime, ServiceDefinition, create_service_app
from assay_workflow.api import activity_tasks, namespaces, queues, workers, workflow_tasks, workflows
from assay_workflow.domain.engine import Engine
from assay_workflow.domain.timekeeper import Timekeeper
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import tables

MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def create_app(settings: WorkflowSettings | None = None) -> FastAPI:
    settings = settings or WorkflowSettings()

    async def start(rt: Runtime, app: FastAPI) -> None:
        assert rt.wakeups is not None
        engine = Engine(rt.store, rt.events, rt.wakeups, settings)
        app.state.engine = engine
        rt.start_background("timekeeper", Timekeeper(engine).run())

    return create_service_app(
        ServiceDefinition(
            name="workflow",
            description="Durable workflows: namespaces, workflows, workers and the worker protocol.",
            settings=settings,
            routers=[
                namespaces.router,
                workflows.router,
                workers.router,
                workflow_tasks.router,
                activity_tasks.router,
                queues.router,
            ],
            migrations=MIGRATIONS,
            outbox_table=tables.outbox,
            on_start=start,
        )
    )
