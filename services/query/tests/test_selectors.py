"""Read logic: filters, search, order and windows of the list; one job; a job's history."""

import json
from datetime import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from query_service import selectors, statements
from query_service.selectors import PageWindow
from shared.api.etags import job_etag, job_version_etag
from shared.api.problems import ResourceNotFound

pytestmark = pytest.mark.django_db

PAGE = PageWindow(limit=20)


def names(page: selectors.JobPage) -> list[str]:
    return [job["name"] for job in json.loads(page.rows.json)]


def test_job_page_defaults_to_newest_first(make_job):
    make_job("old", created=0)
    make_job("new", created=10)
    assert names(selectors.job_page(window=PAGE)) == ["new", "old"]


def test_job_page_filters_by_any_of_several_current_statuses(make_job):
    make_job("waiting")
    make_job("running", "RUNNING")
    make_job("failed", "RUNNING", "FAILED")
    rows = selectors.job_page(window=PAGE, statuses=["RUNNING", "FAILED"], ordering="name")
    assert names(rows) == ["failed", "running"]


def test_job_page_search_is_a_case_insensitive_substring_and_escapes_wildcards(make_job):
    make_job("nightly-ETL")
    make_job("etl_hourly")
    make_job("100% done")
    make_job("back\\slash")
    make_job("other")
    found = selectors.job_page(window=PAGE, search="etl", ordering="name")
    assert names(found) == ["etl_hourly", "nightly-ETL"]
    assert names(selectors.job_page(window=PAGE, search="%")) == ["100% done"]
    assert names(selectors.job_page(window=PAGE, search="l_h")) == ["etl_hourly"]
    assert names(selectors.job_page(window=PAGE, search="k\\s")) == ["back\\slash"]


@pytest.mark.parametrize(
    "name", ["it's", 'say "hi"', "%s and %(x)s", "%%s", "$1", "a\\'b", "'); DROP TABLE x;--"]
)
def test_a_search_term_is_text_whatever_it_holds(make_job, name):
    """The term is written into the statement as a literal (its plan depends on it), so
    quotes, backslashes and the placeholder syntax must all stay text."""
    make_job(name)
    make_job("other")
    assert names(selectors.job_page(window=PAGE, search=name)) == [name]
    assert selectors.job_page(window=PAGE, search=name).count == 1


def test_job_page_breaks_ties_by_id_in_the_direction_of_the_order(make_job):
    first = make_job("same", created=0)
    second = make_job("same", created=0)
    for ordering, expected in [
        ("name", [first.pk, second.pk]),
        ("-name", [second.pk, first.pk]),
        ("-created_at", [second.pk, first.pk]),
    ]:
        assert selectors.job_page(window=PAGE, ordering=ordering).rows.ids == expected


def test_job_page_reads_one_row_more_than_it_shows_with_the_sort_keys(make_job):
    jobs = [make_job(f"job-{n}", created=n) for n in range(3)]
    page = selectors.job_page(window=PageWindow(limit=2), ordering="created_at")
    assert names(page) == ["job-0", "job-1"]
    assert page.rows.ids == [job.pk for job in jobs]
    assert [datetime.fromisoformat(key) for key in page.rows.keys] == [
        job.created_at for job in jobs
    ]


def test_job_page_after_a_position_both_ways(make_job):
    jobs = [make_job(f"job-{n}", created=n) for n in range(5)]
    middle = (jobs[2].created_at, jobs[2].pk)
    forward = selectors.job_page(window=PageWindow(limit=2, after=middle), ordering="created_at")
    assert names(forward) == ["job-3", "job-4"]
    backward = selectors.job_page(
        window=PageWindow(limit=2, after=middle, backwards=True), ordering="created_at"
    )
    # Read against the order (job-1, then job-0), shown in the order's direction.
    assert backward.rows.ids == [jobs[1].pk, jobs[0].pk]
    assert names(backward) == ["job-0", "job-1"]


def test_job_page_from_an_offset(make_job):
    for n in range(4):
        make_job(f"job-{n}", created=n)
    page = selectors.job_page(window=PageWindow(limit=2, offset=1), ordering="created_at")
    assert names(page) == ["job-1", "job-2"]


def test_job_page_of_nothing_is_an_empty_array(make_job):
    rows = selectors.job_page(window=PAGE, search="nothing").rows
    assert (rows.json, rows.ids, rows.keys) == ("[]", [], [])


def test_job_detail_and_version_give_the_command_services_etag(make_job):
    job = make_job("etl", "RUNNING")
    body, version = selectors.job_detail(job_id=job.pk)
    assert json.loads(body)["name"] == "etl"
    assert job_version_etag(job.pk, version) == job_etag(job)
    assert selectors.job_version(job_id=job.pk) == version


@pytest.mark.parametrize("selector", [selectors.job_detail, selectors.job_version])
def test_a_missing_job_raises_not_found(selector):
    with pytest.raises(ResourceNotFound, match="Job 5 does not exist"):
        selector(job_id=5)


def test_job_status_page_is_newest_first_with_the_total(make_job):
    job = make_job("etl", "RUNNING", "COMPLETED")
    page = selectors.job_status_page(job_id=job.pk, window=PageWindow(limit=2))
    assert [event["status_type"] for event in json.loads(page.rows.json)] == [
        "COMPLETED",
        "RUNNING",
    ]
    assert (page.count, page.count_exact) == (3, True)


def test_job_status_page_reads_its_jobs_version_in_its_own_statement(make_job):
    job = make_job("etl", "RUNNING")
    with CaptureQueriesContext(connection) as queries:
        page = selectors.job_status_page(job_id=job.pk, window=PAGE)
    assert len(queries) == 1
    assert page.job_version == selectors.job_version(job_id=job.pk)
    with pytest.raises(ResourceNotFound, match=f"Job {job.pk + 1} does not exist"):
        selectors.job_status_page(job_id=job.pk + 1, window=PAGE)


def test_job_page_reads_the_counters_and_a_searchs_matches_in_its_own_statement(make_job):
    make_job("etl-1")
    make_job("etl-2", "RUNNING")
    make_job("other")
    with CaptureQueriesContext(connection) as queries:
        page = selectors.job_page(window=PageWindow(limit=1), search="etl")
    assert len(queries) == 1
    assert page.version == selectors.job_counts().version
    assert (page.count, page.count_exact) == (2, True)
    running = selectors.job_page(window=PAGE, statuses=["RUNNING", "FAILED"])
    assert (running.count, running.count_exact) == (1, True)
    assert selectors.job_page(window=PAGE).count == selectors.job_counts().total == 3


def test_a_searchs_count_stops_at_its_bound_and_says_so(make_job, monkeypatch):
    monkeypatch.setattr(statements, "SEARCH_COUNT_LIMIT", 2)
    for n in range(4):
        make_job(f"etl-{n}")
    page = selectors.job_page(window=PageWindow(limit=1), search="etl")
    assert (page.count, page.count_exact) == (2, False)
    assert selectors.job_page(window=PageWindow(limit=1), search="etl-1").count_exact


@pytest.mark.parametrize("ordering", selectors.JOB_ORDERINGS)
@pytest.mark.parametrize("statuses", [None, ["FAILED"], ["FAILED", "PENDING"]])
def test_every_order_of_the_list_is_read_from_an_index_without_sorting(ordering, statuses):
    """At a million jobs a sort of the list costs a second, an index in the page's order
    reads 21 entries (docs/decisions.md, "Every order of the list reads an index"). With
    sorting priced out, PostgreSQL still sorts when no index gives the order, so the plan
    says which it is."""
    query = selectors.job_page_query(window=PAGE, statuses=statuses, search=None, ordering=ordering)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(sql.SQL("EXPLAIN ") + query.sql, query.params)
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert "Sort" not in plan, plan
    assert "Index Scan" in plan, plan


@pytest.mark.parametrize(
    "path", ["/api/jobs/", "/api/jobs/?search=etl", "/api/jobs/?status=RUNNING&ordering=name"]
)
def test_the_query_service_runs_its_prepared_reads_on_their_generic_plan(api, make_job, path):
    """With PostgreSQL's default plan_cache_mode (auto) a page was planned again on every
    run (its generic plan cannot see the LIMIT, so auto preferred custom plans): a list
    page's planning cost as much CPU as running it."""
    make_job("etl")
    for _ in range(8):
        assert api.get(path).status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SHOW plan_cache_mode")
        assert cursor.fetchone() == ("force_generic_plan",)
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
        cursor.execute(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s",
            ['%row_to_json%FROM "jobs_job"%'],
        )
        ((generic, custom),) = cursor.fetchall()
    assert generic >= 3 and custom == 0, (generic, custom)


def test_the_query_service_prepares_the_statements_it_repeats(api, make_job):
    """Planning a list page cost about as much as running it: after a few runs on a
    connection, psycopg prepares the statement and PostgreSQL plans it no more."""
    make_job("etl")
    for _ in range(6):
        assert api.get("/api/jobs/").status_code == 200
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%row_to_json%FROM "jobs_job"%'],
        )
        assert cursor.fetchone()[0] == 1
