"""Write workflows of the command service. Every rule of DESIGN section 2 is kept here."""

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from shared.enums import JobStatusType
from shared.models import Job, JobStatus
from shared.problems import ResourceNotFound

# Postgres stores microseconds: the smallest step that keeps per-job timestamps distinct.
_TIMESTAMP_STEP = timedelta(microseconds=1)


def _job_not_found(job_id: int) -> ResourceNotFound:
    return ResourceNotFound(f"Job {job_id} does not exist.")


def _next_event_timestamp(*, previous: datetime) -> datetime:
    """The server clock, but never at or before the job's latest event.

    Two appends in the same microsecond, or a clock that steps back (NTP, another host),
    must still leave the job's events in strictly increasing order.
    """
    return max(timezone.now(), previous + _TIMESTAMP_STEP)


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


@transaction.atomic
def job_status_append(*, job_id: int, status_type: JobStatusType, name: str | None = None) -> Job:
    """Append a status event and move the job's current status to it (renaming it if asked).

    The job row is locked first, so concurrent appends on one job serialise, their
    timestamps strictly increase, and the denormalised current status always equals the
    latest event.
    """
    try:
        job = Job.objects.select_for_update().get(pk=job_id)
    except Job.DoesNotExist:
        raise _job_not_found(job_id) from None

    timestamp = _next_event_timestamp(previous=job.current_status_timestamp)
    JobStatus.objects.create(job=job, status_type=status_type, timestamp=timestamp)

    job.current_status_type = status_type
    job.current_status_timestamp = timestamp
    job.updated_at = timestamp
    update_fields = ["current_status_type", "current_status_timestamp", "updated_at"]
    if name is not None:
        job.name = name
        update_fields.append("name")
    job.save(update_fields=update_fields)
    return job


@transaction.atomic
def job_delete(*, job_id: int) -> None:
    """Delete a job; PostgreSQL's ON DELETE CASCADE removes its events in the same statement."""
    deleted, _ = Job.objects.filter(pk=job_id).delete()
    if not deleted:
        raise _job_not_found(job_id)
