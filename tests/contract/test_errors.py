"""The error shape, from each service and from nginx itself; nothing written on bad input."""

import pytest

from tests.contract.helpers import create_job, job_count


@pytest.mark.parametrize(
    "path", ["/index", "/api/", "/api/nothing/", "/api/jobs", "/api/jobs/abc/", "/assets"]
)
def test_unknown_paths_are_problem_404s_from_the_gateway(api, path):
    response = api.get(path)
    assert response.status_code == 404
    assert response.json()["instance"] == path


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/jobs/", "GET, HEAD, POST, OPTIONS"),
        ("DELETE", "/api/jobs/", "GET, HEAD, POST, OPTIONS"),
        ("POST", "/api/jobs/1/", "GET, HEAD, PATCH, DELETE, OPTIONS"),
        ("PUT", "/api/jobs/1/", "GET, HEAD, PATCH, DELETE, OPTIONS"),
        ("POST", "/api/jobs/1/statuses/", "GET, HEAD, OPTIONS"),
        ("PATCH", "/api/jobs/1/statuses/", "GET, HEAD, OPTIONS"),
    ],
)
def test_methods_a_path_does_not_serve_get_405_with_allow(api, method, path, allow):
    response = api.request(method, path, json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("ET", "/api/jobs/", "GET, HEAD, POST, OPTIONS"),
        ("POSTS", "/api/jobs/", "GET, HEAD, POST, OPTIONS"),
        ("OPTION", "/api/jobs/summary/", "GET, HEAD, OPTIONS"),
        ("STAT", "/api/jobs/stats/", "GET, HEAD, OPTIONS"),
        ("ATCH", "/api/jobs/1/", "GET, HEAD, PATCH, DELETE, OPTIONS"),
        ("HEADS", "/api/jobs/1/statuses/", "GET, HEAD, OPTIONS"),
        ("GE", "/", "GET, HEAD"),
        ("EAD", "/api/schema/", "GET, HEAD"),
    ],
)
def test_a_method_is_allowed_only_when_the_path_names_it_whole(raw_api, method, path, allow):
    """The gateway reads a path's methods from its Allow list: a part of a name is not it."""
    response = raw_api.request(method, path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/jobs/", "GET, HEAD, POST, OPTIONS"),
        ("/api/jobs/1/", "GET, HEAD, PATCH, DELETE, OPTIONS"),
        ("/api/jobs/1/statuses/", "GET, HEAD, OPTIONS"),
        ("/api/jobs/summary/", "GET, HEAD, OPTIONS"),
        ("/api/jobs/stats/", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_names_every_method_of_the_path_both_services_together(raw_api, path, allow):
    # raw_api: OPTIONS is HTTP's own, not an operation of the OpenAPI description.
    response = raw_api.options(path)
    assert (response.status_code, response.content) == (204, b"")
    assert response.headers["Allow"] == allow


def test_allow_appears_only_on_405s_and_options(api):
    assert "Allow" not in api.get("/api/jobs/").headers
    assert "Allow" not in api.post("/api/jobs/", json={"name": "no allow"}).headers


def test_an_oversized_body_is_a_413_from_the_gateway_and_writes_nothing(api, admin_db):
    before = job_count(admin_db)
    response = api.post("/api/jobs/", json={"name": "x" * 100_000})
    assert response.status_code == 413
    assert job_count(admin_db) == before


def test_a_validation_error_from_the_command_service(api, admin_db):
    before = job_count(admin_db)
    response = api.post("/api/jobs/", json={"name": "", "status": "RUNNING"})
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "https://jobs.example/problems/validation-error"
    assert set(body["errors"]) == {"name", "status"}
    assert job_count(admin_db) == before


def test_malformed_json_and_wrong_content_type(api, admin_db):
    before = job_count(admin_db)
    malformed = api.post(
        "/api/jobs/", content=b'{"name": "x"', headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    wrong_type = api.post("/api/jobs/", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 415
    assert job_count(admin_db) == before


def test_a_bad_query_parameter_from_the_query_service(api):
    response = api.get("/api/jobs/", params={"limit": "abc", "status": "DONE"})
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"limit", "status"}


def test_a_missing_job_from_either_service(api):
    assert api.get("/api/jobs/987654321/").json()["detail"] == "Job 987654321 does not exist."
    patched = api.patch("/api/jobs/987654321/", json={"status_type": "RUNNING"})
    assert patched.status_code == 404


def test_the_clients_request_id_is_kept_and_echoed(api):
    response = api.post("/api/jobs/", json={}, headers={"X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    assert response.json()["request_id"] == "trace-42"


def test_an_unsafe_request_id_is_replaced_by_the_gateways(api):
    response = api.get("/api/nothing/", headers={"X-Request-ID": "x" * 300})
    assert len(response.headers["X-Request-ID"]) == 32


@pytest.fixture
def stopped(system):
    """Stop one service for a test, and always start it again."""
    stopped_services = []

    def stop(name: str) -> None:
        system.services[name].stop()
        stopped_services.append(name)

    yield stop
    for name in stopped_services:
        system.services[name].start()


def test_with_the_query_service_stopped_reads_get_502_and_writes_still_work(api, stopped):
    stopped("query")
    response = api.get("/api/jobs/")
    assert response.status_code == 502
    assert response.headers["Retry-After"] == "1"
    assert response.json()["type"] == "https://jobs.example/problems/bad-gateway"
    create_job(api, "written-while-query-down")


def test_with_the_command_service_stopped_writes_get_502_and_reads_still_work(api, stopped):
    stopped("command")
    response = api.post("/api/jobs/", json={"name": "not-written"})
    assert response.status_code == 502
    assert api.get("/api/jobs/").status_code == 200
