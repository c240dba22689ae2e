"""Read logic of the query service. Read-only by construction: its database role can only SELECT."""

from dataclasses import dataclass

from django.db.models import QuerySet, Sum

from shared.enums import JobStatusType
from shared.models import Job, JobCounterShard, JobStatus
from shared.problems import ResourceNotFound

# A search that matches more rows than this is not counted to the end: the count says
# "at least this many" (`count_exact: false`), and costs at most this many index hits.
SEARCH_COUNT_LIMIT = 10_000

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


def job_status_list(*, job_id: int) -> tuple[Job, QuerySet[JobStatus]]:
    """A job and its status events, newest first; `ResourceNotFound` when the job does not
    exist.

    An empty history is impossible for an existing job (it always has its PENDING event),
    so an empty result must mean the job is gone, and says so rather than answering [].
    The job comes along because its `updated_at` versions its history (the ETag).
    """
    job = job_get(job_id=job_id)
    return job, JobStatus.objects.filter(job_id=job_id).order_by("-timestamp", "-id")


@dataclass(frozen=True)
class JobCounts:
    by_status: dict[str, int]
    version: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def job_counts() -> JobCounts:
    """Exact counts per current status and the data version, from the 16 counter shards."""
    sums = JobCounterShard.objects.aggregate(
        **{status.lower(): Sum(status.lower()) for status in JobStatusType.values},
        version=Sum("version"),
    )
    return JobCounts(
        by_status={status: sums[status.lower()] or 0 for status in JobStatusType.values},
        version=sums["version"] or 0,
    )


def job_list_count(
    *, statuses: list[str] | None, search: str | None, jobs: QuerySet[Job], counts: JobCounts
) -> tuple[int, bool]:
    """The count of a list: exact and O(1) from the counters without a search; with one,
    counted up to SEARCH_COUNT_LIMIT. Returns (count, exact)."""
    if not search:
        by_status = counts.by_status
        return sum(by_status[status] for status in (statuses or by_status)), True
    capped = jobs.order_by()[: SEARCH_COUNT_LIMIT + 1].count()
    if capped > SEARCH_COUNT_LIMIT:
        return SEARCH_COUNT_LIMIT, False
    return capped, True
