"""Who may call the workflow API: the platform's route checks (`assay_common.route_access`), plus
the one kind of row only this service can check (docs/workflows.md#permissions).

The worker routes' object is the namespace of a worker (`namespace:{worker.namespace}#work`),
which only this service knows: those routes call `WorkflowAccess.require_worker` once they have
the worker's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Depends

from assay_common.route_access import Access
from assay_common.route_access import access as route_access
from assay_workflow.api.deps import engine
from assay_workflow.domain.engine import Engine


@dataclass(frozen=True)
class WorkflowAccess(Access):
    engine: Engine = field(kw_only=True)

    async def require_worker(self, worker_id: str) -> None:
        """The route's row, its object the namespace of worker `worker_id`; an unknown worker is
        404 `worker_not_found`, as before it was checked."""
        worker = await self.engine.worker(worker_id)
        await self.require_resolved(worker.namespace)


async def access(granted: Access = Depends(route_access), found: Engine = Depends(engine)) -> WorkflowAccess:
    """The caller of the request, checked as far as its route's row allows before the route runs."""
    return WorkflowAccess(granted.principal, granted.route, granted.checks, granted.at_least, engine=found)
