"""The list's time windows: created_after/_before and status_changed_after/_before, the
lower bound inclusive and the upper exclusive, with every filter, order and page mode."""

import itertools
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from django.db import connection
from psycopg import sql

from query_service import selectors
from query_service.selectors import PageWindow
from tests.conftest import BASE_TIME
from tests.helpers import pages_along

pytestmark = pytest.mark.django_db


def at(seconds: int) -> str:
    return quote((BASE_TIME + timedelta(seconds=seconds)).isoformat())


@pytest.fixture
def timeline(make_job):
    """Jobs created 0, 10, 20, ... 90 s after BASE_TIME; each moved on once (its status
    time 1 s after its creation), every third to FAILED."""
    return [
        make_job(f"etl-{n}", "FAILED" if n % 3 == 0 else "RUNNING", created=10 * n)
        for n in range(10)
    ]


def ids(api, query: str) -> list[int]:
    return [job["id"] for job in api.get(f"/api/jobs/?{query}").json()["results"]]


def test_created_after_is_inclusive_and_created_before_exclusive(api, timeline):
    found = ids(api, f"created_after={at(20)}&created_before={at(50)}&ordering=created_at")
    assert found == [job.pk for job in timeline[2:5]]


def test_status_changed_window_with_a_status_and_newest_status_first(api, timeline):
    query = f"status=FAILED&status_changed_after={at(31)}&ordering=-current_status_timestamp"
    body = api.get(f"/api/jobs/?{query}").json()
    assert [job["id"] for job in body["results"]] == [
        timeline[9].pk,
        timeline[6].pk,
        timeline[3].pk,
    ]
    assert (body["count"], body["count_exact"]) == (3, True)


def test_a_lower_case_z_and_nanoseconds_name_the_same_instants(api, timeline):
    # 2026-11-28T12:00:20Z is the third job's creation: after it by 1 ns, only later ones.
    assert ids(api, "created_after=2026-11-28t12:00:20z&ordering=created_at")[0] == timeline[2].pk
    later = ids(api, "created_after=2026-11-28T12:00:20.000000001Z&ordering=created_at")
    assert later[0] == timeline[3].pk


def test_windows_combine_with_a_search_and_each_other(api, timeline, make_job):
    make_job("report-1", created=45)
    query = f"search=etl&created_after={at(40)}&status_changed_before={at(71)}"
    assert ids(api, query) == [job.pk for job in reversed(timeline[4:7])]


@pytest.mark.parametrize("pagination", ["offset", "cursor"])
def test_pages_of_a_window_follow_each_other_in_both_modes(api, timeline, pagination):
    first = api.get(
        f"/api/jobs/?created_after={at(10)}&created_before={at(80)}&limit=2"
        f"&pagination={pagination}&ordering=created_at"
    ).json()
    pages = pages_along(first, "next", lambda url: api.get(url).json())
    assert [job["id"] for page in pages for job in page["results"]] == [
        job.pk for job in timeline[1:8]
    ]
    assert "created_after=" in first["next"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("created_after=yesterday", "created_after"),
        ("created_after=2026-11-30T14:00:00", "created_after"),  # no offset: no instant
        ("created_after=2026-11-30", "created_after"),
        ("status_changed_before=2026-13-01T00:00:00Z", "status_changed_before"),
        ("created_after=0001-01-01T00:00:00%2B01:00", "created_after"),  # before year 1 in UTC
        ("created_before=9999-12-31T23:59:59-01:00", "created_before"),  # after 9999 in UTC
        ("created_after=2026-11-30T14:00:00Z&created_after=2026-11-30T15:00:00Z", "created_after"),
        (f"created_after={at(50)}&created_before={at(20)}", "created_before"),  # reversed
        (f"created_after={at(20)}&created_before={at(20)}", "created_before"),  # empty
        (f"status_changed_after={at(9)}&status_changed_before={at(9)}", "status_changed_before"),
    ],
)
def test_a_bad_or_reversed_bound_is_a_400_naming_it(api, query, field):
    response = api.get(f"/api/jobs/?{query}")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()


def test_a_wide_window_is_counted_up_to_the_search_bound(api, make_job, monkeypatch):
    monkeypatch.setattr(selectors.statements, "SEARCH_COUNT_LIMIT", 3)
    selectors._job_page_sql.cache_clear()
    try:
        for n in range(5):
            make_job(f"etl-{n}", created=n)
        body = api.get(f"/api/jobs/?created_after={at(0)}&limit=1").json()
    finally:
        selectors._job_page_sql.cache_clear()
    assert body["count_exact"] is False and body["count"] >= 3


@pytest.mark.parametrize(
    ("statuses", "ordering", "bounds"),
    [
        (["FAILED"], "-current_status_timestamp", ("status_changed_after",)),
        (None, "-current_status_timestamp", ("status_changed_after", "status_changed_before")),
        (None, "-created_at", ("created_after",)),
        (["FAILED", "PENDING"], "created_at", ("created_after", "created_before")),
    ],
)
def test_a_window_in_its_orders_column_is_read_from_an_index_without_sorting(
    statuses, ordering, bounds
):
    """ "FAILED in the last hour, newest status first" at a million jobs costs what a first
    page costs: an index in the page's order reads the window's range, and the count reads
    the same range up to its bound. With sorting and scans priced out, PostgreSQL still
    sorts or scans the table when no index serves, so the plan says which it is."""
    instant = BASE_TIME
    query = selectors.job_page_query(
        window=PageWindow(limit=20),
        statuses=statuses,
        search=None,
        ordering=ordering,
        times=dict.fromkeys(bounds, instant),
    )
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(sql.SQL("EXPLAIN ") + query.sql, query.params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Sort" not in plan and "Seq Scan on jobs_job " not in plan, plan
    # Not the status's own index, which reads every job of the status to filter the window.
    assert "jobs_job_status_created_idx" not in plan or "created" in bounds[0], plan
    assert "Index" in plan, plan


_PROBES = itertools.count()


def _generic_plan(query) -> str:
    """The plan the service runs for `query`: prepared afresh (psycopg's own prepared
    statement of the shape may hold a plan made on other data) and planned on the
    connection's plan_cache_mode, its parameters given as the query's values."""
    text = query.sql.as_string(connection.connection)
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", text)))  # in order, once each
    positional = sql.SQL(text % {name: f"${n}" for n, name in enumerate(names, start=1)})
    arguments = sql.SQL(", ").join(sql.Literal(query.params[name]) for name in names)
    name = sql.Identifier(f"generic_probe_{next(_PROBES)}")  # none left over can clash
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("PREPARE {} AS ").format(name) + positional)
        cursor.execute(sql.SQL("EXPLAIN EXECUTE {}({})").format(name, arguments))
        plan = "\n".join(line for (line,) in cursor.fetchall())
        cursor.execute(sql.SQL("DEALLOCATE {}").format(name))
    return plan


def test_one_status_in_a_busy_status_time_window_is_read_from_its_own_index_on_the_generic_plan():
    """The service runs a page on its generic plan, which sees no parameter's value. With
    random pages priced at PostgreSQL's default, four sequential ones, it preferred the
    status-time index, whose order is the heap's, and filtered the status: in a busy hour
    24,685 rows read for a page of 21 at a million jobs (docs/performance.md, 2026-12-01).
    Here 25,000 status changes in heap order, a quarter of them FAILED: a table on which
    the generic plan takes the status-time index and filters at the default price, as it
    did there, and the status's own index at the service's."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
        cursor.execute("SHOW random_page_cost")
        assert cursor.fetchone() == ("1.1",)
        # A new, empty heap (rolled back with the test): the pages other tests' rolled-back
        # rows left in the table would change the plan's costs from run to run.
        cursor.execute("TRUNCATE jobs_job CASCADE")
        cursor.execute(
            "INSERT INTO jobs_job (name, created_at, updated_at, current_status_type, "
            "current_status_timestamp) SELECT 'etl-' || n, ts, ts, "
            "(ARRAY['PENDING', 'RUNNING', 'COMPLETED', 'FAILED'])[1 + n % 4], ts "
            "FROM generate_series(1, 25000) AS n, "
            "LATERAL (SELECT timestamptz '2026-01-01' + n * interval '1 second' AS ts) AS t"
        )
        cursor.execute("ANALYZE jobs_job")
    query = selectors.job_page_query(
        window=PageWindow(limit=20),
        statuses=["FAILED"],
        search=None,
        ordering="-current_status_timestamp",
        times={"status_changed_after": datetime(2026, 1, 1, 5, tzinfo=UTC)},
    )
    plan = _generic_plan(query)
    # The page and its count: both through the status's own index, neither filtering.
    assert plan.count("jobs_job_status_statustime_idx") == 2, plan
    assert "Filter" not in plan, plan
