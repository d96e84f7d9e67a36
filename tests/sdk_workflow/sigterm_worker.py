"""A worker process run by `run_worker`, for the test of its signal handling:
`python -m tests.sdk_workflow.sigterm_worker <api url> <namespace>`."""

from __future__ import annotations

import sys

from assay import workflow
from assay.worker import run_worker


@workflow.defn(name="echo")
async def echo(ctx: workflow.WorkflowContext, input: str) -> str:
    return str(await ctx.execute_activity(shout, input))


@workflow.activity
def shout(text: str) -> str:
    return text.upper()


if __name__ == "__main__":
    run_worker(sys.argv[1], sys.argv[2], workflows=[echo], activities=[shout])
