"""The command service's HTTP surface: status codes, bodies, and nothing written on bad input."""

import json
import re

import pytest
from django.db import OperationalError, connection

from command_service import services
from shared.api import consistency
from shared.api.etags import job_etag
from shared.domain.enums import JobStatusType
from shared.domain.models import IDEMPOTENCY_KEY_MAX_LENGTH, Job, JobStatus

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


def test_post_and_patch_return_the_etag_the_query_side_gives(api):
    created = post_json(api, "/api/jobs/", {"name": "etl"})
    job = Job.objects.get(pk=created.json()["id"])
    assert created["ETag"] == job_etag(job)
    patched = patch_json(api, f"/api/jobs/{job.pk}/", {"status_type": "RUNNING"})
    job.refresh_from_db()
    assert patched["ETag"] == job_etag(job)
    assert patched["ETag"] != created["ETag"]


def test_patch_with_a_stale_if_match_is_a_412_and_changes_nothing(api):
    created = post_json(api, "/api/jobs/", {"name": "etl"})
    path = f"/api/jobs/{created.json()['id']}/"
    body = json.dumps({"status_type": "RUNNING"})
    ok = api.generic(
        "PATCH", path, body, content_type="application/json", HTTP_IF_MATCH=created["ETag"]
    )
    assert ok.status_code == 200
    stale = api.generic(
        "PATCH", path, body, content_type="application/json", HTTP_IF_MATCH=created["ETag"]
    )
    assert_problem(stale, 412, "precondition-failed")
    assert JobStatus.objects.filter(job_id=created.json()["id"]).count() == 2


def test_delete_with_a_stale_if_match_is_a_412_and_deletes_nothing(api):
    created = post_json(api, "/api/jobs/", {"name": "etl"})
    path = f"/api/jobs/{created.json()['id']}/"
    assert_problem(api.delete(path, HTTP_IF_MATCH='"0-0"'), 412, "precondition-failed")
    assert api.delete(path, HTTP_IF_MATCH=created["ETag"]).status_code == 204


def test_the_same_idempotency_key_and_body_replay_the_first_response(api):
    first = post_json(api, "/api/jobs/", {"name": "once"}, HTTP_IDEMPOTENCY_KEY="key-1")
    again = post_json(api, "/api/jobs/", {"name": "once"}, HTTP_IDEMPOTENCY_KEY="key-1")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again["Location"] == first["Location"] and again["ETag"] == first["ETag"]
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert Job.objects.count() == 1


def test_the_same_idempotency_key_with_another_body_is_a_422(api):
    post_json(api, "/api/jobs/", {"name": "once"}, HTTP_IDEMPOTENCY_KEY="key-2")
    other = post_json(api, "/api/jobs/", {"name": "twice"}, HTTP_IDEMPOTENCY_KEY="key-2")
    assert_problem(other, 422, "idempotency-key-reused")
    assert Job.objects.count() == 1


def test_key_order_and_whitespace_do_not_change_the_fingerprint(api):
    api.generic(
        "POST",
        "/api/jobs/",
        '{"name":"x"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key-3",
    )
    again = api.generic(
        "POST",
        "/api/jobs/",
        '{ "name" : "x" }',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="key-3",
    )
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "a" * 256, "has space", "tab\tkey", "é"])
def test_a_malformed_idempotency_key_is_a_400_and_writes_nothing(api, key):
    response = post_json(api, "/api/jobs/", {"name": "x"}, HTTP_IDEMPOTENCY_KEY=key)
    problem = assert_problem(response, 400, "validation-error")
    assert "Idempotency-Key" in problem["errors"]
    assert Job.objects.count() == 0


def test_the_longest_idempotency_key_the_column_holds_is_taken_and_replayed(api):
    key = "~" * IDEMPOTENCY_KEY_MAX_LENGTH
    first = post_json(api, "/api/jobs/", {"name": "x"}, HTTP_IDEMPOTENCY_KEY=key)
    again = post_json(api, "/api/jobs/", {"name": "x"}, HTTP_IDEMPOTENCY_KEY=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


def test_an_invalid_body_with_a_key_stores_no_key(api):
    post_json(api, "/api/jobs/", {"name": ""}, HTTP_IDEMPOTENCY_KEY="key-4")
    ok = post_json(api, "/api/jobs/", {"name": "fixed"}, HTTP_IDEMPOTENCY_KEY="key-4")
    assert ok.status_code == 201 and "Idempotent-Replayed" not in ok


@pytest.mark.parametrize(
    ("body", "slug"),
    [
        (b'{"name": "a", "name": "b"}', "malformed-body"),
        (b"[" * 5000 + b"]" * 5000, "malformed-body"),
        (b'{"name": "\xc3\x28"}', "malformed-body"),
        (b'{"name": NaN}', "malformed-body"),
    ],
)
def test_hostile_bodies_are_400s_that_write_nothing(api, body, slug):
    response = api.generic("POST", "/api/jobs/", body, content_type="application/json")
    assert_problem(response, 400, slug)
    assert Job.objects.count() == 0


@pytest.mark.parametrize(
    "charset", ["klingon", "rot13", "base64", "zlib", "hex", "latin-1", "utf-16", "us-ascii"]
)
def test_a_body_in_any_charset_but_utf8_is_a_415_that_writes_nothing(api, charset):
    response = api.generic(
        "POST",
        "/api/jobs/",
        b'{"name": "x"}',
        content_type=f"application/json; charset={charset}",
    )
    problem = assert_problem(response, 415, "unsupported-media-type")
    assert "UTF-8" in problem["detail"]
    assert Job.objects.count() == 0


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", '"utf-8"', "utf8"])
def test_utf8_is_accepted_however_it_is_spelled(api, charset):
    response = api.generic(
        "POST",
        "/api/jobs/",
        '{"name": "é"}'.encode(),
        content_type=f"application/json; charset={charset}",
    )
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "é"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"name": "\\ud800"}', "name"),
        (b'{"name": "ok \\udfff"}', "name"),
        (b'{"name": "x", "\\ud800": 1}', "\\ud800"),
        (b'{"name": "x", "extra": ["\\udc00"]}', "extra.0"),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_its_field_and_writes_nothing(api, body, field):
    response = api.generic("POST", "/api/jobs/", body, content_type="application/json")
    problem = assert_problem(response, 400, "validation-error")
    assert field in problem["errors"]
    assert Job.objects.count() == 0


def test_a_lone_surrogate_in_an_append_is_a_400_and_appends_nothing(api):
    job = services.job_create(name="unicode")
    for body, field in [
        (b'{"status_type": "\\ud800"}', "status_type"),
        (b'{"status_type": "RUNNING", "\\ud800": 1}', "\\ud800"),
    ]:
        response = api.generic(
            "PATCH", f"/api/jobs/{job.pk}/", body, content_type="application/json"
        )
        assert field in assert_problem(response, 400, "validation-error")["errors"]
    assert JobStatus.objects.filter(job=job).count() == 1


def test_a_surrogate_pair_is_one_character_and_fine(api):
    response = api.generic(
        "POST", "/api/jobs/", b'{"name": "\\ud83d\\ude00"}', content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "\U0001f600"


def test_a_huge_number_is_a_400_that_speaks_of_json_not_python(api):
    body = b'{"name": ' + b"9" * 5000 + b"}"
    response = api.generic("POST", "/api/jobs/", body, content_type="application/json")
    problem = assert_problem(response, 400, "malformed-body")
    assert "digits" in problem["detail"]
    assert "sys." not in problem["detail"] and "int_max_str" not in problem["detail"]


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "gzip, identity", "x-anything"])
def test_a_body_with_a_content_coding_is_a_415_naming_identity(api, coding):
    response = api.generic(
        "POST",
        "/api/jobs/",
        b'{"name": "x"}',
        content_type="application/json",
        HTTP_CONTENT_ENCODING=coding,
    )
    assert_problem(response, 415, "unsupported-media-type")
    assert response["Accept-Encoding"] == "identity"
    assert Job.objects.count() == 0


def test_identity_is_no_content_coding(api):
    response = api.generic(
        "POST",
        "/api/jobs/",
        b'{"name": "x"}',
        content_type="application/json",
        HTTP_CONTENT_ENCODING="identity",
    )
    assert response.status_code == 201


@pytest.mark.parametrize("query", ["format=xml", "format=json", "format=api", "x=1", "limit=1"])
def test_writes_take_no_query_parameter_and_do_nothing_with_one(api, query):
    job = services.job_create(name="kept")
    responses = [
        post_json(api, f"/api/jobs/?{query}", {"name": "not written"}),
        api.patch(f"/api/jobs/{job.pk}/?{query}", {"status_type": "RUNNING"}, format="json"),
        api.delete(f"/api/jobs/{job.pk}/?{query}"),
    ]
    name = query.split("=")[0]
    for response in responses:
        assert assert_problem(response, 400, "validation-error")["errors"] == {
            name: ["Unknown query parameter."]
        }
    assert list(Job.objects.values_list("name", flat=True)) == ["kept"]
    assert JobStatus.objects.filter(job=job).count() == 1


NAME_SAMPLES = [
    "etl",
    "  etl  ",
    "\u3000etl\u00a0",
    "\tetl",
    "etl\n",
    "\r\netl",
    "\x1fetl",
    "etl\x85",
    "e\tl",
    " ",
    "\t",
    "",
    "x" * 255,
    " " + "x" * 254,
    "x" * 256,
]


@pytest.mark.parametrize("name", NAME_SAMPLES)
def test_the_name_rule_and_the_descriptions_pattern_agree(api, name):
    # What the OpenAPI description promises (its pattern and lengths, as sent) is exactly
    # what the service accepts: surrounding control characters are refused, not trimmed.
    from command_service.serializers import NAME_PATTERN

    described = 1 <= len(name) <= 255 and re.fullmatch(NAME_PATTERN, name) is not None
    response = post_json(api, "/api/jobs/", {"name": name})
    assert (response.status_code == 201) is described, (name, response.content)
    if described:
        assert response.json()["name"] == name.strip()


def test_a_write_answers_a_consistency_token_of_a_position_at_or_past_it(api):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn()::text")
        (before,) = cursor.fetchone()
    response = api.post("/api/jobs/", {"name": "token"}, format="json")
    assert response.status_code == 201
    position = consistency.wal_position(response["Consistency-Token"])
    assert position >= consistency.wal_position(consistency.issue(before))


def test_a_write_whose_database_goes_away_after_commit_still_succeeds_without_a_token(
    api, monkeypatch
):
    """A 500 there would tell the client a committed write failed."""

    def gone() -> str:
        raise OperationalError("the database went away")

    monkeypatch.setattr(services, "write_position", gone)
    response = api.post("/api/jobs/", {"name": "committed"}, format="json")
    assert response.status_code == 201
    assert "Consistency-Token" not in response
    assert Job.objects.filter(name="committed").count() == 1
