"""Retention of closed runs: once a run has been closed longer than its namespace keeps runs, its
history, activities, timers and query state are purged (signals are history events), after being
archived to S3 when archival is configured. The run's row stays, as a stub that still describes
the run and says where its archive is.

The `RetentionKeeper` runs on every replica. It claims due runs in bounded batches, each claim a
token with an expiry written on the run's row (the selection skips rows other replicas are
choosing, with SKIP LOCKED on Postgres, and runs whose claim has not expired), uploads each run's
archive, and purges the run only in a transaction that finds its own token still on the row: a
replica whose claim expired and was taken over purges nothing, and nothing is purged before its
upload succeeded. A failed upload leaves the run as it was, to be tried again after a pause that
doubles with each failure.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from assay_common.db import utcnow
from assay_common.errors import Gone, NotFound, Unavailable
from assay_common.events.schemas.workflow import WorkflowPurged
from assay_workflow.domain.archive import (
    ArchiveConfig,
    ArchivedActivity,
    ArchivedEvent,
    ArchiveDocument,
    ArchivedQueryState,
    ArchivedRun,
    ArchivedTimer,
    ArchiveError,
    ArchiveObjectMissing,
    s3_archive,
)
from assay_workflow.domain.engine import Engine, find_run
from assay_workflow.domain.namespaces import MIN_RETENTION_DAYS
from assay_workflow.store import activities as activity_store
from assay_workflow.store import namespaces as namespace_store
from assay_workflow.store import retention as store
from assay_workflow.store import runs as run_store
from assay_workflow.store.namespaces import NamespaceRow
from assay_workflow.store.retention import ClaimedRun, PurgeMark
from assay_workflow.store.rows import RunRow

log = logging.getLogger("assay.workflow.retention")
#: The longest pause before a failed upload is tried again.
LONGEST_RETRY = timedelta(hours=1)
#: Namespaces are read this many at a time.
NAMESPACE_PAGE = 1000


class WorkflowHistoryPurged(Gone):
    code = "workflow_history_purged"
    title = "The run's history was purged after its namespace's retention"


class WorkflowNotArchived(NotFound):
    code = "workflow_not_archived"
    title = "The run has not been archived"


class ArchiveUnavailable(Unavailable):
    code = "archive_unavailable"
    title = "The run's archive cannot be read now"


@dataclass(frozen=True)
class RunArchive:
    """The archive of a purged run, read back."""

    uri: str
    purged_at: datetime
    document: ArchiveDocument


class Retention:
    """Purged runs as callers see them: which runs were, and their archives."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def marks(self, runs: Sequence[RunRow]) -> dict[uuid.UUID, PurgeMark]:
        """The purged runs among `runs`. Runs closed less than the shortest retention ago cannot
        be, so the usual question (about a run that is open or just closed) costs no query."""
        oldest_kept = utcnow() - timedelta(days=MIN_RETENTION_DAYS)
        candidates = [r.run_id for r in runs if r.closed_at is not None and r.closed_at < oldest_kept]
        if not candidates:
            return {}
        async with self.engine.db.read() as conn:
            return await store.purge_marks(conn, candidates)

    async def refuse_if_purged(self, run: RunRow, what: str) -> None:
        """Raise `WorkflowHistoryPurged` (410) when the run's `what` went with its purge."""
        mark = (await self.marks([run])).get(run.run_id)
        if mark is None:
            return
        where = (
            "read it from the archive: GET /api/v1/workflows/{id}/archive"
            if mark.archive_uri
            else "it was not archived"
        )
        raise WorkflowHistoryPurged(
            f"the {what} of run {run.run_id} of workflow {run.workflow_id!r} was purged on "
            f"{mark.purged_at.isoformat()} after its namespace's retention; {where}",
            archive_uri=mark.archive_uri,
            purged_at=mark.purged_at.isoformat(),
        )

    async def archive(self, namespace: str, workflow_id: str, run_id: uuid.UUID | None) -> RunArchive:
        """The archive of the run (its latest run by default), read back from the bucket."""
        async with self.engine.db.read() as conn:
            run = await find_run(conn, namespace, workflow_id, run_id)
            mark = (await store.purge_marks(conn, [run.run_id])).get(run.run_id)
        if mark is None:
            raise WorkflowNotArchived(
                f"run {run.run_id} of workflow {workflow_id!r} has not been purged; its history is "
                "still here: GET /api/v1/workflows/{id}/events"
            )
        if mark.archive_uri is None:
            raise WorkflowHistoryPurged(
                f"run {run.run_id} of workflow {workflow_id!r} was purged without an archive "
                "(archival was not configured)",
                purged_at=mark.purged_at.isoformat(),
            )
        archive = s3_archive(ArchiveConfig.of(self.engine.settings))
        try:
            document = await archive.get(mark.archive_uri)
        except ArchiveObjectMissing as exc:
            raise WorkflowNotArchived(f"the archive of run {run.run_id} is gone: {exc}") from None
        except ArchiveError as exc:
            raise ArchiveUnavailable(str(exc), archive_uri=mark.archive_uri) from None
        return RunArchive(mark.archive_uri, mark.purged_at, document)


class RetentionKeeper:
    """One loop per replica that archives and purges the runs past their namespace's retention."""

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = engine
        self.settings = engine.settings
        self.clock = clock
        #: None: runs are purged without an archive.
        self.bucket = self.settings.archive_s3_bucket

    async def run(self) -> None:
        while True:
            try:
                purged = await self.sweep()
                if purged:
                    log.info("purged %d closed runs past their retention", purged)
            except sa.exc.DBAPIError:
                # A lost connection or a deadlock victim: each run is purged in a transaction of
                # its own and claims expire, so nothing is half-done; look again next time.
                log.warning("retention keeper could not reach the database; retrying", exc_info=True)
            await asyncio.sleep(self.settings.retention_sweep_seconds)

    async def sweep(self) -> int:
        """One pass over every namespace (and the deleted ones that left runs); how many runs it
        purged. It ends early when an upload fails (the bucket is likely unreachable): the next
        pass tries again."""
        purged = 0
        after: str | None = None
        while True:
            async with self.engine.db.read() as conn:
                page = await namespace_store.list_page(conn, after=after, limit=NAMESPACE_PAGE)
            for namespace in page:
                done, uploads_work = await self._sweep_namespace(namespace)
                purged += done
                if not uploads_work:
                    return purged
            if len(page) < NAMESPACE_PAGE:
                break
            after = page[-1].name
        # A deleted namespace's runs stay until the service's default retention has passed.
        async with self.engine.db.read() as conn:
            gone = await store.namespaces_gone(conn)
        for name in gone:
            done, uploads_work = await self._sweep_namespace(NamespaceRow(name, "", self.clock()))
            purged += done
            if not uploads_work:
                break
        return purged

    def retention(self, namespace: NamespaceRow) -> timedelta:
        days = namespace.retention_days
        return timedelta(days=self.settings.default_retention_days if days is None else days)

    async def _sweep_namespace(self, namespace: NamespaceRow) -> tuple[int, bool]:
        """Purge the namespace's due runs, a batch at a time; how many, and False when an upload
        failed."""
        purged = 0
        batch = self.settings.retention_batch_size
        while True:
            now = self.clock()
            token = uuid.uuid4()
            async with self.engine.db.transaction() as tx:
                claimed = await store.claim_due(
                    tx.conn,
                    namespace=namespace.name,
                    closed_before=now - self.retention(namespace),
                    now=now,
                    token=token,
                    claim_expires_at=now + timedelta(seconds=self.settings.retention_claim_seconds),
                    limit=batch,
                )
            for index, item in enumerate(claimed):
                try:
                    purged += await self._retire(item.run, token)
                except ArchiveError as exc:
                    await self._upload_failed(item, token, exc)
                    await self._hand_back(claimed[index + 1 :], token)
                    return purged, False
                except asyncio.CancelledError:
                    # The replica is stopping: the others take these runs now, not at the claims'
                    # expiry (a run this one purged already is no longer claimed).
                    await self._hand_back(claimed[index:], token)
                    raise
            if len(claimed) < batch:
                return purged, True

    async def _hand_back(self, claimed: Sequence[ClaimedRun], token: uuid.UUID) -> None:
        async with self.engine.db.transaction() as tx:
            await store.release(tx.conn, [c.run.run_id for c in claimed], token=token, retry_at=None)

    async def _retire(self, run: RunRow, token: uuid.UUID) -> int:
        """Archive the run (when archival is on), then purge it if this claim still holds; 1 when
        it purged the run."""
        archive_uri = None
        if self.bucket is not None:
            archive = s3_archive(ArchiveConfig.of(self.settings))
            archive_uri = await archive.put(self.bucket, await self.document(run))
        async with self.engine.db.transaction() as tx:
            purged = await store.purge(
                tx.conn, run.run_id, token=token, now=self.clock(), archive_uri=archive_uri
            )
            if purged is None:
                log.info("run %s was taken over by another replica before this one purged it", run.run_id)
                return 0
            assert purged.closed_at is not None  # only closed runs are claimed
            await self.engine.outbox.add(
                tx,
                WorkflowPurged(
                    namespace=purged.namespace,
                    workflow_id=purged.workflow_id,
                    run_id=str(purged.run_id),
                    workflow_type=purged.workflow_type,
                    closed_at=purged.closed_at,
                    archive_uri=archive_uri,
                ),
                namespace=purged.namespace,
                subject=f"workflows/{purged.workflow_id}",
            )
        return 1

    async def _upload_failed(self, item: ClaimedRun, token: uuid.UUID, exc: ArchiveError) -> None:
        failures = item.archive_failures + 1
        pause = min(
            timedelta(seconds=self.settings.archive_retry_seconds * 2 ** (failures - 1)), LONGEST_RETRY
        )
        async with self.engine.db.transaction() as tx:
            await store.fail_archive(
                tx.conn, item.run.run_id, token=token, failures=failures, retry_at=self.clock() + pause
            )
        log.warning(
            "could not archive run %s of workflow %r in namespace %r (failure %d); nothing was purged, "
            "trying again in %.0f s: %s",
            item.run.run_id,
            item.run.workflow_id,
            item.run.namespace,
            failures,
            pause.total_seconds(),
            exc,
        )

    async def document(self, run: RunRow) -> ArchiveDocument:
        """The archive of a closed run: its record and everything purging it removes."""
        async with self.engine.db.read() as conn:
            history = await run_store.events(conn, run.run_id)
            activities = await activity_store.of_run(conn, run.run_id)
            timers = await store.timers_of_run(conn, run.run_id)
            query_state = await run_store.get_query_state(conn, run.run_id)
        return ArchiveDocument(
            archived_at=self.clock(),
            run=ArchivedRun.model_validate(run),
            history=[ArchivedEvent.model_validate(event) for event in history],
            activities=[ArchivedActivity.model_validate(activity) for activity in activities],
            timers=[ArchivedTimer.model_validate(timer) for timer in timers],
            query_state=ArchivedQueryState.model_validate(query_state) if query_state else None,
        )
