"""The query service's HTTP surface: pages, parameters, and a 400 for every bad one."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from psycopg import sql

from query_service import selectors, statements
from shared.api.serializers import JobOutputSerializer, JobStatusOutputSerializer
from shared.domain.models import Job, JobStatus
from tests.helpers import pages_along

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def test_list_is_a_drf_shaped_page_of_jobs(api, make_job):
    job = make_job("etl", "RUNNING")
    response = api.get("/api/jobs/")
    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "count_exact": True,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": job.pk,
                "name": "etl",
                "current_status_type": "RUNNING",
                "current_status_timestamp": "2026-11-28T12:00:01.000000Z",
                "created_at": "2026-11-28T12:00:00.000000Z",
                "updated_at": "2026-11-28T12:00:01.000000Z",
            }
        ],
    }


def test_list_pages_by_twenty_by_default_with_links(api, make_job):
    for n in range(25):
        make_job(f"job-{n:02}", created=n)
    first = api.get("/api/jobs/").json()
    assert (first["count"], len(first["results"])) == (25, 20)
    assert first["previous"] is None
    assert first["next"] == f"{settings.PUBLIC_BASE_URL}/api/jobs/?limit=20&offset=20"
    second = api.get(first["next"]).json()
    assert [r["name"] for r in second["results"]] == [f"job-{n:02}" for n in range(4, -1, -1)]
    assert second["next"] is None


@pytest.mark.parametrize("pagination", ["", "&pagination=cursor"])
def test_links_name_the_public_address_whatever_the_request_says(
    api, make_job, settings, pagination
):
    settings.PUBLIC_BASE_URL = "https://jobs.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    for n in range(3):
        make_job(f"job-{n}", created=n)
    page = api.get(
        f"/api/jobs/?limit=1{pagination}",
        HTTP_HOST="localhost:9999",
        HTTP_X_FORWARDED_PROTO="http",
        HTTP_X_FORWARDED_HOST="evil.example",
        HTTP_FORWARDED="host=evil.example;proto=http",
    ).json()
    assert page["next"].startswith("https://jobs.example.com/api/jobs/?")
    following = api.get(page["next"], HTTP_HOST="other.example").json()
    assert following["previous"].startswith("https://jobs.example.com/api/jobs/?")


def test_list_limit_above_the_maximum_is_clamped_to_100(api, make_job):
    for n in range(101):
        make_job(f"job-{n}", created=n)
    assert len(api.get("/api/jobs/?limit=1000").json()["results"]) == 100


def test_list_status_takes_commas_and_repeats(api, make_job):
    make_job("waiting")
    make_job("running", "RUNNING")
    make_job("done", "COMPLETED")
    by_comma = api.get("/api/jobs/?status=RUNNING,COMPLETED&ordering=name").json()
    by_repeat = api.get("/api/jobs/?status=RUNNING&status=COMPLETED&ordering=name").json()
    assert [r["name"] for r in by_comma["results"]] == ["done", "running"]
    assert by_repeat == by_comma


def test_list_search_and_ordering(api, make_job):
    make_job("beta-etl", created=1)
    make_job("alpha-ETL", created=2)
    make_job("gamma", created=3)
    body = api.get("/api/jobs/?search=etl&ordering=name").json()
    assert [r["name"] for r in body["results"]] == ["alpha-ETL", "beta-etl"]
    assert body["count"] == 2


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
        (f"offset={2**63}", "offset"),
        ("offset=10001", "offset"),
        ("pagination=pages", "pagination"),
        ("cursor=not-a-cursor", "cursor"),
        ("pagination=cursor&offset=0", "offset"),
        ("pagination=cursor&ordering=name", "ordering"),
        ("status=DONE", "status"),
        ("status=RUNNING,", "status"),
        ("status=running", "status"),
        ("ordering=status", "ordering"),
        ("ordering=", "ordering"),
        ("stauts=RUNNING", "stauts"),
        ("limit=1&limit=2", "limit"),
        ("search=%00", "search"),
        ("search=" + "x" * 256, "search"),
    ],
)
def test_list_answers_400_for_a_bad_parameter(api, query, parameter):
    response = api.get(f"/api/jobs/?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == PROBLEM
    assert parameter in response.json()["errors"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/?format=xml",
        "/api/jobs/?format=json",
        "/api/jobs/summary/?format=api",
        "/api/jobs/summary/?x=1",
        "/api/jobs/{id}/?format=yaml",
        "/api/jobs/{id}/?limit=1",
        "/api/jobs/{id}/statuses/?format=openapi",
    ],
)
def test_any_query_parameter_a_read_does_not_take_is_a_400(api, make_job, path):
    job = make_job("formats")
    response = api.get(path.format(id=job.pk))
    assert response.status_code == 400, response.content
    name = path.split("?")[1].split("=")[0]
    assert response.json()["errors"] == {name: ["Unknown query parameter."]}


def test_detail_returns_the_job(api, make_job):
    job = make_job("etl", "FAILED")
    body = api.get(f"/api/jobs/{job.pk}/").json()
    assert (body["id"], body["current_status_type"]) == (job.pk, "FAILED")


@pytest.mark.parametrize("path", ["/api/jobs/424242/", f"/api/jobs/{'9' * 30}/"])
def test_detail_of_a_missing_job_is_a_problem_404(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == PROBLEM


def test_history_is_a_page_of_events_newest_first(api, make_job):
    job = make_job("etl", "RUNNING", "COMPLETED")
    body = api.get(f"/api/jobs/{job.pk}/statuses/?limit=2").json()
    assert body["count"] == 3
    assert [e["status_type"] for e in body["results"]] == ["COMPLETED", "RUNNING"]
    assert set(body["results"][0]) == {"id", "status_type", "timestamp", "duration_seconds"}
    assert [e["duration_seconds"] for e in body["results"]] == [None, 1.0]
    assert body["next"].endswith(f"/api/jobs/{job.pk}/statuses/?limit=2&offset=2")


@pytest.mark.parametrize("pagination", ["offset", "cursor"])
def test_each_event_says_how_long_the_job_stayed_in_it_across_page_boundaries(
    api, make_job, pagination
):
    """The database computes each duration to the next event, also when that event is on
    another page: a page of one event at a time gives the same durations as one page."""
    job = make_job("etl")
    steps = [timedelta(seconds=90.5), timedelta(microseconds=7), timedelta(hours=26)]
    at = job.created_at
    for status, step in zip(["RUNNING", "FAILED", "RUNNING"], steps, strict=True):
        at += step  # events are immutable (the database refuses an UPDATE): written at their times
        JobStatus.objects.create(job=job, status_type=status, timestamp=at)
    whole = api.get(f"/api/jobs/{job.pk}/statuses/").json()["results"]
    assert [e["duration_seconds"] for e in whole] == [None, 93600.0, 0.000007, 90.5]
    first = api.get(f"/api/jobs/{job.pk}/statuses/?limit=1&pagination={pagination}").json()
    pages = pages_along(first, "next", lambda url: api.get(url).json())
    assert [e for p in pages for e in p["results"]] == whole


def test_history_of_a_missing_job_is_a_404_not_an_empty_page(api):
    response = api.get("/api/jobs/31337/statuses/")
    assert response.status_code == 404
    assert response.json()["detail"] == "Job 31337 does not exist."


def test_history_rejects_list_only_parameters(api, make_job):
    job = make_job("etl")
    response = api.get(f"/api/jobs/{job.pk}/statuses/?status=RUNNING")
    assert response.status_code == 400
    assert response.json()["errors"] == {"status": ["Unknown query parameter."]}


def test_the_openapi_description_is_served(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.oai.openapi")
    assert b"/api/jobs/{job_id}/statuses/:" in response.content


def test_the_query_service_serves_no_writes(api):
    response = api.post("/api/jobs/", {"name": "x"}, format="json")
    assert response.status_code == 405


def test_detail_has_an_etag_and_if_none_match_gives_a_304_without_body(api, make_job):
    job = make_job("etl", "RUNNING")
    first = api.get(f"/api/jobs/{job.pk}/")
    etag = first["ETag"]
    assert etag.startswith(f'"{job.pk}-')
    again = api.get(f"/api/jobs/{job.pk}/", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    other = api.get(f"/api/jobs/{job.pk}/", HTTP_IF_NONE_MATCH='"other"')
    assert other.status_code == 200


@pytest.mark.parametrize("value", ["0.0", "1.5", " 1", "1e2", "+1", "\u0661"])
def test_limit_and_offset_must_be_written_as_integers(api, value):
    for name in ("limit", "offset"):
        response = api.get("/api/jobs/", {name: value})
        assert response.status_code == 400, (name, value)


def test_an_offset_beyond_10000_points_to_the_cursor_mode(api):
    problem = api.get("/api/jobs/?offset=10001").json()
    assert "pagination=cursor" in problem["errors"]["offset"][0]


def test_counts_come_from_the_counters_and_equal_count_star(api, make_job):
    make_job("a")
    make_job("b", "RUNNING")
    make_job("c", "RUNNING", "FAILED")
    response = api.get("/api/jobs/summary/")
    assert response.content == (
        b'{"total":3,"by_status":{"PENDING":1,"RUNNING":1,"COMPLETED":0,"FAILED":1}}'
    )
    assert b'"count":2,' in api.get("/api/jobs/?status=RUNNING,FAILED").content
    assert b'"count":3,' in api.get("/api/jobs/").content


def test_a_search_matching_too_many_jobs_counts_up_to_the_bound_and_says_so(
    api, make_job, monkeypatch
):
    monkeypatch.setattr(statements, "SEARCH_COUNT_LIMIT", 3)
    for n in range(5):
        make_job(f"etl-{n}")
    many = api.get("/api/jobs/?search=etl").json()
    assert (many["count"], many["count_exact"]) == (3, False)
    few = api.get("/api/jobs/?search=etl-4").json()
    assert (few["count"], few["count_exact"]) == (1, True)


@pytest.mark.parametrize("ordering", ["-created_at", "created_at", "-id", "id"])
def test_cursor_pages_walk_the_whole_list_both_ways(api, make_job, ordering):
    jobs = [make_job(f"job-{n}", created=n // 2) for n in range(7)]  # pairs share created_at
    expected = [
        job.pk
        for job in sorted(
            jobs,
            key=lambda j: (j.created_at, j.pk) if "created_at" in ordering else (j.pk,),
            reverse=ordering.startswith("-"),
        )
    ]
    page = api.get(f"/api/jobs/?pagination=cursor&limit=3&ordering={ordering}").json()
    assert page["previous"] is None and page["count"] == 7
    pages = pages_along(page, "next", lambda url: api.get(url).json())
    assert all("offset" not in p["next"] and "cursor=" in p["next"] for p in pages[:-1])
    assert [row["id"] for p in pages for row in p["results"]] == expected
    back_pages = pages_along(pages[-1], "previous", lambda url: api.get(url).json())
    back = [row["id"] for p in reversed(back_pages[1:]) for row in p["results"]]
    assert back == expected[: len(back)] and len(back) == 6


def test_history_cursor_pages(api, make_job):
    job = make_job("etl", "RUNNING", "FAILED", "RUNNING", "COMPLETED")
    first = api.get(f"/api/jobs/{job.pk}/statuses/?pagination=cursor&limit=2").json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    statuses = [e["status_type"] for p in (first, second, third) for e in p["results"]]
    assert statuses == ["COMPLETED", "RUNNING", "FAILED", "RUNNING", "PENDING"]
    assert third["next"] is None
    assert api.get(third["previous"]).json()["results"] == second["results"]


def test_a_cursor_pages_by_cursor_whatever_pagination_says(api, make_job):
    """Generated clients send every parameter's described default, `pagination=offset`
    too, beside the cursor of a next link: the cursor decides. `offset` has no described
    default (cursor pages refuse even 0); without one, offset pages start at 0."""
    for n in range(3):
        make_job(f"job-{n}")
    first = api.get("/api/jobs/?pagination=cursor&limit=2").json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    second = api.get(f"/api/jobs/?pagination=offset&limit=2&cursor={cursor}").json()
    assert second == api.get(first["next"]).json() and len(second["results"]) == 1
    assert api.get("/api/jobs/?limit=2").json() == api.get("/api/jobs/?limit=2&offset=0").json()


def test_a_cursor_of_another_ordering_is_refused(api, make_job):
    make_job("a")
    make_job("b", created=1)
    page = api.get("/api/jobs/?pagination=cursor&limit=1&ordering=id").json()
    response = api.get(page["next"].replace("ordering=id", "ordering=-id"))
    assert response.status_code == 400
    assert "cursor" in response.json()["errors"]


@pytest.mark.parametrize(
    "path", ["/api/jobs/?status=PENDING", "/api/jobs/summary/", "/api/jobs/{id}/statuses/"]
)
def test_conditional_get_gives_304_until_something_changes(api, make_job, path):
    job = make_job("etl")
    url = path.format(id=job.pk)
    first = api.get(url)
    etag = first["ETag"]
    again = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert (again.status_code, again.content, again["ETag"]) == (304, b"", etag)
    Job.objects.filter(pk=job.pk).update(updated_at=job.updated_at + timedelta(seconds=5))
    changed = api.get(url, HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed["ETag"] != etag


def test_list_etags_differ_per_query(api, make_job):
    make_job("etl")
    assert api.get("/api/jobs/?limit=1")["ETag"] != api.get("/api/jobs/?limit=2")["ETag"]


def test_the_json_postgresql_writes_is_exactly_what_the_drf_serializers_describe(api, make_job):
    job = make_job('naïve "etl" ✓', "RUNNING")
    expected = JobOutputSerializer(job).data
    for shown in (
        api.get("/api/jobs/").json()["results"][0],
        api.get(f"/api/jobs/{job.pk}/").json(),
    ):
        assert shown == expected
        assert list(shown) == list(expected)  # the keys in the documented order too
    history = api.get(f"/api/jobs/{job.pk}/statuses/").json()["results"]
    events = list(JobStatus.objects.filter(job=job).order_by("-timestamp"))
    for event, newer in zip(events, [None, *events], strict=False):
        event.duration_seconds = (  # type: ignore[attr-defined]
            None if newer is None else (newer.timestamp - event.timestamp).total_seconds()
        )
    assert history == JobStatusOutputSerializer(events, many=True).data
    assert list(history[0]) == list(JobStatusOutputSerializer.Meta.fields)


def test_every_read_runs_under_the_statement_timeout():
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "2s"


def test_a_read_the_timeout_cancels_is_a_query_timeout_problem_not_an_outage(api):
    """A rare two-letter term reads every job; past the timeout it is stopped and the
    client is told what to change. Not `service-unavailable` with a Retry-After: the
    database is fine, and the same request would take as long again."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO jobs_job (name, created_at, updated_at, current_status_type, "
            "current_status_timestamp) SELECT 'job-' || g, now(), now(), 'PENDING', now() "
            "FROM generate_series(1, 20000) AS g"
        )
        # Scanning 20,000 names takes far longer than this; the real bound is 2 s.
        cursor.execute("SET LOCAL statement_timeout = '1ms'")
    response = api.get("/api/jobs/", {"search": "zq"})
    assert response.status_code == 503
    assert response["Content-Type"] == PROBLEM
    assert "Retry-After" not in response
    problem = response.json()
    assert problem["type"] == "https://jobs.example/problems/query-timeout"
    assert "three or more characters" in problem["detail"]


def test_a_history_page_is_one_statement_and_a_revalidation_reads_the_version_first(api, make_job):
    job = make_job("etl", "RUNNING")
    url = f"/api/jobs/{job.pk}/statuses/"
    with CaptureQueriesContext(connection) as plain:
        first = api.get(url)
    assert first.status_code == 200 and len(plain) == 1
    with CaptureQueriesContext(connection) as revalidation:
        again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert (again.status_code, again["ETag"]) == (304, first["ETag"])
    assert len(revalidation) == 1  # the version alone, no page
    with CaptureQueriesContext(connection) as stale:
        changed = api.get(url, HTTP_IF_NONE_MATCH='"other"')
    assert (changed.status_code, changed["ETag"], len(stale)) == (200, first["ETag"], 2)
    assert changed.json() == first.json()


@pytest.mark.parametrize("headers", [{}, {"HTTP_IF_NONE_MATCH": '"any"'}])
def test_the_history_of_a_missing_job_is_a_problem_404_read_either_way(api, headers):
    response = api.get("/api/jobs/424242/statuses/", **headers)
    assert (response.status_code, response["Content-Type"]) == (404, PROBLEM)
    assert response.json()["detail"] == "Job 424242 does not exist."


@pytest.fixture
def search_regimes(make_job, monkeypatch):
    """Jobs whose searches take each of the three plans of a search's page when a search
    is "rare" up to 3 matches and the walk in the page's order stops after 4 jobs:
    `rare` (one match), `new` (the six newest), `old` (the six oldest)."""
    monkeypatch.setattr(statements, "SEARCH_COUNT_LIMIT", 3)
    monkeypatch.setattr(statements, "SEARCH_WALK_ROWS", 4)
    jobs = [make_job(f"old-{n}", created=n) for n in range(6)]
    jobs += [make_job(f"filler-{n}", created=50 + n // 2) for n in range(10)]  # pairs tie
    jobs.append(make_job("rare-1", created=30))
    jobs += [make_job(f"new-{n}", created=100 + n // 2) for n in range(6)]
    return jobs


def _expected(jobs, term, ordering):
    field = ordering.lstrip("-")
    matching = [job for job in jobs if term in job.name]
    return [
        job.pk
        for job in sorted(
            matching,
            key=lambda job: (getattr(job, field), job.pk),
            reverse=ordering.startswith("-"),
        )
    ]


def _executed_plan_nodes(query):
    """Every node of the plan PostgreSQL ran for `query` (EXPLAIN ANALYZE), depth first."""
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + query.sql, query.params)
        (plan,) = cursor.fetchone()
    nodes, pending = [], [plan[0]["Plan"]]
    while pending:
        node = pending.pop()
        nodes.append(node)
        pending.extend(node.get("Plans", []))
    return nodes


def _page_plan(search, ordering, limit):
    """Which of the three branches of a search's statement gave the page: 1 (sorted from
    all the matches), 2 (the bounded walk in order), 3 (all matches sorted, after the walk
    fell short). Read from the executed plan: the others never run."""
    query = selectors.job_page_query(
        window=selectors.PageWindow(limit=limit),
        statuses=None,
        search=search,
        ordering=ordering,
    )
    (append,) = [node for node in _executed_plan_nodes(query) if node["Node Type"] == "Append"]
    branches = [child["Actual Rows"] > 0 for child in append["Plans"]]
    assert branches.count(True) == 1, branches
    return branches.index(True) + 1


@pytest.mark.parametrize(
    ("term", "ordering", "plan"),
    [
        ("rare", "-created_at", 1),
        ("new", "-created_at", 2),
        ("old", "-created_at", 3),
        ("old", "created_at", 2),
        ("new", "created_at", 3),
        ("old", "name", 3),
    ],
)
def test_a_searchs_page_takes_the_plan_its_matches_call_for(search_regimes, term, ordering, plan):
    assert _page_plan(term, ordering, limit=2) == plan


@pytest.mark.parametrize("ordering", selectors.JOB_ORDERINGS)
@pytest.mark.parametrize("term", ["rare", "new", "old", "-1", "absent"])
def test_search_offset_pages_are_right_whichever_plan_serves_them(
    api, search_regimes, term, ordering
):
    expected = _expected(search_regimes, term, ordering)
    seen = []
    for offset in range(0, 8, 2):
        body = api.get(f"/api/jobs/?search={term}&ordering={ordering}&limit=2&offset={offset}")
        seen += [row["id"] for row in body.json()["results"]]
    assert seen == expected
    count = api.get(f"/api/jobs/?search={term}").json()
    assert (count["count"], count["count_exact"]) == (min(len(expected), 3), len(expected) <= 3)


@pytest.mark.parametrize("ordering", ["-created_at", "created_at", "-id", "id"])
@pytest.mark.parametrize("term", ["rare", "new", "old", "-1"])
def test_search_cursor_pages_walk_both_ways_whichever_plan_serves_them(
    api, search_regimes, term, ordering
):
    expected = _expected(search_regimes, term, ordering)
    page = api.get(f"/api/jobs/?search={term}&pagination=cursor&limit=2&ordering={ordering}")
    pages = pages_along(page.json(), "next", lambda url: api.get(url).json())
    assert [row["id"] for p in pages for row in p["results"]] == expected
    back_pages = pages_along(pages[-1], "previous", lambda url: api.get(url).json())
    assert [row["id"] for p in reversed(back_pages) for row in p["results"]] == expected


def test_a_search_whose_matches_are_far_down_the_order_reads_a_bounded_part_of_it():
    """PostgreSQL's own plan reads the jobs in order expecting matches spread evenly; for a
    term whose matches are all old it read almost every job (docs/decisions.md, "Search
    plans"). Here 20,000 jobs, the 2,000 oldest matching: read in order, the page would
    pass 18,000 jobs first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO jobs_job (name, created_at, updated_at, current_status_type, "
            "current_status_timestamp) SELECT CASE WHEN n <= 2000 THEN 'archive-' ELSE "
            "'nightly-' END || n, ts, ts, 'PENDING', ts FROM generate_series(1, 20000) AS n, "
            "LATERAL (SELECT timestamptz '2026-01-01' + n * interval '1 minute' AS ts) AS t"
        )
        cursor.execute("ANALYZE jobs_job")
        query = selectors.job_page_query(
            window=selectors.PageWindow(limit=20),
            statuses=None,
            search="archive",
            ordering="-created_at",
        )
        cursor.execute(query.sql, query.params)
        _, _, ids, *_ = cursor.fetchone()
    ordered_reads = [
        node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
        for node in _executed_plan_nodes(query)
        if node["Node Type"].startswith("Index")
        and node.get("Index Name") == "jobs_job_created_id_idx"
    ]
    # The walk in the order's index is taken, and stops at its bound (not vacuous: an
    # empty list, the index never used, fails too).
    assert ordered_reads and max(ordered_reads) <= statements.SEARCH_WALK_ROWS
    assert len(ids) == 21 and ids == sorted(ids, reverse=True) and max(ids) == min(ids) + 20
