"""The write workflows and the invariants of DESIGN section 2, against PostgreSQL."""

import threading
from datetime import timedelta
from itertools import pairwise

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext

from command_service import services
from shared.enums import JobStatusType
from shared.models import Job, JobStatus
from shared.problems import ResourceNotFound


def events_of(job: Job) -> list[JobStatus]:
    return list(JobStatus.objects.filter(job=job).order_by("timestamp", "id"))


def assert_invariants(job_id: int) -> None:
    job = Job.objects.get(pk=job_id)
    events = list(JobStatus.objects.filter(job_id=job_id).order_by("timestamp", "id"))
    assert events, "every job has at least one event"
    assert events[0].status_type == JobStatusType.PENDING
    timestamps = [event.timestamp for event in events]
    assert all(a < b for a, b in pairwise(timestamps))
    assert job.current_status_type == events[-1].status_type
    assert job.current_status_timestamp == events[-1].timestamp


@pytest.mark.django_db
def test_job_create_makes_the_job_and_its_pending_event_at_one_instant():
    job = services.job_create(name="nightly-etl")
    [event] = events_of(job)
    assert event.status_type == JobStatusType.PENDING
    assert job.current_status_type == JobStatusType.PENDING
    assert event.timestamp == job.current_status_timestamp == job.created_at == job.updated_at


@pytest.mark.django_db
def test_status_append_locks_job_and_moves_current_status():
    job = services.job_create(name="nightly-etl")
    with CaptureQueriesContext(connection) as queries:
        updated = services.job_status_append(job_id=job.pk, status_type=JobStatusType.RUNNING)
    first_statement = next(q["sql"] for q in queries if q["sql"].startswith("SELECT"))
    assert "FOR UPDATE" in first_statement
    assert updated.current_status_type == JobStatusType.RUNNING
    assert [e.status_type for e in events_of(job)] == ["PENDING", "RUNNING"]
    assert_invariants(job.pk)


@pytest.mark.django_db
def test_status_append_renames_the_job_when_a_name_is_given():
    job = services.job_create(name="old")
    services.job_status_append(job_id=job.pk, status_type=JobStatusType.RUNNING, name="new")
    assert Job.objects.get(pk=job.pk).name == "new"


@pytest.mark.django_db
def test_timestamps_strictly_increase_even_when_the_clock_steps_back(monkeypatch):
    job = services.job_create(name="clock")
    frozen = job.created_at - timedelta(hours=1)
    monkeypatch.setattr(services.timezone, "now", lambda: frozen)
    services.job_status_append(job_id=job.pk, status_type=JobStatusType.RUNNING)
    services.job_status_append(job_id=job.pk, status_type=JobStatusType.COMPLETED)
    timestamps = [e.timestamp for e in events_of(job)]
    assert timestamps == [
        job.created_at,
        job.created_at + timedelta(microseconds=1),
        job.created_at + timedelta(microseconds=2),
    ]
    assert_invariants(job.pk)


@pytest.mark.django_db
def test_status_append_to_a_missing_job_raises_not_found_and_writes_nothing():
    with pytest.raises(ResourceNotFound, match="Job 999 does not exist"):
        services.job_status_append(job_id=999, status_type=JobStatusType.RUNNING)
    assert JobStatus.objects.count() == 0


@pytest.mark.django_db
def test_job_delete_removes_the_job_and_its_events():
    job = services.job_create(name="doomed")
    services.job_status_append(job_id=job.pk, status_type=JobStatusType.FAILED)
    services.job_delete(job_id=job.pk)
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not JobStatus.objects.filter(job_id=job.pk).exists()


@pytest.mark.django_db
def test_job_delete_of_a_missing_job_raises_not_found():
    with pytest.raises(ResourceNotFound):
        services.job_delete(job_id=12345)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_on_one_job_serialise_and_keep_every_invariant():
    job = services.job_create(name="contended")
    statuses = [JobStatusType.RUNNING, JobStatusType.FAILED, JobStatusType.COMPLETED]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def append_many(worker: int) -> None:
        try:
            start.wait()
            for round_ in range(10):
                services.job_status_append(
                    job_id=job.pk, status_type=statuses[(worker + round_) % len(statuses)]
                )
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=append_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert JobStatus.objects.filter(job=job).count() == 1 + 8 * 10
    assert_invariants(job.pk)
