"""Tables of the workflow service (Postgres schema `workflow`, or `workflow.db` on SQLite)."""

import sqlalchemy as sa

from assay_common.db import UtcDateTime
from assay_common.events.outbox import outbox_table, processed_events_table
from assay_common.leadership import leader_leases_table

metadata = sa.MetaData()

#: Statuses of a run that is still open; every other status is final.
OPEN_STATUS = "RUNNING"

namespaces = sa.Table(
    "namespaces",
    metadata,
    sa.Column("name", sa.String(63), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # Whether its `namespace_created` event was published (see migration 0004).
    sa.Column("announced", sa.Boolean, nullable=False, server_default=sa.true()),
    # How long its closed runs are kept (see domain/retention.py); null: the service's default.
    sa.Column("retention_days", sa.Integer, nullable=True),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("namespace", sa.String(63), nullable=False),
    sa.Column("workflow_id", sa.String(255), nullable=False),
    sa.Column("workflow_type", sa.String(255), nullable=False),
    sa.Column("task_queue", sa.String(100), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("input", sa.JSON, nullable=True),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Column("search_attributes", sa.JSON, nullable=False),
    sa.Column("parent_workflow_id", sa.String(255), nullable=True),
    sa.Column("parent_run_id", sa.Uuid, nullable=True),
    sa.Column("parent_child_seq", sa.Integer, nullable=True),
    sa.Column("parent_close_policy", sa.String(20), nullable=True),
    sa.Column("continued_from_run_id", sa.Uuid, nullable=True),
    sa.Column("run_timeout_seconds", sa.Float, nullable=True),
    sa.Column("run_deadline", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime, nullable=True),
    # The workflow task: ready to be claimed (from task_ready_at on), or leased to one worker.
    sa.Column("task_ready", sa.Boolean, nullable=False),
    sa.Column("task_ready_at", UtcDateTime, nullable=True),
    sa.Column("lease_token", sa.Uuid, nullable=True),
    sa.Column("lease_worker_id", sa.String(36), nullable=True),
    sa.Column("lease_expires_at", UtcDateTime, nullable=True),
    sa.Column("lease_history_seq", sa.Integer, nullable=True, comment="last seq the lease's task carried"),
    sa.Column("task_dirty", sa.Boolean, nullable=False, comment="events arrived during the lease"),
    sa.Column("sticky_worker_id", sa.String(36), nullable=True),
    sa.Column("task_attempt", sa.Integer, nullable=False),
    sa.Column(
        "last_seq", sa.Integer, nullable=False, server_default="0", comment="seq of the last history event"
    ),
    # Retention (domain/retention.py): when its history, activities, timers and query state were
    # purged, where they were archived first, the replica's claim while it archives, and the
    # failed uploads so far (they space out the retries).
    sa.Column("purged_at", UtcDateTime, nullable=True),
    sa.Column("archive_uri", sa.Text, nullable=True),
    sa.Column("retention_claim_token", sa.Uuid, nullable=True),
    sa.Column("retention_claim_expires_at", UtcDateTime, nullable=True),
    sa.Column("archive_failures", sa.Integer, nullable=False, server_default="0"),
    sa.Index(
        "runs_open_workflow_id",
        "namespace",
        "workflow_id",
        unique=True,
        postgresql_where=sa.text("status = 'RUNNING'"),
        sqlite_where=sa.text("status = 'RUNNING'"),
    ),
    sa.Index("runs_by_workflow_id", "namespace", "workflow_id", "run_id"),
    sa.Index("runs_claimable", "namespace", "task_queue", "task_ready", "task_ready_at"),
    sa.Index("runs_lease_expiry", "lease_expires_at"),
    sa.Index("runs_deadline", "run_deadline"),
    sa.Index("runs_parent", "parent_run_id", "parent_child_seq"),
    sa.Index(
        "runs_retention_due",
        "namespace",
        "closed_at",
        postgresql_where=sa.text("purged_at IS NULL AND closed_at IS NOT NULL"),
        sqlite_where=sa.text("purged_at IS NULL AND closed_at IS NOT NULL"),
    ),
)

history = sa.Table(
    "history",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("type", sa.String(50), nullable=False),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("activity_seq", sa.Integer, primary_key=True),
    sa.Column("namespace", sa.String(63), nullable=False),
    sa.Column("workflow_id", sa.String(255), nullable=False),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("task_queue", sa.String(100), nullable=False),
    sa.Column("input", sa.JSON, nullable=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("initial_interval", sa.Float, nullable=False),
    sa.Column("backoff_coefficient", sa.Float, nullable=False),
    sa.Column("max_interval", sa.Float, nullable=False),
    sa.Column("non_retryable_errors", sa.JSON, nullable=False),
    sa.Column("schedule_to_start_timeout", sa.Float, nullable=True),
    sa.Column("start_to_close_timeout", sa.Float, nullable=True),
    sa.Column("heartbeat_timeout", sa.Float, nullable=True),
    sa.Column("scheduled_at", UtcDateTime, nullable=False),
    sa.Column("started_at", UtcDateTime, nullable=True),
    sa.Column("timeout_at", UtcDateTime, nullable=True, comment="the earliest timeout now running"),
    sa.Column("lease_token", sa.Uuid, nullable=True),
    sa.Column("worker_id", sa.String(36), nullable=True),
    sa.Column("last_heartbeat", UtcDateTime, nullable=True),
    sa.Column("heartbeat_details", sa.JSON, nullable=True),
    sa.Column("cancel_requested", sa.Boolean, nullable=False),
    sa.Column("result", sa.JSON, nullable=True),
    sa.Column("error", sa.JSON, nullable=True),
    sa.Index("activities_claimable", "namespace", "task_queue", "status", "scheduled_at"),
    sa.Index("activities_timeout", "timeout_at"),
    sa.Index("activities_lease", "lease_token"),
    sa.Index("activities_worker", "worker_id"),
)

timers = sa.Table(
    "timers",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("timer_seq", sa.Integer, primary_key=True),
    sa.Column("fire_at", UtcDateTime, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Index("timers_due", "status", "fire_at"),
)

workers = sa.Table(
    "workers",
    metadata,
    sa.Column("worker_id", sa.String(36), primary_key=True),
    sa.Column("namespace", sa.String(63), nullable=False),
    sa.Column("identity", sa.String(255), nullable=False),
    sa.Column("task_queue", sa.String(100), nullable=False),
    sa.Column("workflow_types", sa.JSON, nullable=False),
    sa.Column("activity_names", sa.JSON, nullable=False),
    sa.Column("max_concurrent_workflow_tasks", sa.Integer, nullable=False),
    sa.Column("max_concurrent_activities", sa.Integer, nullable=False),
    sa.Column("last_heartbeat", UtcDateTime, nullable=False),
    sa.Column("registered_at", UtcDateTime, nullable=False),
    sa.Index("workers_by_namespace", "namespace", "worker_id"),
    sa.Index("workers_heartbeat", "last_heartbeat"),
)

query_state = sa.Table(
    "query_state",
    metadata,
    sa.Column("run_id", sa.Uuid, primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("event_seq", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("namespace", sa.String(63), primary_key=True),
    sa.Column("schedule_id", sa.String(200), primary_key=True),
    # What each fire starts.
    sa.Column("workflow_type", sa.String(255), nullable=False),
    sa.Column("task_queue", sa.String(100), nullable=False),
    sa.Column("input", sa.JSON, nullable=True),
    sa.Column("search_attributes", sa.JSON, nullable=False),
    sa.Column("run_timeout_seconds", sa.Float, nullable=True),
    # When it fires (see domain/schedule_spec.py).
    sa.Column("expression", sa.String(255), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("jitter_seconds", sa.Float, nullable=False),
    sa.Column("start_at", UtcDateTime, nullable=True),
    sa.Column("end_at", UtcDateTime, nullable=True),
    sa.Column("overlap_policy", sa.String(20), nullable=False),
    sa.Column("catchup_window_seconds", sa.Float, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    # The next slot, and when it is due (the slot plus its jitter); null when none is left.
    sa.Column("next_nominal_at", UtcDateTime, nullable=True),
    sa.Column("next_due_at", UtcDateTime, nullable=True),
    sa.Column("last_fired_at", UtcDateTime, nullable=True),
    # Workflow ids it started that may still be open (pruned as they close).
    sa.Column("running", sa.JSON, nullable=False),
    sa.Column("buffered", sa.Integer, nullable=False, comment="fires waiting for a running one to close"),
    sa.Column("missed", sa.Integer, nullable=False, comment="slots past the catch-up window, never fired"),
    sa.Index("schedules_due", "paused", "next_due_at"),
    sa.Index("schedules_buffered", "buffered"),
)

#: One row per fire of a schedule (a slot of its spec, a trigger or a backfilled slot): what
#: became of it. A slot's row is unique, so no slot is acted on twice.
schedule_fires = sa.Table(
    "schedule_fires",
    metadata,
    sa.Column("fire_id", sa.Uuid, primary_key=True),
    sa.Column("namespace", sa.String(63), nullable=False),
    sa.Column("schedule_id", sa.String(200), nullable=False),
    sa.Column("trigger", sa.String(20), nullable=False),
    sa.Column("nominal_at", UtcDateTime, nullable=False),
    sa.Column("fired_at", UtcDateTime, nullable=False),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("workflow_id", sa.String(255), nullable=True),
    sa.Column("run_id", sa.Uuid, nullable=True),
    sa.Column(
        "fencing_token", sa.BigInteger, nullable=True, comment="the scheduler lease it was written under"
    ),
    sa.UniqueConstraint("namespace", "schedule_id", "trigger", "nominal_at", name="schedule_fires_slot"),
    sa.Index("schedule_fires_recent", "namespace", "schedule_id", "fired_at"),
    sa.Index("schedule_fires_buffered", "namespace", "schedule_id", "outcome", "nominal_at"),
)

leader_leases = leader_leases_table(metadata)
outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
