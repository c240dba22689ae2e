"""The command service's HTTP surface: status codes, bodies, and nothing written on bad input."""

import json

import pytest

from command_service import services
from shared.enums import JobStatusType
from shared.models import Job, JobStatus

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"


def post_json(api, path, body, **extra):
    return api.generic("POST", path, json.dumps(body), content_type="application/json", **extra)


def patch_json(api, path, body):
    return api.generic("PATCH", path, json.dumps(body), content_type="application/json")


def assert_problem(response, status: int, type_slug: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    body = json.loads(response.content)
    assert body["type"] == f"https://jobs.example/problems/{type_slug}"
    assert body["status"] == status
    assert body["title"] and body["detail"]
    return body


def test_post_creates_a_pending_job_and_points_to_it(api):
    response = post_json(api, "/api/jobs/", {"name": "  nightly-etl  "})
    assert response.status_code == 201
    body = response.json()
    assert response["Location"] == f"/api/jobs/{body['id']}/"
    assert body["name"] == "nightly-etl"
    assert body["current_status_type"] == "PENDING"
    assert set(body) == {
        "id",
        "name",
        "current_status_type",
        "current_status_timestamp",
        "created_at",
        "updated_at",
    }
    assert body["created_at"].endswith("Z") and len(body["created_at"]) == 27
    assert JobStatus.objects.filter(job_id=body["id"]).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"name": "bell\x07"}, "name"),
        ({"name": "nul\x00"}, "name"),
        ({"name": "tab\there"}, "name"),
        ({"name": 42}, "name"),
        ({"name": None}, "name"),
        ({"name": ["a"]}, "name"),
        ({"name": "ok", "status": "RUNNING"}, "status"),
        ([{"name": "ok"}], "non_field_errors"),
        ("just a string", "non_field_errors"),
    ],
)
def test_post_rejects_invalid_bodies_and_writes_nothing(api, body, field):
    response = post_json(api, "/api/jobs/", body)
    problem = assert_problem(response, 400, "validation-error")
    assert field in problem["errors"]
    assert Job.objects.count() == 0


def test_post_accepts_a_name_of_exactly_255_characters(api):
    assert post_json(api, "/api/jobs/", {"name": "é" * 255}).status_code == 201


def test_post_reports_an_unknown_field_together_with_other_errors(api):
    problem = assert_problem(post_json(api, "/api/jobs/", {"nmae": "x"}), 400, "validation-error")
    assert set(problem["errors"]) == {"name", "nmae"}


def test_post_with_malformed_json_is_a_400(api):
    response = api.generic("POST", "/api/jobs/", '{"name": ', content_type="application/json")
    assert_problem(response, 400, "malformed-body")
    assert Job.objects.count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_post_with_another_content_type_is_a_415(api, content_type):
    response = api.generic("POST", "/api/jobs/", '{"name": "x"}', content_type=content_type)
    assert_problem(response, 415, "unsupported-media-type")
    assert Job.objects.count() == 0


def test_post_with_a_body_but_no_content_type_is_a_415(api):
    response = api.generic("POST", "/api/jobs/", b'{"name": "x"}', content_type="")
    assert_problem(response, 415, "unsupported-media-type")


def test_patch_appends_a_status_and_returns_the_job(api):
    job = services.job_create(name="etl")
    response = patch_json(api, f"/api/jobs/{job.pk}/", {"status_type": "RUNNING", "name": "etl2"})
    assert response.status_code == 200
    body = response.json()
    assert (body["current_status_type"], body["name"]) == ("RUNNING", "etl2")
    assert body["current_status_timestamp"] > body["created_at"]
    assert JobStatus.objects.filter(job=job).count() == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "status_type"),
        ({"status_type": "DONE"}, "status_type"),
        ({"status_type": "running"}, "status_type"),
        ({"status_type": None}, "status_type"),
        ({"name": "only a name"}, "status_type"),
        ({"status_type": "RUNNING", "name": ""}, "name"),
        ({"status_type": "RUNNING", "status": "x"}, "status"),
    ],
)
def test_patch_rejects_invalid_bodies_and_changes_nothing(api, body, field):
    job = services.job_create(name="etl")
    problem = assert_problem(patch_json(api, f"/api/jobs/{job.pk}/", body), 400, "validation-error")
    assert field in problem["errors"]
    job.refresh_from_db()
    assert (job.name, job.current_status_type) == ("etl", JobStatusType.PENDING)
    assert JobStatus.objects.filter(job=job).count() == 1


def test_the_validation_problem_reads_like_the_contract(api):
    job = services.job_create(name="etl")
    problem = patch_json(api, f"/api/jobs/{job.pk}/", {"status_type": "DONE"}).json()
    assert problem["detail"] == 'status_type: "DONE" is not a valid choice.'
    assert problem["errors"] == {"status_type": ['"DONE" is not a valid choice.']}
    assert problem["instance"] == f"/api/jobs/{job.pk}/"


@pytest.mark.parametrize("job_id", ["999999", str(2**63 - 1), "9" * 40])
def test_patch_of_a_missing_job_is_a_404(api, job_id):
    problem = assert_problem(
        patch_json(api, f"/api/jobs/{job_id}/", {"status_type": "RUNNING"}), 404, "not-found"
    )
    assert problem["detail"] == f"Job {job_id} does not exist."


def test_delete_removes_the_job_then_answers_404(api):
    job = services.job_create(name="doomed")
    assert api.delete(f"/api/jobs/{job.pk}/").status_code == 204
    assert not JobStatus.objects.filter(job_id=job.pk).exists()
    assert_problem(api.delete(f"/api/jobs/{job.pk}/"), 404, "not-found")


def test_unknown_path_and_non_numeric_id_are_problem_404s(api):
    assert_problem(api.delete("/api/jobs/abc/"), 404, "not-found")
    assert_problem(api.post("/api/nothing/"), 404, "not-found")


def test_a_method_the_service_does_not_serve_is_a_405(api):
    response = api.generic("PUT", "/api/jobs/1/", "{}", content_type="application/json")
    assert_problem(response, 405, "method-not-allowed")


def test_the_request_id_from_the_gateway_is_echoed_in_header_and_problem(api):
    response = post_json(api, "/api/jobs/", {}, HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    assert response.json()["request_id"] == "abc-123"


def test_a_request_id_that_is_not_a_plain_token_is_replaced(api):
    response = post_json(api, "/api/jobs/", {}, HTTP_X_REQUEST_ID='bad id"<x>')
    assert response["X-Request-ID"] != 'bad id"<x>'
    assert len(response["X-Request-ID"]) == 32
