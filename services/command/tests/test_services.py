"""The write workflows and the invariants of the data model, against PostgreSQL."""

import threading
from datetime import timedelta
from itertools import pairwise

import psycopg
import pytest
from django.db import IntegrityError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from command_service import services
from shared.api.etags import job_etag
from shared.api.problems import (
    IdempotencyKeyInFlight,
    IdempotencyKeyReused,
    PreconditionFailed,
    ResourceNotFound,
)
from shared.domain.enums import JobStatusType
from shared.domain.models import IdempotencyKey, Job, JobStatus
from shared.domain.rollups import RECOUNT_DIFFERENCES


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
    assert_rollups_recount()


def assert_rollups_recount() -> None:
    """The stats' rollups hold what a recount of every event gives."""
    with connection.cursor() as cursor:
        differences = {}
        for name, query in RECOUNT_DIFFERENCES.items():
            cursor.execute(query)
            differences[name] = cursor.fetchone()[0]
    assert differences == dict.fromkeys(RECOUNT_DIFFERENCES, 0)


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
    # One statement: its first step locks the job row, before the event and the update.
    (statement,) = [q["sql"] for q in queries]
    lock = statement.index("FOR UPDATE")
    assert lock < statement.index("INSERT INTO") < statement.index("UPDATE jobs_job")
    assert updated.current_status_type == JobStatusType.RUNNING
    assert [e.status_type for e in events_of(job)] == ["PENDING", "RUNNING"]
    assert_invariants(job.pk)


@pytest.mark.django_db
def test_status_append_is_prepared_once_it_repeats_and_stays_correct():
    """PostgreSQL plans the append's statement once per connection, not once per PATCH,
    and the prepared statement still checks If-Match and moves the status."""
    job = services.job_create(name="nightly-etl")
    for status in ["RUNNING", "FAILED", "RUNNING", "COMPLETED", "RUNNING", "FAILED"]:
        job = services.job_status_append(
            job_id=job.pk, status_type=JobStatusType(status), if_match=job_etag(job)
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%WITH locked AS%FOR UPDATE%INSERT INTO%"],  # the append, not the delete
        )
        assert cursor.fetchone()[0] == 1
    with pytest.raises(PreconditionFailed):
        services.job_status_append(
            job_id=job.pk, status_type=JobStatusType.RUNNING, if_match='"stale"'
        )
    assert [e.status_type for e in events_of(job)][-2:] == ["RUNNING", "FAILED"]
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
def test_job_delete_is_one_statement_that_locks_the_job_before_deleting():
    job = services.job_create(name="doomed")
    with CaptureQueriesContext(connection) as queries:
        services.job_delete(job_id=job.pk, if_match=job_etag(job))
    (statement,) = [q["sql"] for q in queries]
    assert statement.index("FOR UPDATE") < statement.index("DELETE FROM")
    assert not Job.objects.filter(pk=job.pk).exists()


@pytest.mark.django_db
def test_job_delete_of_a_missing_job_raises_not_found():
    with pytest.raises(ResourceNotFound):
        services.job_delete(job_id=12345)


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_on_one_job_serialise_and_keep_every_invariant():
    job = services.job_create(name="contended")
    statuses = [JobStatusType.RUNNING, JobStatusType.FAILED, JobStatusType.COMPLETED]
    errors: list[BaseException] = []
    start = threading.Barrier(8, timeout=30)

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

    threads = [threading.Thread(target=append_many, args=(n,), daemon=True) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not [thread for thread in threads if thread.is_alive()], "appends still running"

    assert errors == []
    assert JobStatus.objects.filter(job=job).count() == 1 + 8 * 10
    assert_invariants(job.pk)


@pytest.mark.django_db(transaction=True)
def test_an_append_waits_for_the_one_in_flight_and_stamps_its_event_after_it(monkeypatch):
    """One interleaving, forced: the first append's transaction stays open, its event
    stamped 10 s ahead of the clock; the second, on the clock, must wait for the job's row
    and then stamp after it. Without the row locked first (FOR UPDATE), the second read
    the job as it was before the first and stamped its event before the first's, so the
    job's current status was not its latest event (the 80 appends above can miss that)."""
    job = services.job_create(name="interleaved")
    ahead = timezone.now() + timedelta(seconds=10)
    clock = timezone.now
    in_flight, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                services.job_status_append(job_id=job.pk, status_type=JobStatusType.RUNNING)
                in_flight.set()
                assert release.wait(30), "never released"
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            services.job_status_append(job_id=job.pk, status_type=JobStatusType.FAILED)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, daemon=True) for work in (first, second)]
    monkeypatch.setattr(
        services.timezone,
        "now",
        lambda: ahead if threading.current_thread() is threads[0] else clock(),
    )
    threads[0].start()
    assert in_flight.wait(30), errors
    threads[1].start()
    try:
        _wait_for_a_lock_wait()
    finally:
        release.set()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    assert [e.status_type for e in events_of(job)] == ["PENDING", "RUNNING", "FAILED"]
    assert_invariants(job.pk)


def _wait_for_a_lock_wait() -> None:
    """Until a session of this database waits for a lock (the second append)."""
    deadline = timezone.now() + timedelta(seconds=10)
    with connection.cursor() as cursor:
        while timezone.now() < deadline:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
    raise AssertionError("the second append never waited for the first")


@pytest.mark.django_db
def test_status_append_with_a_stale_etag_changes_nothing():
    job = services.job_create(name="etl")
    stale = job_etag(job)
    services.job_status_append(job_id=job.pk, status_type=JobStatusType.RUNNING, if_match=stale)
    with pytest.raises(PreconditionFailed):
        services.job_status_append(job_id=job.pk, status_type=JobStatusType.FAILED, if_match=stale)
    assert [e.status_type for e in events_of(job)] == ["PENDING", "RUNNING"]


@pytest.mark.django_db
def test_job_delete_with_a_stale_etag_deletes_nothing():
    job = services.job_create(name="etl")
    with pytest.raises(PreconditionFailed):
        services.job_delete(job_id=job.pk, if_match='"1-1"')
    assert Job.objects.filter(pk=job.pk).exists()
    services.job_delete(job_id=job.pk, if_match=job_etag(job))
    assert not Job.objects.filter(pk=job.pk).exists()


# If-Match headers for a job whose ETag is "{id}-{version}", and whether a write goes ahead.
IF_MATCH_HEADERS = [
    ('"{id}-{version}"', True),
    ('"other", "{id}-{version}"', True),
    ("*", True),
    ('W/"{id}-{version}"', False),  # strong comparison: a weak tag never matches
    ('"{id}-0{version}"', False),  # the same number, another tag
    ('"{id}-{version}1"', False),
    ('"{other_id}-{version}"', False),  # another job's tag
    ('"{id}-\u00b2"', False),  # a digit to str.isdigit(), not to int()
    (f'"{{id}}-{2**64}"', False),  # no bigint
    ("", False),
    ("garbage", False),
]


@pytest.mark.parametrize(("header", "goes_ahead"), IF_MATCH_HEADERS)
@pytest.mark.django_db
def test_the_append_and_the_delete_check_if_match_by_one_rule(header, goes_ahead):
    appended, deleted = services.job_create(name="a"), services.job_create(name="d")

    def if_match(job: Job) -> str:
        version = job_etag(job).strip('"').split("-")[1]
        return header.format(id=job.pk, version=version, other_id=job.pk + 100)

    writes = {
        appended.pk: lambda: services.job_status_append(
            job_id=appended.pk, status_type=JobStatusType.RUNNING, if_match=if_match(appended)
        ),
        deleted.pk: lambda: services.job_delete(job_id=deleted.pk, if_match=if_match(deleted)),
    }
    for job_id, write in writes.items():
        if goes_ahead:
            write()
        else:
            with pytest.raises(PreconditionFailed, match=f"Job {job_id} has changed"):
                write()
    assert [e.status_type for e in events_of(appended)][1:] == (["RUNNING"] if goes_ahead else [])
    assert Job.objects.filter(pk=deleted.pk).exists() is not goes_ahead


def _respond(job: Job) -> tuple[dict, dict]:
    return {"id": job.pk, "name": job.name}, {"Location": f"/api/jobs/{job.pk}/"}


@pytest.mark.django_db
def test_idempotent_create_stores_the_key_with_the_job_and_replays_it():
    first = services.job_create_idempotent(key="k1", fingerprint="f", name="a", respond=_respond)
    again = services.job_create_idempotent(key="k1", fingerprint="f", name="a", respond=_respond)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.body == first.body and again.headers == first.headers
    assert Job.objects.count() == 1
    assert IdempotencyKey.objects.get(key="k1").response_body == first.body


@pytest.mark.django_db
def test_idempotent_create_with_another_body_is_refused_and_writes_nothing():
    services.job_create_idempotent(key="k2", fingerprint="f", name="a", respond=_respond)
    with pytest.raises(IdempotencyKeyReused):
        services.job_create_idempotent(key="k2", fingerprint="g", name="b", respond=_respond)
    assert Job.objects.count() == 1


@pytest.mark.django_db
def test_an_expired_key_is_a_new_key_and_old_keys_are_purged():
    services.job_create_idempotent(key="old", fingerprint="f", name="a", respond=_respond)
    services.job_create_idempotent(key="older", fingerprint="f", name="a", respond=_respond)
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))
    reused = services.job_create_idempotent(key="old", fingerprint="g", name="b", respond=_respond)
    assert not reused.replayed
    assert set(IdempotencyKey.objects.values_list("key", flat=True)) == {"old"}


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_while_the_first_is_in_flight_is_refused_at_once():
    started, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def slow_respond(job: Job) -> tuple[dict, dict]:
        started.set()
        release.wait(10)
        return _respond(job)

    def first() -> None:
        try:
            services.job_create_idempotent(
                key="k3", fingerprint="f", name="a", respond=slow_respond
            )
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        with pytest.raises(IdempotencyKeyInFlight):
            services.job_create_idempotent(key="k3", fingerprint="f", name="a", respond=_respond)
    finally:
        release.set()
        thread.join(timeout=30)
    assert not thread.is_alive(), "the first request did not finish"
    assert errors == []
    replay = services.job_create_idempotent(key="k3", fingerprint="f", name="a", respond=_respond)
    assert replay.replayed
    assert Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_deletes_and_appends_keep_the_rollups_equal_to_a_recount():
    jobs = [services.job_create(name=f"rolled-{n}") for n in range(6)]
    for n, job in enumerate(jobs):
        services.job_status_append(job_id=job.pk, status_type=JobStatusType.RUNNING)
        services.job_status_append(
            job_id=job.pk, status_type=JobStatusType.FAILED if n % 2 else JobStatusType.COMPLETED
        )
    services.job_status_append(job_id=jobs[0].pk, status_type=JobStatusType.RUNNING)
    services.job_status_append(job_id=jobs[0].pk, status_type=JobStatusType.FAILED)
    services.job_delete(job_id=jobs[1].pk)
    services.job_delete(job_id=jobs[0].pk)
    assert_rollups_recount()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(entered) FROM jobs_status_rollup WHERE bucket_size = 'day'"
            " AND status_type = 'FAILED'"
        )
        assert cursor.fetchone()[0] == 2  # jobs 3 and 5; job 1's and job 0's went with them


@pytest.mark.django_db(transaction=True)
def test_a_create_and_an_event_first_write_of_one_shard_do_not_deadlock():
    """Two sessions of one rollup shard (pg_backend_pid() % 16), forced into the order
    that deadlocked: A inserts a job (its counter shard row) and holds it; B writes an
    event first (rollup rows of PENDING), then its job (the counter shard row); then A
    inserts its PENDING event. Without the rollup trigger taking the counter row first,
    B held the rollup row A needed while waiting for A's counter row."""
    params = connection.get_connection_params()
    sessions = []
    by_shard: dict[int, psycopg.Connection] = {}
    while True:  # at most 17 sessions: two share a shard
        session = psycopg.connect(**{k: v for k, v in params.items() if k != "cursor_factory"})
        sessions.append(session)
        shard = session.info.backend_pid % 16
        if shard in by_shard:
            a, b = by_shard[shard], session
            break
        by_shard[shard] = session
    existing = services.job_create(name="appended")
    errors: list[BaseException] = []
    b_waits = threading.Event()
    try:
        a.execute(
            "INSERT INTO jobs_job (name, created_at, updated_at, current_status_type,"
            " current_status_timestamp) VALUES ('a', now(), now(), 'PENDING', now())"
        )

        def event_first() -> None:
            try:
                b_waits.set()
                b.execute(
                    "INSERT INTO jobs_jobstatus (job_id, status_type, timestamp)"
                    " VALUES (%s, 'PENDING', clock_timestamp())",
                    [existing.pk],
                )
                b.execute(
                    "UPDATE jobs_job SET current_status_type = 'PENDING',"
                    " current_status_timestamp = clock_timestamp() WHERE id = %s",
                    [existing.pk],
                )
                b.commit()
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        thread = threading.Thread(target=event_first, daemon=True)
        thread.start()
        assert b_waits.wait(10)
        _wait_for_a_lock_wait()
        a.execute(
            "INSERT INTO jobs_jobstatus (job_id, status_type, timestamp)"
            " SELECT currval('jobs_job_id_seq'), 'PENDING', now()"
        )
        a.commit()
        thread.join(timeout=30)
        assert not thread.is_alive()
    finally:
        for session in sessions:
            session.close()
    assert errors == []
    assert_rollups_recount()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE jobs_jobstatus SET status_type = 'FAILED' WHERE job_id = %s",
        "DELETE FROM jobs_jobstatus WHERE job_id = %s AND status_type = 'RUNNING'",
    ],
)
def test_an_event_is_never_changed_nor_deleted_without_its_job(statement):
    """Events are immutable and go with their job: the rollups count them on that rule."""
    job = services.job_create(name="immutable")
    services.job_status_append(job_id=job.pk, status_type=JobStatusType.RUNNING)
    with (
        pytest.raises(IntegrityError, match="status events are"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement, [job.pk])
    assert [e.status_type for e in events_of(job)] == ["PENDING", "RUNNING"]
    assert_rollups_recount()


def _past_changes() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(version), 0) FROM jobs_rollup_past_shard")
        return cursor.fetchone()[0]


@pytest.mark.django_db
def test_only_a_change_to_closed_buckets_moves_the_past_changes_version():
    """The query service keeps closed buckets while this version holds (selectors.py):
    writes stamped now leave it, anything older than five minutes moves it."""
    start = _past_changes()
    job = services.job_create(name="now")
    services.job_status_append(job_id=job.pk, status_type=JobStatusType.RUNNING)
    services.job_status_append(job_id=job.pk, status_type=JobStatusType.COMPLETED)
    services.job_delete(job_id=job.pk)
    assert _past_changes() == start

    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO jobs_job (name, created_at, updated_at, current_status_type,"
            " current_status_timestamp) VALUES ('old', now() - interval '1 hour',"
            " now() - interval '1 hour', 'PENDING', now() - interval '1 hour') RETURNING id"
        )
        (old_id,) = cursor.fetchone()
        cursor.execute(
            "INSERT INTO jobs_jobstatus (job_id, status_type, timestamp)"
            " VALUES (%s, 'PENDING', now() - interval '1 hour')",
            [old_id],
        )
    assert _past_changes() == start + 1  # a bulk insert into the past
    services.job_delete(job_id=old_id)
    assert _past_changes() == start + 2  # a delete of a job with older events
    with connection.cursor() as cursor:
        cursor.execute("SELECT jobs_rollup_rebuild()")
    assert _past_changes() == start + 3
    assert_rollups_recount()
