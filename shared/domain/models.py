from django.contrib.postgres.indexes import GinIndex
from django.db import models

from shared.domain.enums import JobStatusType

NAME_MAX_LENGTH = 255
# A job's current status is a copy of its latest event's: one width for both columns.
STATUS_MAX_LENGTH = 16
IDEMPOTENCY_KEY_MAX_LENGTH = 255
_STATUS_VALUES = [choice.value for choice in JobStatusType]


class Job(models.Model):
    """A job and its current status, denormalised from its latest `JobStatus` for cheap lists.

    Rows are written only by the command service's `services.py`, which keeps
    `current_status_*` equal to the latest event inside the same transaction.
    """

    # Indexed (the contract calls these columns indexed) by the indexes in Meta that lead
    # with each column, which serve the list's reads. Not by `db_index`: it would add a
    # plain index and an unused `_like` copy, and every index of this table costs each
    # status append an insertion (an append changes indexed columns: never a HOT update).
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    current_status_type = models.CharField(
        max_length=STATUS_MAX_LENGTH, choices=JobStatusType.choices
    )
    current_status_timestamp = models.DateTimeField()

    class Meta:
        db_table = "jobs_job"
        indexes = [
            # The list's default order (-created_at, ties by id) walks this index.
            models.Index(fields=["created_at", "id"], name="jobs_job_created_id_idx"),
            # A page of one status, newest first, walks this index in order (no sort of
            # all the status's rows).
            models.Index(
                fields=["current_status_type", "-created_at", "-id"],
                name="jobs_job_status_created_idx",
            ),
            # Sorting by name or by status time, ties by id, in either direction; with a
            # status filter the same index is walked and the rows of other statuses skipped
            # (each status is a sizeable share of the jobs).
            models.Index(fields=["name", "id"], name="jobs_job_name_id_idx"),
            models.Index(
                fields=["current_status_timestamp", "id"], name="jobs_job_status_time_id_idx"
            ),
            # One status in a status-time window ("FAILED in the last hour"): its page and
            # its count read exactly that status's entries of the window. Without it, a
            # busy hour's count walked every status's entries (98 ms against 12.5 ms at
            # 33,740 changes in the hour); its price, +0.06 ms per append in PostgreSQL
            # (docs/performance.md, 2026-12-01).
            models.Index(
                fields=["current_status_type", "current_status_timestamp", "id"],
                name="jobs_job_status_statustime_idx",
            ),
            # `search` is ILIKE '%term%': a trigram index finds rare terms without a scan.
            # Every status append adds each trigram of the name to it again (the update is
            # never HOT); a small pending list takes those writes in batches and bounds
            # what a search must read besides the index (the sizes weighed:
            # docs/decisions.md, "The trigram index takes writes through a 128 kB
            # pending list").
            GinIndex(
                fields=["name"],
                opclasses=["gin_trgm_ops"],
                fastupdate=True,
                gin_pending_list_limit=128,
                name="jobs_job_name_trgm_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(current_status_type__in=_STATUS_VALUES),
                name="jobs_job_current_status_type_valid",
            ),
            models.CheckConstraint(condition=~models.Q(name=""), name="jobs_job_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"Job {self.pk} {self.name!r} ({self.current_status_type})"


class JobStatus(models.Model):
    """One immutable status event of a job. Never updated; deleted only with its job."""

    # The database cascades (ON DELETE CASCADE, set in migration 0001), so deleting a job is
    # one statement that cannot leave events behind, whoever issues it.
    # No index of its own: the history index below starts with job_id and serves it.
    job = models.ForeignKey(
        Job, on_delete=models.DO_NOTHING, related_name="statuses", db_index=False
    )
    status_type = models.CharField(
        max_length=STATUS_MAX_LENGTH, choices=JobStatusType.choices, db_index=True
    )
    timestamp = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "jobs_jobstatus"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status_type__in=_STATUS_VALUES),
                name="jobs_jobstatus_status_type_valid",
            ),
            # The history index, (job_id, timestamp DESC): history newest first reads it alone.
            # Unique, because timestamps strictly increase per job: two events never share one.
            models.UniqueConstraint(
                models.F("job"), models.F("timestamp").desc(), name="jobs_status_job_ts_desc_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"JobStatus {self.pk} of job {self.job_id}: {self.status_type}"


class IdempotencyKey(models.Model):
    """An Idempotency-Key of a POST, the fingerprint of its body and the response it got.

    Written in the same transaction as the job it created, so a key is stored if and only
    if its job is. Kept 24 hours; the command service purges older rows as it goes.
    """

    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH, primary_key=True)
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    response_headers = models.JSONField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "jobs_idempotencykey"

    def __str__(self) -> str:
        return f"IdempotencyKey {self.key!r} ({self.status_code})"


class JobCounterShard(models.Model):
    """Exact job counts per current status, kept by triggers in the writing transaction.

    Sharded so that concurrent writers do not queue on one row: each database session
    adds to the shard `pg_backend_pid() % 16`, one row per statement (never two, so no
    deadlock between counters). A count is the sum over the 16 rows: O(1) at any table
    size. `version` grows with every statement that changes jobs_job, a cheap global
    "something changed" for the ETags of lists and of the summary. Migration 0004 holds
    the triggers; never write these rows yourself.
    """

    shard = models.SmallIntegerField(primary_key=True)
    pending = models.BigIntegerField(default=0)
    running = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    version = models.BigIntegerField(default=0)

    class Meta:
        db_table = "jobs_counter_shard"

    def __str__(self) -> str:
        return f"JobCounterShard {self.shard}"


# The sizes a rollup row can be of: one row per bucket of each size, so a read of any
# size sums at most a few rows per bucket (shared/domain/rollups.py).
_BUCKET_SIZES = [("minute", "minute"), ("hour", "hour"), ("day", "day")]


class StatusRollup(models.Model):
    """How many events of a status fall in a bucket of time: the stats endpoint's counts.

    Kept by a trigger on the events table (migrations 0010, 0012) in the writing transaction:
    every event adds one to its bucket of each size, and a deleted job's events take
    theirs back. Sharded as JobCounterShard (pg_backend_pid() % 16), so concurrent writers
    do not queue on one row; a bucket's count is the sum over its shards, and a shard's
    own row may be negative. Never write these rows yourself.
    """

    pk = models.CompositePrimaryKey("bucket_size", "bucket_start", "status_type", "shard")
    bucket_size = models.CharField(max_length=8, choices=_BUCKET_SIZES)
    bucket_start = models.DateTimeField()
    status_type = models.CharField(max_length=STATUS_MAX_LENGTH, choices=JobStatusType.choices)
    shard = models.SmallIntegerField()
    entered = models.BigIntegerField()

    class Meta:
        db_table = "jobs_status_rollup"

    def __str__(self) -> str:
        return f"StatusRollup {self.bucket_size} {self.bucket_start} {self.status_type}"


class RunTimeRollup(models.Model):
    """A histogram of run times per bucket: how many finishing events (COMPLETED or
    FAILED) of the bucket came a run time in bin `bin` after the job's first RUNNING.

    Logarithmic bins (shared/domain/rollups.py); kept and sharded as StatusRollup.
    """

    pk = models.CompositePrimaryKey("bucket_size", "bucket_start", "bin", "shard")
    bucket_size = models.CharField(max_length=8, choices=_BUCKET_SIZES)
    bucket_start = models.DateTimeField()
    bin = models.SmallIntegerField()
    shard = models.SmallIntegerField()
    finished = models.BigIntegerField()

    class Meta:
        db_table = "jobs_runtime_rollup"

    def __str__(self) -> str:
        return f"RunTimeRollup {self.bucket_size} {self.bucket_start} bin {self.bin}"


class RollupPastChangeShard(models.Model):
    """How often the rollups changed in buckets that had already closed, per shard as the
    counters: a delete of a job with older events, a bulk insert into the past, a rebuild.
    Appends write the current buckets only and never move it, so while the sum over the
    shards holds still, a closed bucket's figures hold still: the query service keeps
    them (selectors.job_stats). Moved by the rollups trigger (migration 0012); never write it."""

    shard = models.SmallIntegerField(primary_key=True)
    version = models.BigIntegerField()

    class Meta:
        db_table = "jobs_rollup_past_shard"

    def __str__(self) -> str:
        return f"RollupPastChangeShard {self.shard}"
