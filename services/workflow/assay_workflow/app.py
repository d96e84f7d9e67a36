"""`create_app(settings)`: the workflow service as an ASGI application."""

from pathlib import Path

from fastapi import FastAPI

from assay_common.service import ServiceDefinition, create_service_app
from assay_workflow.api import namespaces
from assay_workflow.settings import WorkflowSettings
from assay_workflow.store import tables

MIGRATIONS = Path(__file__).parent / "store" / "migrations"


def create_app(settings: WorkflowSettings | None = None) -> FastAPI:
    return create_service_app(
        ServiceDefinition(
            name="workflow",
            description="Durable workflows: namespaces, workflows, workers and the worker protocol.",
            settings=settings or WorkflowSettings(),
            routers=[namespaces.router],
            migrations=MIGRATIONS,
            outbox_table=tables.outbox,
        )
    )
