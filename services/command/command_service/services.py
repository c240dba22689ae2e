"""Write workflows of the command service. Every rule of the data model (README, "What it
is") is kept here."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from shared.api.etags import if_match_versions, job_etag, job_version_sql
from shared.api.problems import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    JobChanged,
    JobNotFound,
)
from shared.domain.enums import JobStatusType
from shared.domain.models import IdempotencyKey, Job, JobStatus

IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
# Expired keys deleted per keyed POST: enough to keep up, small enough to cost nothing.
_IDEMPOTENCY_PURGE_BATCH = 100


@transaction.atomic
def job_create(*, name: str) -> Job:
    """Create a job together with its first event, PENDING, in one transaction."""
    now = timezone.now()
    job = Job.objects.create(
        name=name,
        created_at=now,
        updated_at=now,
        current_status_type=JobStatusType.PENDING,
        current_status_timestamp=now,
    )
    JobStatus.objects.create(job=job, status_type=JobStatusType.PENDING, timestamp=now)
    return job


# Every write to an existing job is one statement that begins the same way: lock the job
# row, then keep it in `matched` only when If-Match names its current version (or when
# there is no If-Match, or it is `*`). That is the one If-Match check of the service:
# strong comparison, since if_match_versions names no version for a weak tag. What the
# statement writes, it writes from `matched`, so a stale ETag writes nothing.
_LOCK_AND_MATCH = f"""
WITH locked AS (
    SELECT id, current_status_timestamp, updated_at
    FROM {Job._meta.db_table} WHERE id = %(job_id)s FOR UPDATE
), matched AS (
    SELECT * FROM locked
    WHERE NOT %(check)s OR {job_version_sql("updated_at")} = ANY(%(versions)s::bigint[])
)"""


def _write_if_match(
    statement: str, *, job_id: int, if_match: str | None, **params: Any
) -> list[Any]:
    """Run a write statement that starts with _LOCK_AND_MATCH and ends with
    `SELECT (SELECT updated_at FROM locked), <what it wrote>`; return what it wrote.

    No job: JobNotFound. A job whose current ETag If-Match does not name: JobChanged,
    with that ETag. Either way the statement wrote nothing.
    """
    versions = if_match_versions(if_match, job_id) if if_match is not None else None
    with connection.cursor() as cursor:
        cursor.execute(
            statement,
            {
                "job_id": job_id,
                "check": versions is not None,
                "versions": versions or [],
                **params,
            },
        )
        locked_at, *written = cursor.fetchone()
    if locked_at is None:
        raise JobNotFound(job_id)
    if written[0] is None:
        raise JobChanged(job_id, job_etag(Job(pk=job_id, updated_at=locked_at)))
    return written


# Appending a status: after the lock and the If-Match check, insert the event at a
# timestamp strictly after the job's latest one and move the job's current status (the
# counters follow in the same statement, by trigger): one round trip instead of the ORM's
# five (docs/decisions.md, "A status append is one SQL statement").
_JOB_COLUMNS = tuple(field.column for field in Job._meta.concrete_fields)
_APPEND_SQL = f"""{_LOCK_AND_MATCH}, stamped AS (
    -- The server clock, but never at or before the job's latest event: two appends in one
    -- microsecond (PostgreSQL's resolution), or a clock that steps back (NTP, another
    -- host), still leave the job's events in strictly increasing order.
    SELECT id,
           greatest(%(now)s::timestamptz, current_status_timestamp + interval '1 microsecond') AS at
    FROM matched
), event AS (
    INSERT INTO {JobStatus._meta.db_table} (job_id, status_type, "timestamp")
    SELECT id, %(status_type)s, at FROM stamped
), moved AS (
    UPDATE {Job._meta.db_table} AS job
    SET current_status_type = %(status_type)s, current_status_timestamp = stamped.at,
        updated_at = stamped.at, name = coalesce(%(name)s, job.name)
    FROM stamped WHERE job.id = stamped.id
    RETURNING {", ".join(f"job.{column}" for column in _JOB_COLUMNS)}
)
SELECT (SELECT updated_at FROM locked), moved.* FROM (SELECT) AS one LEFT JOIN moved ON TRUE
"""


def job_status_append(
    *,
    job_id: int,
    status_type: JobStatusType,
    name: str | None = None,
    if_match: str | None = None,
) -> Job:
    """Append a status event and move the job's current status to it (renaming it if asked).

    The job row is locked first, so concurrent appends on one job serialise, their
    timestamps strictly increase, and the denormalised current status always equals the
    latest event. With `if_match` (an If-Match header), a stale ETag changes nothing.
    One statement, so one transaction (see _APPEND_SQL).
    """
    moved = _write_if_match(
        _APPEND_SQL,
        job_id=job_id,
        if_match=if_match,
        now=timezone.now(),
        status_type=str(status_type),
        name=name,
    )
    return Job.from_db(connection.alias, list(_JOB_COLUMNS), moved)


# Deleting: after the lock and the If-Match check, one DELETE; PostgreSQL's ON DELETE
# CASCADE removes the job's events and the counter trigger fires in the same statement.
_DELETE_SQL = f"""{_LOCK_AND_MATCH}, deleted AS (
    DELETE FROM {Job._meta.db_table} WHERE id IN (SELECT id FROM matched) RETURNING id
)
SELECT (SELECT updated_at FROM locked), (SELECT id FROM deleted)
"""


def job_delete(*, job_id: int, if_match: str | None = None) -> None:
    """Delete a job and its events. With `if_match`, a stale ETag deletes nothing.

    One statement, checked by the same rule as an append (see _LOCK_AND_MATCH).
    """
    _write_if_match(_DELETE_SQL, job_id=job_id, if_match=if_match)


@dataclass(frozen=True)
class StoredResponse:
    status_code: int
    body: Mapping[str, Any]
    headers: Mapping[str, str]
    replayed: bool


def _hold_idempotency_key(key: str) -> None:
    """Hold the key to the end of this transaction: one request per key at a time; a
    duplicate of a request still running is refused at once instead of waiting."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", [key])
        if not cursor.fetchone()[0]:
            raise IdempotencyKeyInFlight


def _stored_response(*, key: str, fingerprint: str, now: datetime) -> StoredResponse | None:
    """The response stored under the key, to replay; None when there is none (an expired
    one is deleted). Another body under the same key is `IdempotencyKeyReused`."""
    stored = IdempotencyKey.objects.filter(key=key).first()
    if stored is not None and stored.created_at <= now - IDEMPOTENCY_KEY_TTL:
        stored.delete()
        return None
    if stored is None:
        return None
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused
    return StoredResponse(
        stored.status_code, stored.response_body, stored.response_headers, replayed=True
    )


@transaction.atomic
def job_create_idempotent(
    *,
    key: str,
    fingerprint: str,
    name: str,
    respond: Callable[[Job], tuple[Mapping[str, Any], Mapping[str, str]]],
) -> StoredResponse:
    """`job_create` under an Idempotency-Key, with Stripe's semantics.

    The key, the fingerprint of the body and the response (`respond(job)` gives its body
    and headers) are stored in the job's own transaction. The same key with the same body
    within 24 hours replays that response; with another body it is refused
    (`IdempotencyKeyReused`); while the first request is still running, a duplicate is
    refused at once (`IdempotencyKeyInFlight`) instead of waiting on its lock.
    """
    _hold_idempotency_key(key)
    now = timezone.now()
    if (replay := _stored_response(key=key, fingerprint=fingerprint, now=now)) is not None:
        return replay
    job = job_create(name=name)
    body, headers = respond(job)
    IdempotencyKey.objects.create(
        key=key,
        fingerprint=fingerprint,
        status_code=201,
        response_body=body,
        response_headers=headers,
        created_at=now,
    )
    idempotency_keys_purge(older_than=now - IDEMPOTENCY_KEY_TTL, limit=_IDEMPOTENCY_PURGE_BATCH)
    return StoredResponse(201, body, headers, replayed=False)


def idempotency_keys_purge(*, older_than: datetime, limit: int) -> int:
    """Delete up to `limit` keys created before `older_than`; returns how many went."""
    expired = IdempotencyKey.objects.filter(created_at__lt=older_than).values("key")[:limit]
    deleted, _ = IdempotencyKey.objects.filter(key__in=expired).delete()
    return deleted


def write_position() -> str:
    """Where the primary's WAL is now: past the commit of every write that has returned,
    so a read instance that has replayed this far sees them all. The insert position, not
    the written one: it is past a commit record whatever synchronous_commit says."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_insert_lsn()::text")
        return cursor.fetchone()[0]
