"""What the routes of the workflow service depend on."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request

from assay_workflow.domain.engine import Engine
from assay_workflow.domain.errors import StaleTask


async def engine(request: Request) -> Engine:
    found: Engine = request.app.state.engine
    return found


def refuse_if_all_stale(statuses: Sequence[str]) -> None:
    """Fencing: a request none of whose task tokens is still leased to the worker has changed
    nothing and answers 409; a batch with some valid tokens reports `stale` per item instead."""
    if all(status == "stale" for status in statuses):
        raise StaleTask("no task token of this request is leased to this worker any more; poll again")
