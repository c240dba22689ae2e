"""The schema's own guarantees, checked against PostgreSQL (run with the command settings)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection

from shared.domain.enums import JobStatusType
from shared.domain.models import Job, JobStatus

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 28, 18, 0, tzinfo=UTC)


def make_job(name: str = "nightly-etl") -> Job:
    job = Job.objects.create(
        name=name,
        created_at=NOW,
        updated_at=NOW,
        current_status_type=JobStatusType.PENDING,
        current_status_timestamp=NOW,
    )
    JobStatus.objects.create(job=job, status_type=JobStatusType.PENDING, timestamp=NOW)
    return job


def index_definitions(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE tablename = %s", [table])
        return [row[0] for row in cursor.fetchall()]


def test_history_index_is_job_id_then_timestamp_descending_and_unique():
    definitions = index_definitions("jobs_jobstatus")
    assert any("UNIQUE" in d and '(job_id, "timestamp" DESC)' in d for d in definitions), (
        definitions
    )


@pytest.mark.parametrize(
    ("table", "column"),
    [
        ("jobs_job", "name"),
        ("jobs_job", "current_status_type"),
        ("jobs_jobstatus", "status_type"),
        ("jobs_jobstatus", '"timestamp"'),
    ],
)
def test_design_columns_are_indexed(table, column):
    """Each column the contract calls indexed leads a btree index, so lookups by it use one."""
    leading = f"USING btree ({column}"
    assert any(leading in d for d in index_definitions(table)), index_definitions(table)


def test_no_unused_pattern_index_of_db_index_on_jobs():
    """Every index of jobs_job costs each status append an insertion (the contract's
    indexed columns are indexed in Meta, without the `_like` copies of Django's db_index)."""
    assert not [d for d in index_definitions("jobs_job") if "pattern_ops" in d]


def test_deleting_a_job_in_sql_cascades_to_its_events():
    job = make_job()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM jobs_job WHERE id = %s", [job.pk])
    assert not JobStatus.objects.filter(job_id=job.pk).exists()


def test_two_events_of_one_job_cannot_share_a_timestamp():
    job = make_job()
    with pytest.raises(IntegrityError):
        JobStatus.objects.create(job=job, status_type=JobStatusType.RUNNING, timestamp=NOW)


def test_events_of_different_jobs_may_share_a_timestamp():
    make_job("a")
    make_job("b")
    assert JobStatus.objects.filter(timestamp=NOW).count() == 2


@pytest.mark.parametrize("table", ["jobs_job", "jobs_jobstatus"])
def test_database_rejects_an_unknown_status(table):
    job = make_job()
    column = "current_status_type" if table == "jobs_job" else "status_type"
    with pytest.raises(IntegrityError), connection.cursor() as cursor:
        if table == "jobs_job":
            cursor.execute(f"UPDATE jobs_job SET {column} = 'DONE' WHERE id = %s", [job.pk])
        else:
            cursor.execute(
                "INSERT INTO jobs_jobstatus (job_id, status_type, timestamp) "
                "VALUES (%s, 'DONE', %s)",
                [job.pk, NOW + timedelta(seconds=1)],
            )


def test_database_rejects_an_empty_name():
    with pytest.raises(IntegrityError):
        make_job(name="")


def test_writes_reach_the_trigram_index_through_a_small_pending_list():
    """Appends add each name's trigrams to the search index again; a pending list takes
    them in batches, and at most 128 kB of it (16 pages) is what a search reads besides
    the index. PostgreSQL's default (4 MB) made a rare term four times slower."""
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        cursor.execute(
            "INSERT INTO jobs_job (name, created_at, updated_at, current_status_type, "
            "current_status_timestamp) SELECT 'pending-list-' || md5(g::text), now(), now(), "
            "'PENDING', now() FROM generate_series(1, 3000) AS g"
        )
        cursor.execute(
            "SELECT pending_pages FROM pgstatginindex('jobs_job_name_trgm_idx'::regclass)"
        )
        pending_pages = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM jobs_job WHERE name ILIKE %s", ["%list-%"])
        assert cursor.fetchone()[0] == 3000
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'jobs_job_name_trgm_idx'")
        assert "fastupdate=on" in cursor.fetchone()[0]
    # About 2 MB of entries went in: without the bound they would all be pending now.
    assert pending_pages <= 16
