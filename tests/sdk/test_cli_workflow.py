"""`assay workflow|namespace|worker|queue|completion`: the real command against the running stack.

No worker runs the workflows started here, so every run stays open until a test closes it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import yaml

from tests.conftest import Stack
from tests.sdk.conftest import ASSAY, Cli, Result
from tests.support import eventually


@pytest.fixture
async def namespace(stack: Stack, unique: str) -> str:
    """A namespace of the test's own."""
    response = await stack.client.post("/api/v1/namespaces", json={"name": unique})
    assert response.status_code == 201, response.text
    return unique


async def start(stack: Stack, namespace: str, workflow_id: str) -> dict[str, Any]:
    """Start a run through the API; nothing will ever run it."""
    body = {"workflow_type": "never", "workflow_id": workflow_id, "namespace": namespace}
    response = await stack.client.post("/api/v1/workflows", json=body)
    assert response.status_code == 201, response.text
    started: dict[str, Any] = response.json()
    return started


async def describe(stack: Stack, namespace: str, workflow_id: str) -> dict[str, Any]:
    response = await stack.client.get(f"/api/v1/workflows/{workflow_id}", params={"namespace": namespace})
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


async def history(stack: Stack, namespace: str, workflow_id: str) -> list[dict[str, Any]]:
    response = await stack.client.get(
        f"/api/v1/workflows/{workflow_id}/events", params={"namespace": namespace}
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def run_with_stdin(cli: Cli, stdin: str, *args: str) -> Result:
    """`assay <args>` with `stdin` as its standard input."""
    process = await asyncio.create_subprocess_exec(
        ASSAY,
        *args,
        env=cli.env(),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin.encode()), 60)
    assert process.returncode is not None
    return Result(process.returncode, stdout.decode(), stderr.decode())


async def test_listing_an_empty_namespace_prints_only_the_header(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    result = await cli.run(
        "--api-url", stack.url, "workflow", "list", "--namespace", namespace, "-o", "table"
    )

    assert result.code == 0, result.stderr
    assert [line.split() for line in result.lines()] == [
        ["WORKFLOW", "ID", "TYPE", "STATUS", "QUEUE", "STARTED"]
    ]


async def test_describing_a_missing_workflow_exits_1_with_the_reason(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    result = await cli.run("--api-url", stack.url, "workflow", "describe", "missing", "-n", namespace)

    assert result.code == 1
    assert result.stdout == ""
    assert "error:" in result.stderr
    assert "404 workflow_not_found" in result.stderr


async def test_the_api_url_and_namespace_come_from_the_environment(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    await start(stack, namespace, "from-env")

    result = await cli.run("workflow", "list", env={"ASSAY_API_URL": stack.url, "ASSAY_NAMESPACE": namespace})

    assert result.code == 0, result.stderr
    assert [run["workflow_id"] for run in result.json()["items"]] == ["from-env"]


async def test_the_config_file_supplies_the_api_url_and_namespace(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    await start(stack, namespace, "from-config")
    elsewhere = f"{namespace}-elsewhere"
    assert (await stack.client.post("/api/v1/namespaces", json={"name": elsewhere})).status_code == 201
    cli.config_file.parent.mkdir(parents=True)
    cli.config_file.write_text(f'api_url = "{stack.url}"\nnamespace = "{namespace}"\n')

    from_config = await cli.run("workflow", "list")
    env_over_config = await cli.run("workflow", "list", env={"ASSAY_NAMESPACE": elsewhere})
    flag_over_env = await cli.run("workflow", "list", "-n", namespace, env={"ASSAY_NAMESPACE": elsewhere})

    assert [run["workflow_id"] for run in from_config.json()["items"]] == ["from-config"]
    assert env_over_config.json()["items"] == []
    assert [run["workflow_id"] for run in flag_over_env.json()["items"]] == ["from-config"]


async def test_start_prints_the_identifiers_of_the_new_run(cli: Cli, stack: Stack, namespace: str) -> None:
    result = await cli.run(
        "--api-url", stack.url, "--namespace", namespace, "workflow", "start", "greet", "--id", "greeting",
        "--input", '{"name": "ada"}', "--task-queue", "mail", "--search-attribute", "env=prod",
        "--search-attribute", "tier=2",
    )  # fmt: skip

    assert result.code == 0, result.stderr
    started = result.json()
    assert started["workflow_id"] == "greeting"
    run = await describe(stack, namespace, "greeting")
    assert started["run_id"] == run["run_id"]
    assert (run["workflow_type"], run["task_queue"], run["status"]) == ("greet", "mail", "RUNNING")
    assert run["input"] == {"name": "ada"}
    assert run["search_attributes"] == {"env": "prod", "tier": 2}


async def test_start_as_a_table_shows_both_identifiers(cli: Cli, stack: Stack, namespace: str) -> None:
    result = await cli.run(
        "--api-url", stack.url, "-o", "table", "workflow", "start", "greet", "--id", "tabled", "-n", namespace
    )

    run = await describe(stack, namespace, "tabled")
    assert result.code == 0, result.stderr
    assert [line.split() for line in result.lines()] == [
        ["Workflow", "ID", "tabled"],
        ["Run", "ID", run["run_id"]],
    ]


async def test_input_from_standard_input_and_from_a_file(cli: Cli, stack: Stack, namespace: str) -> None:
    source = cli.config_home / "input.json"
    source.write_text('{"from": "file"}')

    piped = await run_with_stdin(
        cli, '{"from": "stdin"}', "--api-url", stack.url, "workflow", "start", "t", "--id", "piped",
        "-n", namespace, "--input", "-",
    )  # fmt: skip
    read = await cli.run(
        "--api-url",
        stack.url,
        "workflow",
        "start",
        "t",
        "--id",
        "read",
        "-n",
        namespace,
        "--input",
        f"@{source}",
    )

    assert piped.code == 0, piped.stderr
    assert read.code == 0, read.stderr
    assert (await describe(stack, namespace, "piped"))["input"] == {"from": "stdin"}
    assert (await describe(stack, namespace, "read"))["input"] == {"from": "file"}


async def test_input_that_is_not_json_is_a_usage_error_that_starts_nothing(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    result = await cli.run(
        "--api-url", stack.url, "workflow", "start", "t", "-n", namespace, "--input", "{name: ada}"
    )
    from_stdin = await run_with_stdin(
        cli, "not json", "--api-url", stack.url, "workflow", "start", "t", "-n", namespace, "--input", "-"
    )
    payload = await cli.run(
        "--api-url", stack.url, "workflow", "signal", "x", "go", "-n", namespace, "--payload", "["
    )

    assert result.code == 64
    assert "--input" in result.stderr and "not valid JSON" in result.stderr
    assert from_stdin.code == 64
    assert "standard input is not valid JSON" in from_stdin.stderr
    assert payload.code == 64
    assert "--payload" in payload.stderr
    listed = await stack.client.get("/api/v1/workflows", params={"namespace": namespace})
    assert listed.json()["items"] == []


async def test_wait_on_a_run_that_never_finishes_exits_2(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "forever")

    result = await cli.run(
        "--api-url", stack.url, "workflow", "wait", "forever", "-n", namespace, "--timeout", "0.5"
    )

    assert result.code == 2
    assert "did not close within 0.5 s" in result.stderr
    assert (await describe(stack, namespace, "forever"))["status"] == "RUNNING"


async def test_wait_on_a_terminated_run_exits_1_with_how_it_ended(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    await start(stack, namespace, "ended")
    await stack.client.post("/api/v1/workflows/ended/terminate", params={"namespace": namespace}, json={})

    result = await cli.run(
        "--api-url", stack.url, "workflow", "wait", "ended", "-n", namespace, "--timeout", "10"
    )

    assert result.code == 1
    assert "ended TERMINATED" in result.stderr


async def test_signal_is_recorded_in_the_history(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "signalled")

    result = await cli.run(
        "--api-url", stack.url, "workflow", "signal", "signalled", "approve", "-n", namespace,
        "--payload", '{"by": "ada"}',
    )  # fmt: skip

    assert result.code == 0, result.stderr
    assert result.json() == {"workflow_id": "signalled", "status": "accepted"}
    signals = [e for e in await history(stack, namespace, "signalled") if e["type"] == "SignalReceived"]
    assert [e["attributes"] for e in signals] == [{"name": "approve", "payload": {"by": "ada"}}]


async def test_cancel_requests_cancellation_of_the_open_run(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "cancelled")

    result = await cli.run(
        "--api-url", stack.url, "workflow", "cancel", "cancelled", "-n", namespace, "--reason", "not needed"
    )

    assert result.code == 0, result.stderr
    requests = [e for e in await history(stack, namespace, "cancelled") if e["type"] == "CancelRequested"]
    assert [e["attributes"] for e in requests] == [{"reason": "not needed"}]


async def test_terminate_closes_the_run(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "terminated")

    result = await cli.run(
        "--api-url", stack.url, "workflow", "terminate", "terminated", "-n", namespace, "--reason", "stuck"
    )
    again = await cli.run("--api-url", stack.url, "workflow", "terminate", "terminated", "-n", namespace)

    assert result.code == 0, result.stderr
    run = await describe(stack, namespace, "terminated")
    assert run["status"] == "TERMINATED"
    assert again.code == 1
    assert "409" in again.stderr


async def test_events_lists_the_history_in_order(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "storied")
    await stack.client.post("/api/v1/workflows/storied/signal/go", params={"namespace": namespace}, json={})

    result = await cli.run(
        "--api-url", stack.url, "workflow", "events", "storied", "-n", namespace, "-o", "jsonl"
    )

    assert result.code == 0, result.stderr
    printed = [json.loads(line) for line in result.lines()]
    recorded = await history(stack, namespace, "storied")
    assert [(e["seq"], e["type"]) for e in printed] == [(e["seq"], e["type"]) for e in recorded]
    assert printed[-1]["type"] == "SignalReceived"


async def test_events_follow_prints_new_events_until_the_run_closes(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    await start(stack, namespace, "followed")
    process = await asyncio.create_subprocess_exec(
        ASSAY, "--api-url", stack.url, "workflow", "events", "followed", "--follow", "-n", namespace,
        "-o", "jsonl", env=cli.env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stdout is not None
    first = json.loads(await asyncio.wait_for(process.stdout.readline(), 30))

    await stack.client.post("/api/v1/workflows/followed/signal/go", params={"namespace": namespace}, json={})
    await stack.client.post("/api/v1/workflows/followed/terminate", params={"namespace": namespace}, json={})
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)

    assert process.returncode == 0, stderr.decode()
    printed = [first, *(json.loads(line) for line in stdout.decode().splitlines())]
    recorded = await history(stack, namespace, "followed")
    assert [(e["seq"], e["type"]) for e in printed] == [(e["seq"], e["type"]) for e in recorded]
    assert "SignalReceived" in [e["type"] for e in printed]


async def test_state_before_the_run_records_any_exits_1(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "stateless")

    result = await cli.run("--api-url", stack.url, "workflow", "state", "stateless", "-n", namespace)

    assert result.code == 1
    assert "query_state_not_found" in result.stderr


async def test_children_of_a_run_that_started_none_is_empty(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "childless")

    listed = await cli.run("--api-url", stack.url, "workflow", "children", "childless", "-n", namespace)
    table = await cli.run(
        "--api-url", stack.url, "workflow", "children", "childless", "-n", namespace, "-o", "table"
    )

    assert listed.code == 0, listed.stderr
    assert listed.json() == []
    assert [line.split() for line in table.lines()] == [
        ["WORKFLOW", "ID", "RUN", "ID", "TYPE", "STATUS", "STARTED"]
    ]


async def test_namespace_lifecycle(cli: Cli, stack: Stack, unique: str) -> None:
    api = ("--api-url", stack.url)

    created = await cli.run(*api, "namespace", "create", unique, "--description", "for payments")
    listed = await cli.run(*api, "namespace", "list", "--limit", "500")
    described = await cli.run(*api, "namespace", "describe", unique, "-o", "yaml")
    deleted = await cli.run(*api, "namespace", "delete", unique)
    gone = await cli.run(*api, "namespace", "describe", unique)

    assert created.code == 0, created.stderr
    assert (created.json()["name"], created.json()["description"]) == (unique, "for payments")
    assert unique in [n["name"] for n in listed.json()["items"]]
    assert yaml.safe_load(described.stdout)["description"] == "for payments"
    assert deleted.code == 0, deleted.stderr
    assert gone.code == 1
    assert "404" in gone.stderr


async def test_creating_a_namespace_twice_is_an_error(cli: Cli, stack: Stack, namespace: str) -> None:
    result = await cli.run("--api-url", stack.url, "namespace", "create", namespace)

    assert result.code == 1
    assert "409" in result.stderr


async def test_worker_and_queue_lists_of_an_empty_namespace(cli: Cli, stack: Stack, namespace: str) -> None:
    api = ("--api-url", stack.url, "-n", namespace)

    workers = await cli.run(*api, "worker", "list")
    queues = await cli.run(*api, "queue", "stats")
    workers_table = await cli.run(*api, "-o", "table", "worker", "list")
    queues_table = await cli.run(*api, "-o", "table", "queue", "stats")

    assert workers.code == queues.code == workers_table.code == queues_table.code == 0
    assert workers.json() == {"items": [], "next_cursor": None}
    assert queues.json() == []
    assert workers_table.lines()[0].split()[:2] == ["WORKER", "ID"]
    assert len(workers_table.lines()) == 1
    assert queues_table.lines()[0].split()[0] == "QUEUE"


async def test_queue_stats_count_waiting_workflow_tasks(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "queued")

    result = await cli.run("--api-url", stack.url, "queue", "stats", "-n", namespace)

    assert result.code == 0, result.stderr
    assert [(q["task_queue"], q["workflow_tasks_ready"], q["workers"]) for q in result.json()] == [
        ("main", 1, 0)
    ]


async def test_every_output_format_parses(cli: Cli, stack: Stack, namespace: str) -> None:
    for workflow_id in ("one", "two"):
        await start(stack, namespace, workflow_id)
    api = ("--api-url", stack.url, "workflow", "list", "-n", namespace)

    as_json = await cli.run(*api, "-o", "json")
    as_jsonl = await cli.run(*api, "-o", "jsonl")
    as_yaml = await cli.run(*api, "-o", "yaml")
    described = await cli.run(
        "--api-url", stack.url, "-o", "yaml", "workflow", "describe", "one", "-n", namespace
    )

    assert [r["workflow_id"] for r in as_json.json()["items"]] == ["two", "one"]
    assert [json.loads(line)["workflow_id"] for line in as_jsonl.lines()] == ["two", "one"]
    assert [r["workflow_id"] for r in yaml.safe_load(as_yaml.stdout)["items"]] == ["two", "one"]
    assert yaml.safe_load(described.stdout)["status"] == "RUNNING"


async def test_list_pages_with_the_cursor(cli: Cli, stack: Stack, namespace: str) -> None:
    for workflow_id in ("first", "second", "third"):
        await start(stack, namespace, workflow_id)
    api = ("--api-url", stack.url, "workflow", "list", "-n", namespace, "--limit", "2")

    page = (await cli.run(*api)).json()
    rest = (await cli.run(*api, "--cursor", page["next_cursor"])).json()
    table = await cli.run(*api, "-o", "table")

    assert [r["workflow_id"] for r in page["items"]] == ["third", "second"]
    assert [r["workflow_id"] for r in rest["items"]] == ["first"]
    assert rest["next_cursor"] is None
    assert f"--cursor {page['next_cursor']}" in table.stderr


async def test_list_filters_by_status_and_type(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "open")
    await start(stack, namespace, "closed")
    await stack.client.post("/api/v1/workflows/closed/terminate", params={"namespace": namespace}, json={})
    api = ("--api-url", stack.url, "workflow", "list", "-n", namespace)

    async def terminated_listed() -> bool:
        result = await cli.run(*api, "--status", "terminated")
        return [r["workflow_id"] for r in result.json()["items"]] == ["closed"]

    await eventually(terminated_listed, what="the terminated run listed by status")
    of_other_type = await cli.run(*api, "--type", "other")
    assert of_other_type.json()["items"] == []


async def test_completion_is_generated_for_every_shell(cli: Cli) -> None:
    for shell in ("bash", "zsh", "fish", "powershell"):
        result = await cli.run("completion", shell)

        assert result.code == 0, result.stderr
        assert "_ASSAY_COMPLETE" in result.stdout, shell
        assert "assay" in result.stdout


async def test_completion_for_an_unknown_shell_is_a_usage_error(cli: Cli) -> None:
    result = await cli.run("completion", "tcsh")

    assert result.code == 64


async def run_one_task(
    stack: Stack, namespace: str, workflow_type: str, commands: list[dict[str, Any]]
) -> None:
    """Act as a worker for one workflow task of `workflow_type`: answer it with `commands`."""
    registration = {"namespace": namespace, "workflow_types": [workflow_type]}
    worker = (await stack.client.post("/api/v1/workers", json=registration)).json()["worker_id"]
    poll = {"worker_id": worker, "wait_seconds": 10}
    (task,) = (await stack.client.post("/api/v1/workflow-tasks/poll", json=poll)).json()["tasks"]
    completion = {
        "worker_id": worker,
        "completions": [{"task_token": task["task_token"], "commands": commands}],
    }
    response = await stack.client.post("/api/v1/workflow-tasks/complete", json=completion)
    assert [r["status"] for r in response.json()["results"]] == ["ok"], response.text
    await stack.client.delete(f"/api/v1/workers/{worker}")


async def test_state_children_and_the_result_of_a_run_its_worker_completed(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    body = {"workflow_type": "parent", "workflow_id": "parent", "namespace": namespace}
    assert (await stack.client.post("/api/v1/workflows", json=body)).status_code == 201
    await run_one_task(
        stack,
        namespace,
        "parent",
        [
            {"type": "record_query_state", "state": {"stage": "charging", "progress": 0.5}},
            {"type": "start_child_workflow", "child_seq": 1, "workflow_id": "kid", "workflow_type": "charge"},
            {"type": "complete_workflow", "result": {"total": 42}},
        ],
    )
    api = ("--api-url", stack.url, "-n", namespace, "workflow")

    whole = await cli.run(*api, "state", "parent")
    entry = await cli.run(*api, "state", "parent", "stage")
    missing = await cli.run(*api, "state", "parent", "nope")
    kids = await cli.run(*api, "children", "parent")
    result = await cli.run(*api, "wait", "parent", "--timeout", "10")

    assert whole.json()["state"] == {"stage": "charging", "progress": 0.5}
    assert entry.json() == "charging"
    assert missing.code == 1
    assert "no entry 'nope' (entries: progress, stage)" in missing.stderr
    assert [(k["workflow_id"], k["workflow_type"]) for k in kids.json()] == [("kid", "charge")]
    assert result.code == 0, result.stderr
    assert result.json() == {"total": 42}


async def test_continue_as_new_starts_a_successor_with_the_same_or_a_new_input(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    body = {"workflow_type": "never", "workflow_id": "looped", "namespace": namespace, "input": {"round": 1}}
    first = (await stack.client.post("/api/v1/workflows", json=body)).json()
    api = ("--api-url", stack.url, "-n", namespace, "workflow", "continue-as-new", "looped")

    same = await cli.run(*api)
    same_run = await describe(stack, namespace, "looped")
    given = await cli.run(*api, "--input", '{"round": 2}', "-o", "table")
    given_run = await describe(stack, namespace, "looped")

    assert same.code == 0, same.stderr
    assert same.json() == {"workflow_id": "looped", "run_id": same_run["run_id"]}
    assert same_run["run_id"] != first["run_id"]
    assert (same_run["input"], same_run["continued_from_run_id"]) == ({"round": 1}, first["run_id"])
    assert given.code == 0, given.stderr
    assert [line.split() for line in given.lines()] == [
        ["Workflow", "ID", "looped"],
        ["Run", "ID", given_run["run_id"]],
    ]
    assert given_run["input"] == {"round": 2}


async def test_continue_as_new_of_a_closed_run_exits_1(cli: Cli, stack: Stack, namespace: str) -> None:
    await start(stack, namespace, "finished")
    await stack.client.post("/api/v1/workflows/finished/terminate", params={"namespace": namespace}, json={})

    result = await cli.run("--api-url", stack.url, "-n", namespace, "workflow", "continue-as-new", "finished")

    assert result.code == 1
    assert "409 workflow_closed" in result.stderr


async def fail_by_an_activity(stack: Stack, namespace: str, workflow_id: str) -> str:
    """Start `workflow_id` and act as its worker: its activity `charge` fails for good, and so
    does the run. Returns the failed run's id."""
    body = {"workflow_type": "pay", "workflow_id": workflow_id, "namespace": namespace}
    started = (await stack.client.post("/api/v1/workflows", json=body)).json()
    registration = {"namespace": namespace, "workflow_types": ["pay"], "activity_names": ["charge"]}
    worker = (await stack.client.post("/api/v1/workers", json=registration)).json()["worker_id"]

    async def next_task() -> Any:
        poll = {"worker_id": worker, "wait_seconds": 10}
        (task,) = (await stack.client.post("/api/v1/workflow-tasks/poll", json=poll)).json()["tasks"]
        return task

    async def complete(task: Any, command: dict[str, Any]) -> Any:
        completion = {
            "worker_id": worker,
            "completions": [{"task_token": task["task_token"], "commands": [command]}],
        }
        response = await stack.client.post("/api/v1/workflow-tasks/complete", json=completion)
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    schedule = {
        "type": "schedule_activity",
        "activity_seq": 1,
        "name": "charge",
        "retry": {"max_attempts": 1},
    }
    (charge,) = (await complete(await next_task(), schedule))["activity_tasks"]
    declined = {
        "worker_id": worker,
        "results": [{"task_token": charge["task_token"], "error": {"message": "no"}}],
    }
    assert (await stack.client.post("/api/v1/activity-tasks/complete", json=declined)).status_code == 200
    await complete(await next_task(), {"type": "fail_workflow", "error": {"message": "no"}})
    await stack.client.delete(f"/api/v1/workers/{worker}")
    assert (await describe(stack, namespace, workflow_id))["status"] == "FAILED"
    return str(started["run_id"])


async def test_retry_starts_a_new_run_from_the_failed_activity(
    cli: Cli, stack: Stack, namespace: str
) -> None:
    failed_run_id = await fail_by_an_activity(stack, namespace, "paying")
    api = ("--api-url", stack.url, "-n", namespace, "workflow", "retry", "paying")

    result = await cli.run(*api, "--requested-by", "ada", "--reason", "card fixed")
    again = await cli.run(*api, "--requested-by", "ada", "--reason", "twice", "-o", "table")

    assert result.code == 0, result.stderr
    run = await describe(stack, namespace, "paying")
    assert result.json() == {
        "workflow_id": "paying",
        "run_id": run["run_id"],
        "failed_run_id": failed_run_id,
        "activity_seq": 1,
        "status": "RUNNING",
    }
    last = (await history(stack, namespace, "paying"))[-1]
    assert (last["type"], last["attributes"]["requested_by"], last["attributes"]["reason"]) == (
        "ActivityRetryRequested",
        "ada",
        "card fixed",
    )
    assert again.code == 1
    assert "409 workflow_not_retryable" in again.stderr


async def test_retry_as_a_table_and_its_required_options(cli: Cli, stack: Stack, namespace: str) -> None:
    failed_run_id = await fail_by_an_activity(stack, namespace, "tabled-retry")
    api = ("--api-url", stack.url, "-n", namespace, "workflow", "retry", "tabled-retry")

    without_reason = await cli.run(*api, "--requested-by", "ada")
    blank = await cli.run(*api, "--requested-by", " ", "--reason", "fixed")
    table = await cli.run(*api, "--requested-by", "ada", "--reason", "fixed", "-o", "table")

    assert without_reason.code == 64
    assert "--reason" in without_reason.stderr
    assert blank.code == 1
    assert "422" in blank.stderr
    assert table.code == 0, table.stderr
    run = await describe(stack, namespace, "tabled-retry")
    assert [line.split() for line in table.lines()] == [
        ["Workflow", "ID", "tabled-retry"],
        ["Run", "ID", run["run_id"]],
        ["Failed", "run", "ID", failed_run_id],
        ["Activity", "1"],
        ["Status", "RUNNING"],
    ]
