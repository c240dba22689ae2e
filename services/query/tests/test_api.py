"""The query service's HTTP surface: pages, parameters, and a 400 for every bad one."""

import pytest

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def test_list_is_a_drf_shaped_page_of_jobs(api, make_job):
    job = make_job("etl", "RUNNING")
    response = api.get("/api/jobs/")
    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
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
    assert first["next"] == "http://testserver/api/jobs/?limit=20&offset=20"
    second = api.get(first["next"]).json()
    assert [r["name"] for r in second["results"]] == [f"job-{n:02}" for n in range(4, -1, -1)]
    assert second["next"] is None


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
    assert set(body["results"][0]) == {"id", "status_type", "timestamp"}
    assert body["next"].endswith(f"/api/jobs/{job.pk}/statuses/?limit=2&offset=2")


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
