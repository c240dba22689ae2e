"""Read logic of the query service. Read-only by construction: its database role can only SELECT."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import CharField, Lookup, QuerySet

from shared.enums import JobStatusType
from shared.models import Job, JobCounterShard, JobStatus
from shared.problems import ResourceNotFound


@CharField.register_lookup
class ContainsIgnoringCase(Lookup):
    """`name ILIKE '%term%'`, which the trigram index on name serves.

    Django's own `icontains` is `UPPER(name) LIKE UPPER(...)`, an expression the index
    does not cover: on a million jobs, a rare term cost a 500 ms scan instead of 1 ms.
    """

    lookup_name = "contains_ignoring_case"

    def as_sql(self, compiler, connection):  # type: ignore[no-untyped-def]
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# A search that matches more rows than this is not counted to the end: the count says
# "at least this many" (`count_exact: false`). Measured at 1M jobs, counting 10,000
# matches of a common term cost 47 ms; 1,000 cost about 5.
SEARCH_COUNT_LIMIT = 1_000

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
        jobs = jobs.filter(name__contains_ignoring_case=_like_pattern(search))
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


# sum() of bigints is numeric in PostgreSQL (a Decimal, rendered 48.0): cast back.
_COUNTS_SQL = (
    "SELECT "
    + ", ".join(f"coalesce(sum({status.lower()}), 0)::bigint" for status in JobStatusType.values)
    + f", coalesce(sum(version), 0)::bigint FROM {JobCounterShard._meta.db_table}"
)


def job_counts() -> JobCounts:
    """Exact counts per current status and the data version, from the 16 counter shards.

    Plain SQL: this runs on every list request, and the ORM's aggregate() cost more to
    build than the 16-row sum costs to run.
    """
    with connection.cursor() as cursor:
        cursor.execute(_COUNTS_SQL)
        *per_status, version = cursor.fetchone()
    return JobCounts(
        by_status=dict(zip(JobStatusType.values, per_status, strict=True)), version=version
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
