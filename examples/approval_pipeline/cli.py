"""`python -m examples.approval_pipeline.cli start|act|state|result …`: drive the pipeline."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from assay.client import AssayClient
from examples import api_url, namespace
from examples.approval_pipeline.workflows import TASK_QUEUE


async def run(arguments: argparse.Namespace) -> Any:
    ns = namespace()
    async with AssayClient(api_url()) as client:
        if arguments.command == "start":
            input = {"change": arguments.change, "review_timeout": arguments.review_timeout}
            run = await client.workflows.start(
                "approval_pipeline", input, namespace=ns, task_queue=TASK_QUEUE
            )
            return {"workflow_id": run.workflow_id}
        if arguments.command == "act":
            payload = {"step": arguments.step, "action": arguments.action, "user": arguments.user}
            await client.workflows.signal(arguments.workflow_id, "step_action", payload, namespace=ns)
            return {"sent": payload}
        if arguments.command == "state":
            state = await client.workflows.query_state(arguments.workflow_id, namespace=ns)
            return state.state["pipeline_state"]
        return await client.workflows.result(arguments.workflow_id, namespace=ns)


def parser() -> argparse.ArgumentParser:
    commands = argparse.ArgumentParser(prog="python -m examples.approval_pipeline.cli")
    sub = commands.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a pipeline for a change")
    start.add_argument("change")
    start.add_argument("--review-timeout", type=float, default=3600, help="seconds (default 3600)")
    act = sub.add_parser("act", help="send a step_action signal")
    for name in ("workflow_id", "step", "action", "user"):
        act.add_argument(name)
    for name, help in (("state", "print the pipeline_state query"), ("result", "wait for the result")):
        sub.add_parser(name, help=help).add_argument("workflow_id")
    return commands


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(parser().parse_args())), indent=2))
