"""Answering the permission checks of other services (`assay_common.permission_checks`) over NATS.

Each replica subscribes to the request subject in one queue group, so every check is answered by
exactly one of them. Checks run against the store the request names (the platform's by default);
an answer names the revision it holds at, which the asker keeps with it. A request this service
cannot answer (a bad zookie, an object id the store cannot hold) gets a problem in the reply
instead of silence, so the asker does not wait for its timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from pydantic import ValidationError

from assay_auth.domain.permission_service import Consistency, PermissionStores
from assay_auth.domain.permissions import InvalidRelationship, parse_object_ref, parse_subject_ref
from assay_auth.domain.permissions.relationships import validate_relation_name
from assay_common.errors import AssayError
from assay_common.events.bus import EventBus
from assay_common.permission_checks import CHECK_TOPIC, CheckAnswer, CheckProblem, CheckQuery

log = logging.getLogger("assay.auth.permission_answers")

#: The queue group of the auth replicas.
QUEUE = "auth"


class PermissionAnswers:
    def __init__(self, permissions: PermissionStores) -> None:
        self.permissions = permissions
        # A subscription hands its callback one message at a time: each check runs in a task of
        # its own, so one that reads the database does not hold up those answered from the cache.
        self._running: set[asyncio.Task[None]] = set()

    async def answer(self, request: bytes) -> CheckAnswer:
        try:
            query = CheckQuery.model_validate_json(request)
            items = [
                (parse_object_ref(resource), validate_relation_name(permission), parse_subject_ref(subject))
                for resource, permission, subject in query.checks
            ]
            consistency = (
                Consistency("at_least_as_fresh", query.at_least) if query.at_least else Consistency()
            )
            allowed, at = await self.permissions.check(query.store, items, consistency)
        except ValidationError as exc:
            return _refusal(422, "invalid_permission_check", f"not a check request: {exc.errors()[0]['msg']}")
        except InvalidRelationship as exc:
            return _refusal(422, "invalid_permission_check", str(exc))
        except AssayError as exc:
            return _refusal(exc.status, exc.code, exc.detail)
        return CheckAnswer(allowed=allowed, revision=at.revision)

    async def serve(self, bus: EventBus) -> None:
        """Answer checks until cancelled."""
        subscription = await bus.nc.subscribe(
            bus.subjects.rpc("auth", CHECK_TOPIC), queue=QUEUE, cb=self._start_reply
        )
        await bus.nc.flush()
        try:
            await asyncio.Event().wait()
        finally:
            with contextlib.suppress(NatsError):
                await subscription.unsubscribe()
            for task in list(self._running):
                task.cancel()

    async def _start_reply(self, message: Msg) -> None:
        task = asyncio.create_task(self._reply(message))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _reply(self, message: Msg) -> None:
        answer = await self.answer(message.data)
        try:
            await message.respond(answer.model_dump_json(exclude_defaults=True).encode())
        except NatsError:
            log.warning("could not answer a permission check (the asker may have gone)")


def _refusal(status: int, code: str, detail: str) -> CheckAnswer:
    return CheckAnswer(problem=CheckProblem(status=status, code=code, detail=detail))
