"""Read logic of the query service. Read-only by construction: its database role can only SELECT."""

from django.db.models import QuerySet

from shared.models import Job, JobStatus
from shared.problems import ResourceNotFound

# ordering parameter -> ORDER BY. Every order ends on id, in the same direction, so pages
# are stable when many jobs share a name or a timestamp.
JOB_ORDERINGS: dict[str, tuple[str, str]] = {
    "created_at": ("created_at", "id"),
    "-created_at": ("-created_at", "-id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "current_status_timestamp": ("current_status_timestamp", "id"),
    "-current_status_timestamp": ("-current_status_timestamp", "-id"),
    "id": ("id", "id"),
    "-id": ("-id", "-id"),
}
DEFAULT_JOB_ORDERING = "-created_at"


def job_list(
    *,
    statuses: list[str] | None = None,
    search: str | None = None,
    ordering: str = DEFAULT_JOB_ORDERING,
) -> QuerySet[Job]:
    """Jobs filtered by current status (any of `statuses`) and by a case-insensitive
    substring of the name, in the given order."""
    jobs = Job.objects.all()
    if statuses:
        jobs = jobs.filter(current_status_type__in=statuses)
    if search:
        jobs = jobs.filter(name__icontains=search)
    return jobs.order_by(*dict.fromkeys(JOB_ORDERINGS[ordering]))


def job_get(*, job_id: int) -> Job:
    """One job; `ResourceNotFound` when there is none with this id."""
    try:
        return Job.objects.get(pk=job_id)
    except Job.DoesNotExist:
        raise ResourceNotFound(f"Job {job_id} does not exist.") from None


def job_status_list(*, job_id: int) -> QuerySet[JobStatus]:
    """A job's status events, newest first; `ResourceNotFound` when the job does not exist.

    An empty history is impossible for an existing job (it always has its PENDING event),
    so an empty result must mean the job is gone, and says so rather than answering [].
    """
    if not Job.objects.filter(pk=job_id).exists():
        raise ResourceNotFound(f"Job {job_id} does not exist.")
    return JobStatus.objects.filter(job_id=job_id).order_by("-timestamp", "-id")
