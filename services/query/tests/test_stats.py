"""GET /api/jobs/stats/: per bucket, the events entering each status, the finishes, the
failure rate and run-time percentiles, read from the rollups the triggers keep."""

import json
import math
import random
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone
from psycopg import sql

from query_service import selectors
from query_service.serializers import MAX_STATS_BUCKETS
from shared.domain import rollups
from shared.domain.models import Job, JobStatus

pytestmark = pytest.mark.django_db

# An hour boundary, so that bucket starts are easy to name.
HOUR = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def iso(at: datetime) -> str:
    return quote(at.isoformat())


@pytest.fixture
def make_history():
    """A job with the events given as (status, seconds after HOUR), first one PENDING,
    inserted in one statement as the seed does (so the triggers see them together)."""

    def make(*events: tuple[str, float]) -> Job:
        times = [HOUR + timedelta(seconds=seconds) for _, seconds in events]
        job = Job.objects.create(
            name="stats",
            created_at=times[0],
            updated_at=times[-1],
            current_status_type=events[-1][0],
            current_status_timestamp=times[-1],
        )
        JobStatus.objects.bulk_create(
            JobStatus(job=job, status_type=status, timestamp=at)
            for (status, _), at in zip(events, times, strict=True)
        )
        return job

    return make


def stats(api, query: str) -> dict:
    response = api.get(f"/api/jobs/stats/?{query}")
    assert response.status_code == 200, response.content
    return response.json()


def test_each_bucket_counts_entries_finishes_and_the_failure_rate(api, make_history):
    make_history(("PENDING", 0), ("RUNNING", 60), ("COMPLETED", 600))
    make_history(("PENDING", 10), ("RUNNING", 70), ("FAILED", 4000))  # fails in hour 2
    make_history(("PENDING", 3700), ("RUNNING", 3800), ("FAILED", 3900))
    body = stats(api, f"since={iso(HOUR)}&until={iso(HOUR + timedelta(hours=3))}&bucket=hour")

    assert [bucket["start"] for bucket in body["buckets"]] == [
        "2026-11-28T12:00:00.000000Z",
        "2026-11-28T13:00:00.000000Z",
        "2026-11-28T14:00:00.000000Z",
    ]
    first, second, empty = body["buckets"]
    assert first["entered"] == {"PENDING": 2, "RUNNING": 2, "COMPLETED": 1, "FAILED": 0}
    assert (first["finished"], first["failure_rate"]) == (1, 0.0)
    assert second["entered"] == {"PENDING": 1, "RUNNING": 1, "COMPLETED": 0, "FAILED": 2}
    assert (second["finished"], second["failure_rate"]) == (2, 1.0)
    assert empty["entered"] == dict.fromkeys(["PENDING", "RUNNING", "COMPLETED", "FAILED"], 0)
    assert (empty["finished"], empty["failure_rate"]) == (0, None)
    assert empty["run_time"] == {
        "count": 0,
        "p50_seconds": None,
        "p95_seconds": None,
        "max_seconds": None,
    }
    assert body["total"]["entered"] == {"PENDING": 3, "RUNNING": 3, "COMPLETED": 1, "FAILED": 2}
    assert (body["total"]["finished"], body["total"]["failure_rate"]) == (3, round(2 / 3, 4))
    assert (body["since"], body["until"]) == (
        "2026-11-28T12:00:00.000000Z",
        "2026-11-28T15:00:00.000000Z",
    )


def test_minute_and_day_buckets_count_the_same_events(api, make_history):
    make_history(("PENDING", 0), ("RUNNING", 61), ("COMPLETED", 125))
    minutes = stats(
        api, f"since={iso(HOUR)}&until={iso(HOUR + timedelta(minutes=3))}&bucket=minute"
    )
    assert [b["entered"]["PENDING"] for b in minutes["buckets"]] == [1, 0, 0]
    assert [b["entered"]["RUNNING"] for b in minutes["buckets"]] == [0, 1, 0]
    assert [b["finished"] for b in minutes["buckets"]] == [0, 0, 1]
    days = stats(api, f"since={iso(HOUR)}&until={iso(HOUR + timedelta(hours=1))}&bucket=day")
    assert [b["start"] for b in days["buckets"]] == ["2026-11-28T00:00:00.000000Z"]
    assert days["total"]["entered"] == minutes["total"]["entered"]


def test_run_time_runs_from_the_first_running_and_needs_one(api, make_history):
    make_history(("PENDING", 0), ("RUNNING", 10), ("RUNNING", 500), ("COMPLETED", 1010))
    make_history(("PENDING", 0), ("COMPLETED", 20))  # never ran: finished, no run time
    run_time = stats(api, f"since={iso(HOUR)}&until={iso(HOUR + timedelta(hours=1))}")["total"]
    assert run_time["finished"] == 2
    assert run_time["run_time"]["count"] == 1
    for figure in ("p50_seconds", "p95_seconds", "max_seconds"):
        assert run_time["run_time"][figure] == pytest.approx(1000, rel=rollups.RELATIVE_ERROR)
    assert run_time["run_time"]["max_seconds"] >= 1000


def test_percentiles_are_within_the_stated_error_of_the_true_ones(api, make_history):
    spread = random.Random(15)
    runs = sorted(spread.lognormvariate(math.log(300), 1.2) for _ in range(200))
    for n, run in enumerate(runs):
        make_history(("PENDING", n), ("RUNNING", n + 1), ("COMPLETED", n + 1 + run))
    body = stats(api, f"since={iso(HOUR)}&until={iso(HOUR + timedelta(days=2))}&bucket=day")
    run_time = body["total"]["run_time"]
    assert run_time["count"] == 200
    error = body["run_time_relative_error"]
    # The true quantiles, by nearest rank.
    assert run_time["p50_seconds"] == pytest.approx(runs[99], rel=error)
    assert run_time["p95_seconds"] == pytest.approx(runs[189], rel=error)
    assert runs[-1] <= run_time["max_seconds"] <= runs[-1] * (1 + error) + 0.001


def test_a_deleted_job_takes_its_counts_back(api, make_history):
    kept = make_history(("PENDING", 0), ("RUNNING", 5), ("FAILED", 50))
    gone = make_history(("PENDING", 1), ("RUNNING", 6), ("COMPLETED", 5000))
    query = f"since={iso(HOUR)}&until={iso(HOUR + timedelta(hours=2))}"
    before = stats(api, query)["total"]
    Job.objects.filter(pk=gone.pk).delete()  # the database cascades to its events
    after = stats(api, query)["total"]

    assert before["run_time"]["count"] == 2
    assert after["entered"] == {"PENDING": 1, "RUNNING": 1, "COMPLETED": 0, "FAILED": 1}
    assert after["run_time"]["count"] == 1
    assert after["run_time"]["max_seconds"] == pytest.approx(45, rel=rollups.RELATIVE_ERROR)
    assert kept.pk in Job.objects.values_list("pk", flat=True)


def test_a_range_is_widened_to_whole_buckets_and_defaults_to_the_last_day(api):
    body = stats(
        api, f"since={iso(HOUR + timedelta(minutes=30))}&until={iso(HOUR + timedelta(minutes=90))}"
    )
    assert (body["since"], body["until"]) == (
        "2026-11-28T12:00:00.000000Z",
        "2026-11-28T14:00:00.000000Z",
    )
    assert len(body["buckets"]) == 2
    default = stats(api, "")
    assert default["bucket"] == "hour"
    until = datetime.fromisoformat(default["until"])
    assert timedelta(0) <= until - datetime.now(UTC) <= timedelta(hours=1)
    assert len(default["buckets"]) in (24, 25)  # 25 unless now is on the hour
    # The default span follows the bucket: an hour of minutes, a month of days.
    assert len(stats(api, "bucket=minute")["buckets"]) in (60, 61)
    assert len(stats(api, "bucket=day")["buckets"]) in (30, 31)


def test_at_most_a_thousand_buckets(api):
    since = HOUR
    until = since + timedelta(minutes=MAX_STATS_BUCKETS)
    fits = stats(api, f"since={iso(since)}&until={iso(until)}&bucket=minute")
    assert len(fits["buckets"]) == MAX_STATS_BUCKETS
    over = api.get(
        f"/api/jobs/stats/?since={iso(since)}"
        f"&until={iso(since + timedelta(minutes=MAX_STATS_BUCKETS + 1))}&bucket=minute"
    )
    assert over.status_code == 400
    assert "bucket" in over.json()["errors"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=2026-11-28T13:00:00Z&until=2026-11-28T12:00:00Z", "until"),
        ("since=2026-11-28T12:00:00Z&until=2026-11-28T12:00:00Z", "until"),
        ("since=2999-01-01T00:00:00Z", "since"),  # after the default until, now
        ("since=2026-11-28T12:00:00", "since"),  # no offset: no instant
        ("until=tomorrow", "until"),
        ("bucket=week", "bucket"),
        ("bucket=", "bucket"),
        ("since=0001-01-01T00:30:00%2B01:00&until=0001-01-02T00:00:00Z", "since"),
        ("since=9999-12-31T00:00:00Z&until=9999-12-31T23:59:59-01:00", "until"),
        ("until=0001-01-01T12:00:00Z", "until"),  # the default since would be before year 1
        ("bucket=hour&bucket=day", "bucket"),
        ("span=1h", "span"),
    ],
)
def test_bad_parameters_are_problems_naming_the_parameter(api, query, field):
    response = api.get(f"/api/jobs/stats/?{query}")
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in response.json()["errors"]


def test_etag_and_304_follow_the_data(api, make_history):
    query = f"/api/jobs/stats/?since={iso(HOUR)}&until={iso(HOUR + timedelta(hours=1))}"
    etag = api.get(query)["ETag"]
    assert api.get(query, HTTP_IF_NONE_MATCH=etag).status_code == 304
    make_history(("PENDING", 30))
    changed = api.get(query, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    other_range = api.get(
        f"/api/jobs/stats/?since={iso(HOUR)}&until={iso(HOUR + timedelta(hours=2))}"
    )
    assert other_range["ETag"] != changed["ETag"]


def test_the_read_touches_only_the_rollups_by_their_keys():
    buckets = selectors.BucketRange(size="hour", first=HOUR, count=168)
    statement = selectors.job_stats_query(buckets)
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")  # tiny tables: read the plan at scale
        cursor.execute(sql.SQL("EXPLAIN ") + statement.sql, statement.params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "jobs_jobstatus" not in plan and "jobs_job " not in plan, plan
    assert "Seq Scan on jobs_status_rollup" not in plan, plan
    assert "Seq Scan on jobs_runtime_rollup" not in plan, plan
    assert plan.count("jobs_status_rollup_pkey") + plan.count("jobs_runtime_rollup_pkey") == 2, plan


@pytest.mark.parametrize("k", range(rollups.LAST_BIN + 1))
def test_the_sql_bin_is_the_python_bin(k):
    # Inside each bin (its geometric middle) and at 0: the two definitions agree.
    seconds = 0.0 if k == 0 else math.sqrt(rollups.lower_bound(k) * rollups.upper_bound(k))
    with connection.cursor() as cursor:
        cursor.execute("SELECT jobs_runtime_bin(%s)", [seconds])
        assert cursor.fetchone()[0] == rollups.bin_of(seconds) == k


def test_the_sql_bin_of_no_run_time_is_none_and_is_inlined():
    """Not STRICT (so the planner inlines it into the triggers' statements), yet a NULL
    run time (no RUNNING before the finish) has no bin: least() alone would give 320."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT jobs_runtime_bin(NULL)")
        assert cursor.fetchone()[0] is None
        cursor.execute("EXPLAIN (VERBOSE) SELECT jobs_runtime_bin(x) FROM generate_series(1, 2) x")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "jobs_runtime_bin" not in plan, plan  # its body, not a call


def test_an_append_that_finishes_a_run_is_binned_without_a_call_of_the_bin(make_job):
    """Inlined into the trigger's statement as well, where the run's start comes from a
    probe of the job's history (a call is planned again on every statement: 0.35 ms of
    each finishing append). track_functions counts only the calls a statement makes."""
    job = make_job("etl", "RUNNING")
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(sum(finished), 0) FROM jobs_runtime_rollup")
        (finished_before,) = cursor.fetchone()
        cursor.execute("SET LOCAL track_functions = 'all'")
        cursor.execute(
            'INSERT INTO jobs_jobstatus (job_id, status_type, "timestamp") '
            "VALUES (%s, 'COMPLETED', now())",
            [job.pk],
        )
        cursor.execute("SELECT funcname, calls FROM pg_stat_xact_user_functions")
        calls = dict(cursor.fetchall())
        cursor.execute("SELECT coalesce(sum(finished), 0) FROM jobs_runtime_rollup")
        (finished_after,) = cursor.fetchone()
    assert finished_after - finished_before == 3  # binned: one per bucket size
    assert calls.get("jobs_rollup_apply") == 1 and "jobs_runtime_bin" not in calls, calls


def test_ranges_in_the_first_years_are_written_with_four_digit_years(api):
    body = stats(api, "since=0001-01-01T00:00:00Z&until=0001-01-01T02:00:00Z&bucket=hour")
    assert (body["since"], body["until"]) == (
        "0001-01-01T00:00:00.000000Z",
        "0001-01-01T02:00:00.000000Z",
    )
    assert body["buckets"][1]["start"] == "0001-01-01T01:00:00.000000Z"


def test_a_lower_case_z_and_digits_past_microseconds_are_rfc_3339_too(api):
    lower = stats(api, "since=2026-11-28T12:00:00z&until=2026-11-28T13:00:00z")
    assert (lower["since"], lower["until"]) == (
        "2026-11-28T12:00:00.000000Z",
        "2026-11-28T13:00:00.000000Z",
    )
    # Until 10:00:00.0000001 holds the instant 10:00:00.000000: its minute is in the range.
    finer = stats(
        api, "since=2026-11-28T09:59:00Z&until=2026-11-28T10:00:00.0000001Z&bucket=minute"
    )
    assert [bucket["start"] for bucket in finer["buckets"]] == [
        "2026-11-28T09:59:00.000000Z",
        "2026-11-28T10:00:00.000000Z",
    ]


def counted_reads(monkeypatch) -> list[int]:
    """How many buckets each stats statement sums the rows of, in order."""
    read: list[int] = []
    statement = selectors.job_stats_query

    def counting(buckets: selectors.BucketRange) -> selectors.Statement:
        read.append(buckets.count)
        return statement(buckets)

    monkeypatch.setattr(selectors, "job_stats_query", counting)
    return read


def test_closed_buckets_are_read_once_until_the_past_changes(api, make_history, monkeypatch):
    make_history(("PENDING", 0), ("RUNNING", 60), ("FAILED", 4000))
    read = counted_reads(monkeypatch)
    query = f"/api/jobs/stats/?since={iso(HOUR)}&until={iso(HOUR + timedelta(hours=3))}"
    first = api.get(query).json()
    again = api.get(query).json()
    assert again == first
    assert read == [3, 0]  # every bucket of 2026-11-28 is closed: kept after the first read

    # A job of that past deleted (or a bulk insert into it) moves the version: read again.
    Job.objects.filter(name="stats").delete()
    after = api.get(query).json()
    assert read == [3, 0, 0, 3]  # the kept ones found stale by the version, then all read
    assert after["total"]["entered"] == dict.fromkeys(
        ["PENDING", "RUNNING", "COMPLETED", "FAILED"], 0
    )


def test_a_kept_prefix_is_summed_once_and_the_open_bucket_counts_every_time(
    api, make_history, monkeypatch
):
    # Three days ago, by day (a fixed date would pass the 1,000-bucket bound one day).
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=3)
    ago = (since - HOUR).total_seconds()
    make_history(("PENDING", ago), ("RUNNING", ago + 60), ("FAILED", ago + 4000))  # closed
    sums: list[int] = []
    summed_runs = selectors._summed_runs

    def counting(runs):
        sums.append(1)
        return summed_runs(runs)

    monkeypatch.setattr(selectors, "_summed_runs", counting)
    query = f"since={iso(since)}&bucket=day"  # until now: today's bucket is open
    first = stats(api, query)
    assert stats(api, query) == first  # the closed days kept, and their sums with them
    assert stats(api, query) == first
    assert len(sums) == 4  # the total each time, the kept days' sums once

    now = timezone.now()
    job = Job.objects.create(
        name="now",
        created_at=now,
        updated_at=now,
        current_status_type="PENDING",
        current_status_timestamp=now,
    )
    JobStatus.objects.create(job=job, status_type="PENDING", timestamp=now)
    after = stats(api, query)
    assert len(sums) == 5  # an append moves no past: the kept sums still hold
    assert after["total"]["entered"]["PENDING"] == first["total"]["entered"]["PENDING"] + 1
    assert after["total"]["entered"]["FAILED"] == first["total"]["entered"]["FAILED"] == 1
    assert after["total"]["run_time"] == first["total"]["run_time"]


def test_the_stats_text_is_the_body_as_json(make_history):
    make_history(("PENDING", 0), ("RUNNING", 60), ("COMPLETED", 600))
    buckets = selectors.BucketRange("minute", HOUR, 15)
    for _ in range(2):  # read, then from the kept buckets
        found = selectors.job_stats(buckets)
        assert found.text() == json.dumps(found.body, separators=(",", ":"))


def test_open_buckets_are_read_every_time(api, monkeypatch):
    read = counted_reads(monkeypatch)
    for _ in range(2):
        assert api.get("/api/jobs/stats/?bucket=minute").status_code == 200
    # An hour of minutes up to now: the last five or six are not closed yet, so read again.
    assert read[0] in (60, 61) and 5 <= read[1] <= 7


def test_a_read_at_an_older_past_version_does_not_replace_what_a_newer_one_kept():
    """Two threads of a process (or a standby behind its primary) can finish their reads
    out of order: the slower one's older buckets are not kept over the newer."""
    closed = selectors._ClosedBuckets()
    newer = selectors._Bucket(dict.fromkeys(("PENDING",), 1), [])
    closed.keep(5, "hour", {0: newer})
    closed.keep(4, "hour", {3600: selectors._Bucket(dict.fromkeys(("PENDING",), 2), [])})
    assert closed.prefix("hour", range(0, 7200, 3600)) == (5, [newer])
