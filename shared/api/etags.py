"""Entity tags of a job, computed the same way by both services.

A job's version is its `updated_at`: every change (a status appended, with or without a
rename) moves it strictly forward, under the job's row lock. So `"<id>-<updated_at in
microseconds>"` names one state of one job, and the ETag the query service gives is
exactly what the command service checks for If-Match.
"""

from datetime import UTC, datetime, timedelta

from django.utils.http import parse_etags

from shared.domain.models import Job

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def job_etag(job: Job) -> str:
    """The strong ETag of one state of a job, quoted as the header carries it."""
    return job_version_etag(job.pk, (job.updated_at - _EPOCH) // _MICROSECOND)


def job_version_sql(updated_at_column: str) -> str:
    """The same version computed by PostgreSQL from a job's `updated_at` column, for the
    services' SQL (microseconds since the epoch; extract() is exact, numeric)."""
    return f"(extract(epoch FROM {updated_at_column}) * 1000000)::bigint"


def job_version_etag(job_id: int, version: int) -> str:
    """The same ETag from a job's id and version, its `updated_at` in microseconds since
    the epoch (what the query service reads without loading the job)."""
    return f'"{job_id}-{version}"'


def if_match_versions(header: str, job_id: int) -> list[int] | None:
    """The versions of one job that an If-Match header names, for the command service's
    check in SQL (the write goes ahead when the job's current version is one of them).

    RFC 9110 If-Match: `*` (None here: any version) or a listed tag equal to the current
    one under strong comparison, so weak tags (W/"...") name none, nor do other jobs' tags.
    """
    tags = parse_etags(header)
    if "*" in tags:
        return None
    versions = []
    for tag in tags:
        version = tag.strip('"').rpartition("-")[2]
        # Only a tag that is, character for character, this job's tag of that version:
        # not W/"...", not "42-007" for "42-7", ASCII digits only (int() reads Arabic-Indic
        # digits and fails on superscripts), nothing beyond the bigint a version is.
        if (
            version.isascii()
            and version.isdigit()
            and int(version) < 2**63
            and tag == job_version_etag(job_id, int(version))
        ):
            versions.append(int(version))
    return versions


def if_none_match_hit(header: str, current_etag: str) -> bool:
    """RFC 9110 If-None-Match, weak comparison: a 304 is due when any tag matches."""
    tags = parse_etags(header)
    opaque = current_etag.removeprefix("W/")
    return "*" in tags or any(tag.removeprefix("W/") == opaque for tag in tags)
