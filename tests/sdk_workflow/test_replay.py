"""The replay engine on hand-built histories: which commands a workflow task answers."""

from __future__ import annotations

import logging
from collections.abc import Generator
from datetime import datetime
from typing import Any

import pytest

from assay import workflow
from assay.workflow import ActivityError, ApplicationError, RetryPolicy, WorkflowCancelled, WorkflowContext
from tests.sdk_workflow.histories import STARTED_AT, History, kinds


async def hello(ctx: WorkflowContext, input: Any) -> str:
    first = await ctx.execute_activity("greet", input["name"])
    second = await ctx.execute_activity("shout", first)
    return f"{second}!"


def test_first_task_schedules_the_first_activity_only() -> None:
    outcome = History({"name": "ada"}).replay(hello)
    assert outcome.commands == [
        {"type": "schedule_activity", "activity_seq": 1, "name": "greet", "input": "ada"}
    ]
    assert outcome.nondeterminism is None and not outcome.is_terminal


def test_activity_results_come_from_history_in_sequence() -> None:
    history = History({"name": "ada"}).scheduled(1, "greet").completed(1, "hello ada")
    assert history.replay(hello).commands == [
        {"type": "schedule_activity", "activity_seq": 2, "name": "shout", "input": "hello ada"}
    ]
    history.scheduled(2, "shout").completed(2, "HELLO ADA")
    assert history.replay(hello).commands == [{"type": "complete_workflow", "result": "HELLO ADA!"}]


def test_a_scheduled_but_unfinished_activity_is_not_scheduled_again() -> None:
    assert History({"name": "ada"}).scheduled(1, "greet").replay(hello).commands == []


def test_activity_options_become_command_fields() -> None:
    @workflow.activity(name="charge-card")
    def charge(amount: int) -> None:
        raise AssertionError("activities do not run in the workflow")

    async def pay(ctx: WorkflowContext, input: Any) -> None:
        await ctx.execute_activity(
            charge,
            42,
            task_queue="payments",
            retry=RetryPolicy(max_attempts=5, non_retryable_errors=("CardDeclined",)),
            start_to_close=30,
            heartbeat_timeout=5,
        )

    (command,) = History().replay(pay).commands
    assert command == {
        "type": "schedule_activity",
        "activity_seq": 1,
        "name": "charge-card",
        "input": 42,
        "task_queue": "payments",
        "retry": {
            "max_attempts": 5,
            "initial_interval": 1.0,
            "backoff_coefficient": 2.0,
            "max_interval": 100.0,
            "non_retryable_errors": ["CardDeclined"],
        },
        "start_to_close_timeout": 30.0,
        "heartbeat_timeout": 5.0,
    }


def test_another_activity_at_a_recorded_position_fails_the_task_not_the_workflow() -> None:
    history = History({"name": "ada"}).scheduled(1, "welcome")
    outcome = history.replay(hello)
    assert outcome.commands == []
    assert outcome.nondeterminism is not None and "'welcome'" in outcome.nondeterminism


def test_code_that_stops_short_of_its_history_is_nondeterministic() -> None:
    async def shorter(ctx: WorkflowContext, input: Any) -> str:
        return "done"

    outcome = History().scheduled(1, "greet").replay(shorter)
    assert outcome.commands == []
    assert outcome.nondeterminism is not None and "activity 1" in outcome.nondeterminism


def test_catching_everything_does_not_hide_nondeterminism() -> None:
    async def swallowing(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.execute_activity("other")
        except Exception:
            return "swallowed"
        return "done"

    assert History().scheduled(1, "greet").replay(swallowing).nondeterminism is not None


async def fan_out(ctx: WorkflowContext, input: Any) -> list[Any]:
    return await ctx.gather(*(ctx.execute_activity("square", n) for n in input))


def test_parallel_activities_are_all_scheduled_in_one_task() -> None:
    outcome = History([1, 2, 3]).replay(fan_out)
    assert kinds(outcome) == ["schedule_activity"] * 3
    assert [c["activity_seq"] for c in outcome.commands] == [1, 2, 3]


def test_parallel_activities_are_never_scheduled_twice() -> None:
    history = History([1, 2, 3]).scheduled(1, "square").scheduled(2, "square").scheduled(3, "square")
    history.completed(2, 4)
    assert history.replay(fan_out).commands == []


def test_parallel_results_come_in_argument_order_whatever_the_completion_order() -> None:
    history = History([1, 2, 3]).scheduled(1, "square").scheduled(2, "square").scheduled(3, "square")
    history.completed(3, 9).completed(1, 1).completed(2, 4)
    assert history.replay(fan_out).commands == [{"type": "complete_workflow", "result": [1, 4, 9]}]


def test_one_failed_parallel_activity_raises_in_the_workflow() -> None:
    history = History([1, 2]).scheduled(1, "square").scheduled(2, "square")
    history.failed(2, "ValueError", "too big")
    assert history.replay(fan_out).commands == [
        {
            "type": "fail_workflow",
            "error": {"type": "ActivityError", "message": "activity 2 failed: ValueError: too big"},
        }
    ]


def test_a_failed_activity_can_be_handled_by_the_workflow() -> None:
    async def careful(ctx: WorkflowContext, input: Any) -> dict[str, Any]:
        try:
            await ctx.execute_activity("charge")
        except ActivityError as error:
            return {"type": error.type, "message": error.message, "kind": error.kind}
        return {}

    history = History().scheduled(1, "charge").failed(1, "CardDeclined", "no funds")
    assert history.replay(careful).commands == [
        {
            "type": "complete_workflow",
            "result": {"type": "CardDeclined", "message": "no funds", "kind": "failed"},
        }
    ]


def test_an_exception_in_workflow_code_fails_the_workflow_with_its_type_and_message() -> None:
    async def broken(ctx: WorkflowContext, input: Any) -> None:
        raise KeyError("customer")

    async def refusing(ctx: WorkflowContext, input: Any) -> None:
        raise ApplicationError("order too large", type="OrderRejected")

    assert History().replay(broken).commands == [
        {"type": "fail_workflow", "error": {"type": "KeyError", "message": "'customer'"}}
    ]
    assert History().replay(refusing).commands == [
        {"type": "fail_workflow", "error": {"type": "OrderRejected", "message": "order too large"}}
    ]


class ForeignAwaitable:
    def __await__(self) -> Generator[str, None, None]:
        yield "an event loop's future"


def test_awaiting_anything_but_the_context_fails_the_workflow_with_an_explanation() -> None:
    async def impatient(ctx: WorkflowContext, input: Any) -> None:
        await ForeignAwaitable()

    (command,) = History().replay(impatient).commands
    assert command["type"] == "fail_workflow" and command["error"]["type"] == "TypeError"
    assert "only await the context's operations" in command["error"]["message"]


async def sleepy(ctx: WorkflowContext, input: Any) -> str:
    await ctx.sleep(60)
    return "rested"


def test_sleep_starts_a_durable_timer_and_resumes_when_it_fires() -> None:
    assert History().replay(sleepy).commands == [{"type": "start_timer", "timer_seq": 1, "seconds": 60.0}]
    assert History().timer(1).replay(sleepy).commands == []
    assert History().timer(1).fired(1).replay(sleepy).commands == [
        {"type": "complete_workflow", "result": "rested"}
    ]


async def approval(ctx: WorkflowContext, input: Any) -> Any:
    try:
        return await ctx.wait_for_signal("approve", timeout=30)
    except TimeoutError:
        return "timed out"


def test_signal_waits_start_a_timer_for_their_timeout() -> None:
    assert History().replay(approval).commands == [{"type": "start_timer", "timer_seq": 1, "seconds": 30.0}]


def test_a_signal_recorded_before_the_timer_fired_wins_and_cancels_the_timer() -> None:
    history = History().timer(1).signal("approve", {"by": "ada"}).fired(1)
    assert history.replay(approval).commands == [
        {"type": "complete_workflow", "result": {"by": "ada"}},
    ]
    history = History().timer(1).signal("approve", {"by": "ada"})
    assert history.replay(approval).commands == [
        {"type": "cancel_timer", "timer_seq": 1},
        {"type": "complete_workflow", "result": {"by": "ada"}},
    ]


def test_a_timer_fired_before_the_signal_wins_and_the_signal_stays_buffered() -> None:
    async def twice(ctx: WorkflowContext, input: Any) -> list[Any]:
        outcomes: list[Any] = []
        try:
            outcomes.append(await ctx.wait_for_signal("approve", timeout=30))
        except TimeoutError:
            outcomes.append("timed out")
        outcomes.append(await ctx.wait_for_signal("approve"))
        return outcomes

    history = History().timer(1).fired(1).signal("approve", "yes")
    assert history.replay(twice).commands == [{"type": "complete_workflow", "result": ["timed out", "yes"]}]


def test_signals_are_buffered_in_arrival_order_before_the_workflow_waits() -> None:
    async def collect(ctx: WorkflowContext, input: Any) -> list[Any]:
        await ctx.execute_activity("prepare")
        return [await ctx.wait_for_signal("item") for _ in range(3)]

    history = History().signal("item", 1).signal("other", "x").signal("item", None).scheduled(1, "prepare")
    history.signal("item", 3).completed(1, None)
    assert history.replay(collect).commands == [{"type": "complete_workflow", "result": [1, None, 3]}]


def test_a_side_effect_returning_none_is_recorded_once_and_never_rerun() -> None:
    calls: list[int] = []

    def effect() -> None:
        calls.append(1)

    async def once(ctx: WorkflowContext, input: Any) -> str:
        value = ctx.side_effect(effect)
        await ctx.sleep(10)
        return f"got {value}"

    history = History()
    first = history.replay(once)
    assert first.commands == [
        {"type": "record_side_effect", "side_effect_seq": 1, "value": None},
        {"type": "start_timer", "timer_seq": 1, "seconds": 10.0},
    ]
    history.apply(first).fired(1)
    assert history.replay(once).commands == [{"type": "complete_workflow", "result": "got None"}]
    assert len(calls) == 1


def test_now_random_and_uuid_are_the_same_on_every_replay() -> None:
    seen: list[Any] = []

    async def clocked(ctx: WorkflowContext, input: Any) -> None:
        seen.append((ctx.now(), ctx.random(), ctx.uuid4()))
        await ctx.sleep(5)
        seen.append((ctx.now(), ctx.random(), ctx.uuid4()))

    history = History().timer(1).fired(1)
    history.replay(clocked)
    history.replay(clocked)
    assert seen[:2] == seen[2:]
    (started, *_), (woken, *_) = seen[:2]
    assert started == STARTED_AT and woken == history.events[-1].timestamp
    assert isinstance(woken, datetime) and seen[0][1] != seen[1][1]


async def compensating(ctx: WorkflowContext, input: Any) -> str:
    try:
        await ctx.execute_activity("ship")
    except WorkflowCancelled:
        await ctx.execute_activity("refund")
        return "refunded"
    return "shipped"


def test_a_cancel_request_raises_at_the_await_and_cancels_what_is_in_flight() -> None:
    history = History().scheduled(1, "ship").add("CancelRequested", reason="customer")
    assert history.replay(compensating).commands == [
        {"type": "request_cancel_activity", "activity_seq": 1},
        {"type": "schedule_activity", "activity_seq": 2, "name": "refund", "input": None},
    ]


def test_returning_after_a_cancel_request_cancels_the_workflow() -> None:
    history = History().scheduled(1, "ship").add("CancelRequested", reason="customer")
    history.scheduled(2, "refund").add("ActivityCancelled", activity_seq=1).completed(2, None)
    assert history.replay(compensating).commands == [{"type": "cancel_workflow"}]


def test_an_uncaught_cancel_request_cancels_the_workflow() -> None:
    history = History().timer(1).add("CancelRequested", reason="customer")
    assert history.replay(sleepy).commands == [
        {"type": "cancel_timer", "timer_seq": 1},
        {"type": "cancel_workflow"},
    ]


def test_a_cancel_request_recorded_after_an_outcome_is_raised_at_the_next_await() -> None:
    async def two_steps(ctx: WorkflowContext, input: Any) -> str:
        await ctx.execute_activity("ship")
        try:
            await ctx.execute_activity("notify")
        except WorkflowCancelled:
            return "shipped, not notified"
        return "done"

    history = History().scheduled(1, "ship").completed(1, None).add("CancelRequested", reason="late")
    assert history.replay(two_steps).commands == [
        {"type": "schedule_activity", "activity_seq": 2, "name": "notify", "input": None},
        {"type": "request_cancel_activity", "activity_seq": 2},
        {"type": "cancel_workflow"},
    ]


def test_search_attributes_are_upserted_once() -> None:
    async def tagged(ctx: WorkflowContext, input: Any) -> None:
        ctx.upsert_search_attributes({"stage": "shipping"})
        await ctx.sleep(1)

    history = History()
    first = history.replay(tagged)
    assert kinds(first) == ["upsert_search_attributes", "start_timer"]
    assert history.apply(first).replay(tagged).commands == []


def test_query_state_is_recorded_before_the_terminal_command() -> None:
    async def queried(ctx: WorkflowContext, input: Any) -> str:
        ctx.set_query_state("stage", "started")
        ctx.register_query("now", lambda: ctx.now().isoformat())
        await ctx.sleep(1)
        ctx.set_query_state("stage", "done")
        return "ok"

    assert History().replay(queried).commands[-1] == {
        "type": "record_query_state",
        "state": {"stage": "started", "now": STARTED_AT.isoformat()},
    }
    done = History().timer(1).fired(1).replay(queried)
    assert kinds(done) == ["record_query_state", "complete_workflow"]
    assert done.commands[0]["state"]["stage"] == "done"


def test_continue_as_new_ends_the_run_with_the_new_input() -> None:
    async def looping(ctx: WorkflowContext, input: Any) -> None:
        await ctx.sleep(1)
        ctx.continue_as_new({"round": input["round"] + 1})

    history = History({"round": 1}).timer(1).fired(1)
    assert history.replay(looping).commands == [{"type": "continue_as_new", "input": {"round": 2}}]


def test_the_logger_is_silent_while_replaying(caplog: pytest.LogCaptureFixture) -> None:
    async def chatty(ctx: WorkflowContext, input: Any) -> None:
        ctx.logger.info("starting")
        await ctx.sleep(1)
        ctx.logger.info("woke up")

    caplog.set_level(logging.INFO, logger="assay.workflow")
    history = History()
    history.apply(history.replay(chatty)).fired(1)
    history.replay(chatty)
    assert [r.getMessage() for r in caplog.records] == ["starting", "woke up"]


def test_a_result_that_is_not_json_fails_the_workflow() -> None:
    async def odd(ctx: WorkflowContext, input: Any) -> object:
        return object()

    (command,) = History().replay(odd).commands
    assert command["type"] == "fail_workflow" and command["error"]["type"] == "TypeError"


def test_handles_may_be_awaited_in_any_order() -> None:
    async def reversed_awaits(ctx: WorkflowContext, input: Any) -> list[Any]:
        first = ctx.execute_activity("a")
        second = ctx.execute_activity("b")
        return [await second, await first]

    outcome = History().replay(reversed_awaits)
    assert [c["name"] for c in outcome.commands] == ["a", "b"]
    history = History().scheduled(1, "a").scheduled(2, "b").completed(1, "A").completed(2, "B")
    assert history.replay(reversed_awaits).commands == [{"type": "complete_workflow", "result": ["B", "A"]}]


def test_sleeping_zero_seconds_starts_no_timer() -> None:
    async def instant(ctx: WorkflowContext, input: Any) -> str:
        await ctx.sleep(0)
        return "done"

    assert History().replay(instant).commands == [{"type": "complete_workflow", "result": "done"}]


def test_a_cancel_request_is_not_swallowed_by_except_exception() -> None:
    async def broad(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.sleep(60)
        except Exception:
            return "swallowed"
        return "slept"

    history = History().timer(1).add("CancelRequested", reason="stop").add("TimerCancelled", timer_seq=1)
    assert history.replay(broad).commands == [{"type": "cancel_workflow"}]


def test_a_cancel_request_interrupts_a_gather_once() -> None:
    async def fan_out_and_clean_up(ctx: WorkflowContext, input: Any) -> str:
        try:
            await ctx.gather(ctx.execute_activity("a"), ctx.sleep(30))
        except WorkflowCancelled:
            await ctx.execute_activity("clean up")
            return "cleaned up"
        return "done"

    history = History().scheduled(1, "a").timer(1).add("CancelRequested", reason="stop")
    assert history.replay(fan_out_and_clean_up).commands == [
        {"type": "request_cancel_activity", "activity_seq": 1},
        {"type": "cancel_timer", "timer_seq": 1},
        {"type": "schedule_activity", "activity_seq": 2, "name": "clean up", "input": None},
    ]
    history.add("TimerCancelled", timer_seq=1).scheduled(2, "clean up").completed(2, None)
    # Activity 1 still runs (it learns of the cancellation from its heartbeat): asking again is a no-op.
    assert history.replay(fan_out_and_clean_up).commands == [
        {"type": "request_cancel_activity", "activity_seq": 1},
        {"type": "cancel_workflow"},
    ]


def test_a_timer_started_in_the_same_task_as_the_signal_race_is_cancelled_with_it() -> None:
    async def after_step(ctx: WorkflowContext, input: Any) -> Any:
        await ctx.execute_activity("prepare")
        return await ctx.wait_for_signal("go", timeout=30)

    history = History().scheduled(1, "prepare").completed(1, None).signal("go", "now")
    assert history.replay(after_step).commands == [
        {"type": "start_timer", "timer_seq": 1, "seconds": 30.0},
        {"type": "cancel_timer", "timer_seq": 1},
        {"type": "complete_workflow", "result": "now"},
    ]
