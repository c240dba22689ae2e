"""The error contract: what the shared exception handler makes of each kind of failure."""

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.db import OperationalError
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions
from rest_framework.request import Request

from shared.api.problems import (
    PROBLEM_CONTENT_TYPE,
    ResourceNotFound,
    flatten_errors,
    handler403,
    problem_exception_handler,
)
from shared.domain.models import Job

NOT_FOUND_TYPE = "https://jobs.example/problems/not-found"


def handle(exc: Exception, path: str = "/api/jobs/7/") -> tuple[int, dict, dict]:
    django_request = RequestFactory().get(path)
    django_request.request_id = "req-1"  # type: ignore[attr-defined]
    response = problem_exception_handler(exc, {"request": Request(django_request)})
    assert response is not None
    assert response.content_type == PROBLEM_CONTENT_TYPE
    return response.status_code, response.data, dict(response.headers)


def handler_403_response() -> tuple[int, dict, dict]:
    response = handler403(RequestFactory().get("/x"))
    return response.status_code, json.loads(response.content), dict(response.headers)


def test_validation_error_lists_errors_per_field_and_summarises_them():
    status, body, _ = handle(exceptions.ValidationError({"status_type": ['"DONE" is bad.']}))
    assert status == 400
    assert body["type"] == "https://jobs.example/problems/validation-error"
    assert body["title"] == "Invalid request"
    assert body["errors"] == {"status_type": ['"DONE" is bad.']}
    assert body["detail"] == 'status_type: "DONE" is bad.'
    assert body["instance"] == "/api/jobs/7/"
    assert body["request_id"] == "req-1"


def test_domain_not_found_is_a_404_with_its_message():
    status, body, _ = handle(ResourceNotFound("Job 7 does not exist."))
    assert (status, body["detail"], body["title"]) == (404, "Job 7 does not exist.", "Not found")


@pytest.mark.parametrize("error", [Http404("No Job matches."), Job.DoesNotExist("SQL text")])
def test_djangos_not_found_is_the_domains_404_and_says_nothing_of_its_own(error):
    status, body, _ = handle(error)
    assert (status, body["type"], body["title"]) == (404, NOT_FOUND_TYPE, "Not found")
    assert body["detail"] == ResourceNotFound.default_detail == "The resource does not exist."


@pytest.mark.parametrize("handler", [handle, lambda _: handler_403_response()])
def test_forbidden_says_the_same_from_the_handler_and_from_django(handler):
    status, body, _ = handler(PermissionDenied("internal reason"))
    assert (status, body["detail"]) == (403, "Forbidden.")


def test_database_unavailable_is_a_503_with_retry_after():
    status, body, headers = handle(OperationalError("connection refused to 10.0.0.1"))
    assert status == 503
    assert headers["Retry-After"] == "1"
    assert "10.0.0.1" not in json.dumps(body)


def test_unexpected_error_is_a_500_that_reveals_nothing():
    status, body, _ = handle(ZeroDivisionError("secret internals /srv/app.py"))
    assert status == 500
    assert "secret" not in json.dumps(body)
    assert body["type"] == "https://jobs.example/problems/internal-error"


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        ({"name": ["Too long."]}, {"name": ["Too long."]}),
        (["Expected an object."], {"non_field_errors": ["Expected an object."]}),
        ({"items": [{"name": ["Bad."]}]}, {"items.0.name": ["Bad."]}),
        ({"a": {"b": ["Bad."]}}, {"a.b": ["Bad."]}),
    ],
)
def test_flatten_errors_names_nested_fields_with_dots(detail, expected):
    assert flatten_errors(detail) == expected
